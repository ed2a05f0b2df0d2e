package http

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/subword"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// oovWords is the vocabulary of the subword models of these tests.
var oovWords = []string{"the", "darcy", "elizabeth", "jane", "bingley", "wickham", "collins", "lydia", "pemberley", "netherfield"}

// subwordModelSet is a set trained "as fastText would": random n-gram
// rows and own rows, each word's row the mean of its own row and its
// n-grams' rows (the contract of vectors.Subwords), so that an unseen
// word sharing most n-grams with a known one lies next to it.
func subwordModelSet(t *testing.T, minn, maxn int) *vectors.Set {
	t.Helper()
	const dim, bucket = 16, 5000
	rng := rand.New(rand.NewPCG(15, 15))
	cfg := subword.Config{MinN: minn, MaxN: maxn, Bucket: bucket}
	rows := make([]float32, bucket*dim)
	for i := range rows {
		rows[i] = rng.Float32()*2 - 1
	}
	vecs := make([]float32, 0, len(oovWords)*dim)
	for _, w := range oovWords {
		grams, _ := cfg.Rows(nil, []byte(w), nil)
		v := make([]float32, dim)
		for k := range v {
			v[k] = rng.Float32()*2 - 1
		}
		for _, g := range grams {
			for k := range v {
				v[k] += rows[int(g)*dim+k]
			}
		}
		for k := range v {
			v[k] /= float32(1 + len(grams))
		}
		vecs = append(vecs, v...)
	}
	s, err := vectors.New(oovWords, dim, vecs)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetSubwords(&vectors.Subwords{Config: cfg, Rows: rows}); err != nil {
		t.Fatal(err)
	}
	return s
}

// startStoreAPI is startAPI keeping the store, to put models in it as a
// worker does.
func startStoreAPI(t *testing.T) (*realAPI, *bolt.Store) {
	t.Helper()
	store, err := bolt.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	hs := httptest.NewServer(newRealServer(store, 64<<20, slog.New(slog.DiscardHandler)))
	t.Cleanup(hs.Close)
	return &realAPI{t: t, base: hs.URL}, store
}

// storeModel stores set as a ready model named name and returns its id.
func storeModel(t *testing.T, store *bolt.Store, name string, set *vectors.Set) string {
	t.Helper()
	now := time.Now().UTC()
	m := &ophicleide.Model{ID: uuid.NewString(), Name: name, Status: ophicleide.StatusReady, URLs: []string{}, Created: now, Updated: now}
	if err := store.ImportModel(t.Context(), m, func(w io.Writer) error { return vectors.WriteCompact(w, set) }); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// errorSuggestions returns the suggestions of an error body.
func errorSuggestions(t *testing.T, r reply) []string {
	t.Helper()
	var eb struct {
		Errors []apiError `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &eb); err != nil || len(eb.Errors) != 1 {
		t.Fatalf("not one error: %d %s", r.status, r.body)
	}
	return eb.Errors[0].Suggestions
}

// TestOutOfVocabulary: a model with subwords answers every query for a
// word it has never seen (misspelt, inflected, capitalised as the
// tokenizer would not write it) from its n-grams and says so; known
// words are answered and marked as before; answers match openapi.yaml.
func TestOutOfVocabulary(t *testing.T) {
	a, store := startStoreAPI(t)
	id := storeModel(t, store, "austen-subwords", subwordModelSet(t, 3, 6))
	m := "/models/" + id

	r := a.do("POST", "/queries", "application/json", []byte(`{"model": "`+id+`", "word": "Darcys", "count": 3}`))
	var q struct {
		Query struct {
			ID      string
			Word    string
			OOV     *bool `json:"oov"`
			Results [][2]any
		}
	}
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &q) != nil {
		t.Fatalf("POST /queries darcys: %d %s", r.status, r.body)
	}
	if q.Query.OOV == nil || !*q.Query.OOV || q.Query.Word != "Darcys" || resultWords(q.Query.Results)[0] != "darcy" {
		t.Fatalf("query of darcys: %s", r.body)
	}
	decodeOK(t, "GET query", a.do("GET", "/queries/"+q.Query.ID, "", nil), &q)
	if q.Query.OOV == nil || !*q.Query.OOV {
		t.Fatalf("a stored query lost its oov: %+v", q)
	}
	r = a.do("POST", "/queries", "application/json", []byte(`{"model": "`+id+`", "word": "Darcy"}`))
	if r.status != http.StatusCreated || strings.Contains(string(r.body), "oov") {
		t.Fatalf("a known word is marked: %d %s", r.status, r.body)
	}

	var sim struct {
		Results [][2]any
		OOV     *bool `json:"oov"`
	}
	decodeOK(t, "similar", a.do("GET", m+"/similar?word=darcys&count=3", "", nil), &sim)
	if sim.OOV == nil || !*sim.OOV || resultWords(sim.Results)[0] != "darcy" || len(sim.Results) != 3 {
		t.Fatalf("similar darcys: %+v", sim)
	}
	sim.OOV = nil
	decodeOK(t, "similar known", a.do("GET", m+"/similar?word=darcy", "", nil), &sim)
	if sim.OOV != nil || slices.Contains(resultWords(sim.Results), "darcy") {
		t.Fatalf("similar darcy: %+v", sim)
	}

	var an struct {
		Results [][2]any
		OOV     []string `json:"oov"`
	}
	decodeOK(t, "analogy", a.do("GET", m+"/analogy?positive=Darcys,jane&negative=elizabet&count=3", "", nil), &an)
	if !slices.Equal(an.OOV, []string{"Darcys", "elizabet"}) || len(an.Results) != 3 || slices.Contains(resultWords(an.Results), "jane") {
		t.Fatalf("analogy: %+v", an)
	}
	an.OOV = nil
	decodeOK(t, "analogy 3cosmul", a.do("GET", m+"/analogy?positive=darcys,jane&negative=bingley&method=3cosmul", "", nil), &an)
	if !slices.Equal(an.OOV, []string{"darcys"}) {
		t.Fatalf("analogy 3cosmul: %+v", an)
	}
	an.OOV = nil
	decodeOK(t, "analogy known", a.do("GET", m+"/analogy?positive=darcy,jane&negative=bingley", "", nil), &an)
	if an.OOV != nil {
		t.Fatalf("known analogy marked: %+v", an)
	}

	var sy struct {
		Similarity float64
		OOV        []string `json:"oov"`
	}
	decodeOK(t, "similarity", a.do("GET", m+"/similarity?a=darcys&b=darcy", "", nil), &sy)
	if !slices.Equal(sy.OOV, []string{"darcys"}) || sy.Similarity < 0.3 {
		t.Fatalf("similarity darcys darcy: %+v", sy)
	}
	decodeOK(t, "similarity both", a.do("GET", m+"/similarity?a=darcys&b=wickhams", "", nil), &sy)
	if !slices.Equal(sy.OOV, []string{"darcys", "wickhams"}) {
		t.Fatalf("similarity of two unseen words: %+v", sy)
	}

	var vec struct {
		Vector []float32
		OOV    *bool `json:"oov"`
	}
	decodeOK(t, "vector", a.do("GET", m+"/vectors/darcys", "", nil), &vec)
	if vec.OOV == nil || !*vec.OOV || len(vec.Vector) != 16 {
		t.Fatalf("vector of darcys: %+v", vec)
	}

	var batch struct {
		Vectors map[string][]float32
		Unknown []string
		OOV     []string `json:"oov"`
	}
	decodeOK(t, "batch", a.do("POST", m+"/vectors", "application/json", []byte(`{"words": ["darcy", "darcys", "Darcys", "darcys", "x"]}`)), &batch)
	if !slices.Equal(batch.OOV, []string{"darcys", "Darcys", "x"}) || len(batch.Vectors) != 4 || len(batch.Unknown) != 0 {
		t.Fatalf("batch: %+v", batch)
	}
	if !slices.Equal(batch.Vectors["darcys"], batch.Vectors["Darcys"]) {
		t.Fatal("Darcys is not darcys to a unicode model")
	}

	var odd struct {
		Word string
		OOV  []string `json:"oov"`
	}
	decodeOK(t, "doesntmatch", a.do("GET", m+"/doesntmatch?words=darcy,janes,bingley,pemberleyy", "", nil), &odd)
	if !slices.Equal(odd.OOV, []string{"janes", "pemberleyy"}) {
		t.Fatalf("doesntmatch: %+v", odd)
	}

	// Hostile words: 1,000 characters, invalid UTF-8, punctuation only
	// (normalised away: the word as given is looked up).
	for _, w := range []string{strings.Repeat("darcy", 200), "\xff\xfe\xfd", "élan’s", "!!!"} {
		decodeOK(t, "similar hostile", a.do("GET", m+"/similar?word="+url.QueryEscape(w), "", nil), &sim)
		decodeOK(t, "vector hostile", a.do("GET", m+"/vectors/"+url.PathEscape(w), "", nil), &vec)
	}

	// A huge list: 1,000 unseen words of 1,000 characters each, in one
	// batch read, answered (each from its ~4,000 n-grams) in bounded time.
	var big strings.Builder
	big.WriteString(`{"words": [`)
	for i := range 1000 {
		if i > 0 {
			big.WriteString(",")
		}
		big.WriteString(`"` + strings.Repeat(string(rune('a'+i%26))+string(rune('a'+i/26%26)), 500) + `"`)
	}
	big.WriteString("]}")
	start := time.Now()
	r = a.do("POST", m+"/vectors", "application/json", []byte(big.String()))
	took := time.Since(start)
	if r.status == http.StatusOK {
		batch.Vectors, batch.OOV = nil, nil
		decodeOK(t, "huge batch", r, &batch)
		if len(batch.OOV) != 676 || len(batch.Vectors) != 676 { // 26*26 distinct words
			t.Fatalf("huge batch: %d oov, %d vectors", len(batch.OOV), len(batch.Vectors))
		}
	} else if r.status != http.StatusRequestEntityTooLarge {
		t.Fatalf("huge batch: %d %s", r.status, r.body)
	}
	if took > 10*time.Second {
		t.Fatalf("huge batch took %v", took)
	}
	t.Logf("1,000 words of 1,000 characters: %d in %v", r.status, took)

	// A word with no n-gram (minn 4: "<a>" is 3 characters) is unknown
	// even to a subword model: a 400 with suggestions.
	short := storeModel(t, store, "minn4", subwordModelSet(t, 4, 6))
	r = a.do("GET", "/models/"+short+"/similar?word=a", "", nil)
	wantError(t, "no n-gram", r, 400, "word", "has no character n-gram of 4 to 6 characters")
}

// TestUnknownWordSuggestions: a model without subwords refuses an
// unknown word with the words nearest by spelling, on every query.
func TestUnknownWordSuggestions(t *testing.T) {
	a, store := startStoreAPI(t)
	set, err := vectors.New(oovWords, 2, make([]float32, 2*len(oovWords)))
	if err != nil {
		t.Fatal(err)
	}
	for i := range oovWords {
		copy(set.Row(i), []float32{float32(i + 1), 1})
	}
	id := storeModel(t, store, "plain", set)
	m := "/models/" + id
	for _, c := range []struct {
		method, path, body, field string
	}{
		{"POST", "/queries", `{"model": "` + id + `", "word": "Darcys"}`, "word"},
		{"GET", m + "/similar?word=darcys", "", "word"},
		{"GET", m + "/analogy?positive=jane,darcys", "", "positive"},
		{"GET", m + "/analogy?positive=jane&negative=darcys&method=3cosmul", "", "negative"},
		{"GET", m + "/similarity?a=jane&b=darcys", "", "b"},
		{"GET", m + "/similarity?a=darcys&b=jane", "", "a"},
		{"GET", m + "/vectors/darcys", "", "word"},
	} {
		ctype := ""
		if c.body != "" {
			ctype = "application/json"
		}
		r := a.do(c.method, c.path, ctype, []byte(c.body))
		wantError(t, c.path, r, 400, c.field, `arcys" is not in the vocabulary of model "plain"`)
		if got := errorSuggestions(t, r); !slices.Equal(got, []string{"darcy"}) {
			t.Errorf("%s: suggestions %q, want [darcy]", c.path, got)
		}
	}
	r := a.do("GET", m+"/similar?word=wickam", "", nil)
	if got := errorSuggestions(t, r); !slices.Equal(got, []string{"wickham"}) {
		t.Errorf("wickam: suggestions %q", got)
	}
	// Nothing near, 1,000 characters, invalid UTF-8: a 400 without
	// suggestions.
	for _, w := range []string{"zzzzzzzz", strings.Repeat("darcy", 200), "\xff\xfe"} {
		r := a.do("GET", m+"/similar?word="+url.QueryEscape(w), "", nil)
		if r.status != 400 || errorSuggestions(t, r) != nil || strings.Contains(string(r.body), "suggestions") {
			t.Errorf("%.10q: %d %s", w, r.status, r.body)
		}
	}
	// Batch reads and the odd one out list unknown words, as before.
	var batch struct {
		Unknown []string
		OOV     []string `json:"oov"`
	}
	decodeOK(t, "batch", a.do("POST", m+"/vectors", "application/json", []byte(`{"words": ["darcy", "darcys"]}`)), &batch)
	if !slices.Equal(batch.Unknown, []string{"darcys"}) || batch.OOV == nil || len(batch.OOV) != 0 {
		t.Fatalf("batch: %+v", batch)
	}
}
