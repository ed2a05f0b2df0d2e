package http

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/ophicleide/ophicleide/internal/bolt"
)

// The OpenAPI checks read the Embedding Projector's TSV exports as text.
func init() {
	openapi3filter.RegisterBodyDecoder("text/tab-separated-values", openapi3filter.PlainBodyDecoder)
}

// importVectors imports a word2vec text model of the given rows ("word
// v1 v2 ...") and returns its id.
func (a *realAPI) importVectors(name string, rows ...string) string {
	a.t.Helper()
	dim := len(strings.Fields(rows[0])) - 1
	body := fmt.Sprintf("%d %d\n%s\n", len(rows), dim, strings.Join(rows, "\n"))
	r := a.do("POST", "/models/import?name="+name, "application/octet-stream", []byte(body))
	if r.status != http.StatusCreated {
		a.t.Fatalf("import: %d %s", r.status, r.body)
	}
	var m struct{ ID string }
	if err := json.Unmarshal(r.body, &m); err != nil {
		a.t.Fatal(err)
	}
	return m.ID
}

// planeRows is a model of dimension 2 whose answers are worked out by
// hand: the, a point right; cat, dog up; car, bus left.
var planeRows = []string{"the 1 0", "a 0.9 0.1", "cat 0 1", "dog 0.1 1", "car -1 0", "bus -1 0.1"}

func decodeOK(t *testing.T, what string, r reply, v any) {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: %d %s", what, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: %v: %s", what, err, r.body)
	}
}

func resultWords(rs [][2]any) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r[1].(string))
	}
	return out
}

// badInts are the hostile values of a whole-number parameter whose
// lowest is 1 and highest is max.
func badInts(max int) []string {
	return []string{"0", "-1", strconv.Itoa(max + 1), "abc", "1.5", "99999999999999999999999", "%20", "1e3", "0x10"}
}

func TestAnalysisSimilarAndAnalogyOptions(t *testing.T) {
	a := startAPI(t, nil)
	id := a.importVectors("plane", planeRows...)
	m := "/models/" + id

	var sim struct{ Results [][2]any }
	decodeOK(t, "restrict 2", a.do("GET", m+"/similar?word=dog&count=5&restrict=2", "", nil), &sim)
	if w := resultWords(sim.Results); strings.Join(w, ",") != "a,the" {
		t.Fatalf("dog among the 2 most frequent: %v", w)
	}
	decodeOK(t, "restrict huge", a.do("GET", m+"/similar?word=dog&count=5&restrict=100000000", "", nil), &sim)
	if len(sim.Results) != 5 || sim.Results[0][1] != "cat" {
		t.Fatalf("restrict above the vocabulary: %v", sim.Results)
	}
	for _, v := range badInts(100_000_000) {
		wantError(t, "restrict="+v, a.do("GET", m+"/similar?word=dog&restrict="+url.QueryEscape(v), "", nil), 400, "restrict", "restrict must be")
		wantError(t, "analogy restrict="+v, a.do("GET", m+"/analogy?positive=dog&restrict="+url.QueryEscape(v), "", nil), 400, "restrict", "restrict must be")
	}

	// 3CosMul: cat - the + car. By hand, for dog, a, bus.
	var an struct{ Results [][2]any }
	decodeOK(t, "3cosmul", a.do("GET", m+"/analogy?positive=cat,car&negative=the&method=3cosmul&count=3", "", nil), &an)
	if w := resultWords(an.Results); len(w) != 3 || w[0] != "bus" {
		t.Fatalf("3cosmul: %v", an.Results)
	}
	for _, method := range []string{"3cosadd", "3CosMul", ""} {
		decodeOK(t, "method "+method, a.do("GET", m+"/analogy?positive=cat,car&negative=the&method="+method, "", nil), &an)
	}
	decodeOK(t, "3cosmul restrict", a.do("GET", m+"/analogy?positive=cat&method=3cosmul&restrict=2", "", nil), &an)
	if w := resultWords(an.Results); strings.Join(w, ",") != "a,the" && strings.Join(w, ",") != "the,a" {
		t.Fatalf("3cosmul restrict 2: %v", an.Results)
	}
	for _, method := range []string{"cosmul", "3cosadd,3cosmul", strings.Repeat("x", 10000)} {
		wantError(t, "method "+method[:min(10, len(method))], a.do("GET", m+"/analogy?positive=cat&method="+method, "", nil), 400, "method", "method must be 3cosadd or 3cosmul")
	}
	wantError(t, "3cosmul unknown", a.do("GET", m+"/analogy?positive=cat&negative=zebra&method=3cosmul", "", nil), 400, "negative", `"zebra"`)
	wantError(t, "3cosmul both", a.do("GET", m+"/analogy?positive=cat&negative=cat&method=3cosmul", "", nil), 400, "negative", "both positive and negative")
	long := strings.TrimSuffix(strings.Repeat("cat,", 1001), ",")
	wantError(t, "analogy of 1001 words", a.do("GET", m+"/analogy?positive="+long, "", nil), 400, "positive", "at most 1000")
}

func TestAnalysisDoesntMatch(t *testing.T) {
	a := startAPI(t, nil)
	m := "/models/" + a.importVectors("plane", planeRows...)
	var odd struct {
		Word  string
		Words []struct {
			Word  string
			Score float64
		}
		Unknown []string
	}
	decodeOK(t, "doesntmatch", a.do("GET", m+"/doesntmatch?words=cat,dog,zebra,car,cat,Dog", "", nil), &odd)
	if odd.Word != "car" || len(odd.Words) != 3 || odd.Words[0].Word != "cat" || len(odd.Unknown) != 1 || odd.Unknown[0] != "zebra" {
		t.Fatalf("doesntmatch: %+v", odd)
	}
	for _, w := range odd.Words[:2] {
		if w.Score <= odd.Words[2].Score {
			t.Fatalf("the odd one is not the lowest: %+v", odd)
		}
	}
	wantError(t, "two known", a.do("GET", m+"/doesntmatch?words=cat,dog,zebra", "", nil), 400, "words", "at least 3 different words")
	wantError(t, "repeated", a.do("GET", m+"/doesntmatch?words=cat,cat,cat", "", nil), 400, "words", "at least 3")
	wantError(t, "none", a.do("GET", m+"/doesntmatch?words=", "", nil), 400, "words", "required")
	wantError(t, "commas", a.do("GET", m+"/doesntmatch?words=,,,", "", nil), 400, "words", "")
	many := strings.TrimSuffix(strings.Repeat("cat,", 1001), ",")
	wantError(t, "1001 words", a.do("GET", m+"/doesntmatch?words="+many, "", nil), 400, "words", "at most 1000")
	wantError(t, "unknown model", a.do("GET", "/models/00000000-0000-0000-0000-000000000000/doesntmatch?words=a,b,c", "", nil), 404, "", "not found")
	wantError(t, "not a uuid", a.do("GET", "/models/nope/doesntmatch?words=a,b,c", "", nil), 404, "", "not found")
}

func TestAnalysisBatchVectors(t *testing.T) {
	a := startAPI(t, nil)
	m := "/models/" + a.importVectors("plane", planeRows...)
	var vb struct {
		Dim     int
		Vectors map[string][]float64
		Unknown []string
	}
	decodeOK(t, "vectors", a.do("POST", m+"/vectors", "application/json", []byte(`{"words": ["dog", "zz", "dog", "Cat"]}`)), &vb)
	if vb.Dim != 2 || len(vb.Vectors) != 2 || vb.Vectors["dog"][0] != 0.1 || vb.Vectors["Cat"][1] != 1 || len(vb.Unknown) != 1 || vb.Unknown[0] != "zz" {
		t.Fatalf("vectors: %+v", vb)
	}
	var one struct{ Vector []float64 }
	decodeOK(t, "one vector", a.do("GET", m+"/vectors/dog", "", nil), &one)
	if fmt.Sprint(one.Vector) != fmt.Sprint(vb.Vectors["dog"]) {
		t.Fatalf("batch %v, single %v", vb.Vectors["dog"], one.Vector)
	}
	many, _ := json.Marshal(map[string]any{"words": strings.Split(strings.Repeat("dog,", 1000)+"cat", ",")})
	wantError(t, "1001 words", a.do("POST", m+"/vectors", "application/json", many), 400, "words", "at most 1000")
	thousand, _ := json.Marshal(map[string]any{"words": strings.Split(strings.TrimSuffix(strings.Repeat("dog,", 1000), ","), ",")})
	decodeOK(t, "1000 words", a.do("POST", m+"/vectors", "application/json", thousand), &vb)
	for _, tc := range []struct{ body, field, details string }{
		{`{"words": []}`, "words", "required"},
		{`{}`, "words", "required"},
		{`{"words": [""]}`, "words", "blank"},
		{`{"words": ["  "]}`, "words", "blank"},
		{`{"words": "dog"}`, "words", ""},
		{`{"words": [1]}`, "words", ""},
		{`{"words": ["dog"], "extra": 1}`, "", `unknown field "extra"`},
		{`{"words": ["dog"]} {}`, "", "more than one"},
		{`[`, "", ""},
	} {
		r := a.do("POST", m+"/vectors", "application/json", []byte(tc.body))
		var eb struct{ Errors []apiError }
		json.Unmarshal(r.body, &eb)
		if r.status != 400 || len(eb.Errors) != 1 || eb.Errors[0].Field != tc.field || !strings.Contains(eb.Errors[0].Details, tc.details) {
			t.Errorf("%s: %d %s", tc.body, r.status, r.body)
		}
	}
	if r := a.do("POST", m+"/vectors", "text/plain", []byte(`{"words": ["dog"]}`)); r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d %s", r.status, r.body)
	}
	huge := []byte(`{"words": ["` + strings.Repeat("x", 2<<20) + `"]}`)
	if r := a.do("POST", m+"/vectors", "application/json", huge); r.status != http.StatusRequestEntityTooLarge && r.status != 400 {
		t.Errorf("a 2 MiB body: %d", r.status)
	}
	wantError(t, "unknown model", a.do("POST", "/models/00000000-0000-0000-0000-000000000000/vectors", "application/json", []byte(`{"words": ["a"]}`)), 404, "", "not found")
}

func TestAnalysisMap(t *testing.T) {
	a := startAPI(t, nil)
	id := a.importVectors("plane", planeRows...)
	m := "/models/" + id
	type wordMap struct {
		Method string
		Words  []string
		Points [][2]float64
	}
	var all, two, again wordMap
	decodeOK(t, "map", a.do("GET", m+"/map", "", nil), &all)
	if all.Method != "pca" || len(all.Words) != 6 || len(all.Points) != 6 || all.Words[0] != "the" {
		t.Fatalf("map: %+v", all)
	}
	// Along x: right (the, a) against left (car, bus).
	if all.Points[0][0]*all.Points[4][0] >= 0 || all.Points[0][0]*all.Points[1][0] <= 0 {
		t.Fatalf("the, a and car not split by the first component: %+v", all.Points)
	}
	decodeOK(t, "map 2", a.do("GET", m+"/map?count=2", "", nil), &two)
	decodeOK(t, "map again", a.do("GET", m+"/map?count=5000", "", nil), &again)
	if fmt.Sprint(two.Points) != fmt.Sprint(all.Points[:2]) || fmt.Sprint(again) != fmt.Sprint(all) {
		t.Fatalf("maps differ: %+v %+v %+v", all, two, again)
	}
	for _, v := range badInts(5000) {
		wantError(t, "count="+v, a.do("GET", m+"/map?count="+url.QueryEscape(v), "", nil), 400, "count", "count must be")
	}
	// Not ready: a queued model is a 404, as for the other queries.
	r := a.do("POST", "/models", "application/json", []byte(`{"name": "later", "urls": ["https://example.com/book.txt"]}`))
	var q struct{ ID string }
	json.Unmarshal(r.body, &q)
	wantError(t, "queued", a.do("GET", "/models/"+q.ID+"/map", "", nil), 404, "", "not ready")
	wantError(t, "queued vectors", a.do("POST", "/models/"+q.ID+"/vectors", "application/json", []byte(`{"words": ["a"]}`)), 404, "", "not ready")
	// Deleted: gone with the model.
	if r := a.do("DELETE", m, "", nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d", r.status)
	}
	wantError(t, "deleted", a.do("GET", m+"/map", "", nil), 404, "", "not found")
}

func TestAnalysisCompare(t *testing.T) {
	a := startAPI(t, nil)
	x := a.importVectors("plane", planeRows...)
	// The same words turned a quarter: the alignment undoes it, and car
	// moved (it points up here).
	turned := []string{"the 0 1", "a -0.1 0.9", "cat -1 0", "dog -1 0.1", "car -1 0", "bus -0.1 -1", "new 1 1"}
	y := a.importVectors("turned", turned...)
	type cmp struct {
		A, B            struct{ ID, Name string }
		Shared, Aligned int
		Word            string
		Neighbours      *struct {
			A, B    [][2]any
			Overlap []string
			Jaccard float64
		}
		Moved []struct {
			Word     string
			Distance float64
			A, B     []string
		}
	}
	var c cmp
	decodeOK(t, "compare", a.do("GET", "/compare?a="+x+"&b="+y+"&moved=2&word=cat&count=2", "", nil), &c)
	if c.A.ID != x || c.B.Name != "turned" || c.Shared != 6 || c.Aligned != 6 || c.Word != "cat" || c.Neighbours == nil || len(c.Moved) != 2 {
		t.Fatalf("compare: %+v", c)
	}
	if c.Moved[0].Word != "car" || c.Moved[0].Distance < 0.5 || len(c.Moved[0].A) != 3 || len(c.Moved[0].B) != 3 {
		t.Fatalf("moved: %+v", c.Moved)
	}
	if n := c.Neighbours; len(n.A) != 2 || len(n.B) != 2 || n.Jaccard < 0 || n.Jaccard > 1 {
		t.Fatalf("neighbours: %+v", n)
	}
	decodeOK(t, "same model", a.do("GET", "/compare?a="+x+"&b="+x+"&word=dog", "", nil), &c)
	if len(c.Moved) != 6 || c.Moved[0].Distance > 1e-6 || c.Neighbours.Jaccard != 1 || len(c.Neighbours.Overlap) != 5 {
		t.Fatalf("same model: %+v", c)
	}
	c = cmp{}
	if decodeOK(t, "no word", a.do("GET", "/compare?a="+x+"&b="+y, "", nil), &c); c.Neighbours != nil || c.Word != "" {
		t.Fatalf("no word: %+v", c)
	}
	three := a.importVectors("three", "the 1 0 0", "cat 0 1 0", "car 0 0 1")
	wantError(t, "dims", a.do("GET", "/compare?a="+x+"&b="+three, "", nil), 400, "b", "dimension")
	wantError(t, "no a", a.do("GET", "/compare?b="+y, "", nil), 400, "a", "required")
	wantError(t, "no b", a.do("GET", "/compare?a="+x+"&b=%20", "", nil), 400, "b", "required")
	wantError(t, "unknown a", a.do("GET", "/compare?a=nope&b="+y, "", nil), 404, "", "not found")
	wantError(t, "unknown b", a.do("GET", "/compare?a="+x+"&b=00000000-0000-0000-0000-000000000000", "", nil), 404, "", "not found")
	wantError(t, "word in a only", a.do("GET", "/compare?a="+y+"&b="+x+"&word=new", "", nil), 400, "word", `model "plane"`)
	wantError(t, "unknown word", a.do("GET", "/compare?a="+x+"&b="+y+"&word=zebra", "", nil), 400, "word", `"zebra"`)
	for _, v := range badInts(100) {
		wantError(t, "moved="+v, a.do("GET", "/compare?a="+x+"&b="+y+"&moved="+url.QueryEscape(v), "", nil), 400, "moved", "moved must be")
		wantError(t, "count="+v, a.do("GET", "/compare?a="+x+"&b="+y+"&word=cat&count="+url.QueryEscape(v), "", nil), 400, "count", "count must be")
	}
}

func TestAnalysisExportTSV(t *testing.T) {
	a := startAPI(t, nil)
	m := "/models/" + a.importVectors("plane", planeRows...)
	r := a.do("GET", m+"/export?format=tsv", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "text/tab-separated-values; charset=utf-8" || !strings.Contains(r.header.Get("Content-Disposition"), `plane.tsv"`) {
		t.Fatalf("tsv: %d %v", r.status, r.header)
	}
	if want := "1\t0\n0.9\t0.1\n0\t1\n0.1\t1\n-1\t0\n-1\t0.1\n"; string(r.body) != want {
		t.Fatalf("vectors.tsv %q, want %q", r.body, want)
	}
	r = a.do("GET", m+"/export?format=TSV-metadata", "", nil)
	if r.status != 200 || string(r.body) != "the\na\ncat\ndog\ncar\nbus\n" || !strings.Contains(r.header.Get("Content-Disposition"), `plane.metadata.tsv"`) {
		t.Fatalf("metadata.tsv: %d %v %q", r.status, r.header, r.body)
	}
	wantError(t, "csv", a.do("GET", m+"/export?format=csv", "", nil), 400, "format", "tsv or tsv-metadata")
}

// BenchmarkAnalysisHTTP times GET /compare and GET /map through the real
// server and services on two imported random models of OPH_BENCH_WORDS
// (10,000) words of dimension 100, the second another random set of the
// same words (so every word moved). first-ms is the first call (the map
// computed, the vectors loaded), the rest are warm.
func BenchmarkAnalysisHTTP(b *testing.B) {
	words := 10000
	if v, err := strconv.Atoi(os.Getenv("OPH_BENCH_WORDS")); err == nil && v > 0 {
		words = v
	}
	t := &testing.T{}
	a := startBenchAPI(b, t)
	rng := rand.New(rand.NewPCG(1, 2))
	model := func(name string) string {
		var sb strings.Builder
		fmt.Fprintf(&sb, "%d 100\n", words)
		for i := range words {
			fmt.Fprintf(&sb, "w%d", i)
			for range 100 {
				fmt.Fprintf(&sb, " %.4f", rng.Float32()*2-1)
			}
			sb.WriteByte('\n')
		}
		r := a.unchecked("POST", "/models/import?name="+name, "application/octet-stream", []byte(sb.String()))
		var m struct{ ID string }
		if err := json.Unmarshal(r.body, &m); err != nil || r.status != http.StatusCreated {
			b.Fatalf("import: %d %s", r.status, r.body)
		}
		return m.ID
	}
	x, y := model("a"), model("b")
	for _, bc := range []struct{ name, path string }{
		{"compare", "/compare?a=" + x + "&b=" + y + "&word=w5&moved=20"},
		{"map", "/models/" + x + "/map?count=5000"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			start := time.Now()
			if r := a.unchecked("GET", bc.path, "", nil); r.status != 200 {
				b.Fatalf("%d %s", r.status, r.body)
			}
			first := time.Since(start)
			b.ResetTimer()
			for b.Loop() {
				if r := a.unchecked("GET", bc.path, "", nil); r.status != 200 {
					b.Fatalf("%d %s", r.status, r.body)
				}
			}
			b.ReportMetric(float64(first.Microseconds())/1000, "first-ms")
		})
	}
}

// startBenchAPI is startAPI for a benchmark.
func startBenchAPI(b *testing.B, t *testing.T) *realAPI {
	store, err := bolt.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	srv := newRealServer(store, 256<<20, slog.New(slog.DiscardHandler))
	hs := httptest.NewServer(srv)
	b.Cleanup(hs.Close)
	return &realAPI{t: t, srv: srv, base: hs.URL}
}
