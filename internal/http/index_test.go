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
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/service"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// The API over a model with an approximate index: the real services and
// embedded store, indexes from minRows words (the threshold lowered so a
// test model is worth one), every answer checked against the OpenAPI
// document (a.do).

// clusteredText is n words of dim dimensions as a word2vec text file,
// rows drawn around 40 centres as trained vectors gather.
func clusteredText(n, dim int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 11))
	centres := make([][]float64, 40)
	for i := range centres {
		centres[i] = make([]float64, dim)
		for j := range centres[i] {
			centres[i][j] = rng.NormFloat64()
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %d\n", n, dim)
	for i := range n {
		c := centres[rng.IntN(len(centres))]
		fmt.Fprintf(&b, "w%d", i)
		for j := range dim {
			fmt.Fprintf(&b, " %.4f", c[j]+rng.NormFloat64())
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// startIndexedAPI is startAPI with approximate indexes from minRows words.
func startIndexedAPI(t *testing.T, minRows int) *realAPI {
	t.Helper()
	store, err := bolt.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	cache := service.NewCache(store, 256<<20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		cache.RunIndexes(ctx, service.IndexConfig{Store: store, MinRows: minRows, Log: slog.New(slog.DiscardHandler)})
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	time.Sleep(10 * time.Millisecond) // RunIndexes has started
	srv := NewServer(service.NewModels(store, cache, service.Config{Validate: validate}), service.NewQueries(store, cache),
		slog.New(slog.DiscardHandler), "test")
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &realAPI{t: t, srv: srv, base: hs.URL}
}

func (a *realAPI) getJSON(path string, v any) {
	a.t.Helper()
	r := a.do("GET", path, "", nil)
	if r.status != http.StatusOK {
		a.t.Fatalf("GET %s: %d %s", path, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		a.t.Fatal(err)
	}
}

// waitIndexReady polls GET /models/{id} until its index is ready, and
// returns the states seen on the way.
func (a *realAPI) waitIndexReady(id string) []string {
	a.t.Helper()
	var seen []string
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got struct{ Model ophicleide.Model }
		a.getJSON("/models/"+id, &got)
		m := got.Model
		if m.Index != nil {
			if len(seen) == 0 || seen[len(seen)-1] != m.Index.Status {
				seen = append(seen, m.Index.Status)
			}
			if m.Index.Status == ophicleide.IndexReady {
				return seen
			}
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("index: %+v after 30 s", m.Index)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type indexAnswer struct {
	Results []ophicleide.Result
	Exact   *bool
}

// TestIndexThroughAPI: GET /similar, /analogy and POST /search answer from
// the index once ready (recall@10 >= 0.98 against the exact scan on a
// sample), exact=true equals the exact scan whatever index there is,
// restrict stays exact, POST /queries keeps its shape; hostile exact
// values are 400s naming the field.
func TestIndexThroughAPI(t *testing.T) {
	const n, dim = 8000, 32
	text := clusteredText(n, dim, 4)
	ref, err := vectors.ReadText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	a := startIndexedAPI(t, 1000)
	r := a.do("POST", "/models/import?name=clustered", "application/octet-stream", []byte(text))
	if r.status != http.StatusCreated {
		t.Fatalf("import: %d %s", r.status, r.body)
	}
	var m ophicleide.Model
	json.Unmarshal(r.body, &m)
	seen := a.waitIndexReady(m.ID)
	t.Logf("index states seen: %v", seen)

	exactOf := func(word string) []ophicleide.Result {
		i, _ := ref.Index(word)
		var out []ophicleide.Result
		for _, nb := range ref.SearchExact(ref.Row(i), 10, 0, []int{i}) {
			out = append(out, ophicleide.Result{Word: nb.Word, Score: float64(nb.Score)})
		}
		return out
	}
	var found, total int
	for i := 0; i < n; i += n / 100 {
		w := fmt.Sprintf("w%d", i)
		want := exactOf(w)
		var ex, ax indexAnswer
		a.getJSON("/models/"+m.ID+"/similar?count=10&exact=true&word="+w, &ex)
		if ex.Exact == nil || !*ex.Exact || fmt.Sprint(ex.Results) != fmt.Sprint(want) {
			t.Fatalf("exact=true of %s: %v (exact %v), want the exact scan's %v", w, ex.Results, ex.Exact, want)
		}
		a.getJSON("/models/"+m.ID+"/similar?count=10&word="+w, &ax)
		if ax.Exact == nil || *ax.Exact {
			t.Fatalf("similar through the index says exact %v", ax.Exact)
		}
		var rx indexAnswer
		a.getJSON("/models/"+m.ID+"/similar?count=10&restrict=100&word="+w, &rx)
		if rx.Exact == nil || !*rx.Exact {
			t.Fatalf("similar restricted says exact %v", rx.Exact)
		}
		in := map[string]bool{}
		for _, r := range want {
			in[r.Word] = true
		}
		for _, r := range ax.Results {
			if in[r.Word] {
				found++
			}
		}
		total += len(want)
	}
	if rc := float64(found) / float64(total); rc < 0.98 {
		t.Errorf("recall@10 through GET /similar %.3f, want >= 0.98", rc)
	} else {
		t.Logf("recall@10 through GET /similar: %.4f", rc)
	}

	// Analogies: exact=true is the exact scan's 3CosAdd.
	var an indexAnswer
	a.getJSON("/models/"+m.ID+"/analogy?positive=w1,w2&negative=w3&count=5&exact=true", &an)
	want, _ := ref.Analogy([]string{"w1", "w2"}, []string{"w3"}, 5)
	for i, nb := range want {
		if i >= len(an.Results) || an.Results[i].Word != nb.Word {
			t.Fatalf("analogy exact=true: %v, want %v", an.Results, want)
		}
	}
	if an.Exact == nil || !*an.Exact {
		t.Errorf("analogy exact=true says exact %v", an.Exact)
	}
	a.getJSON("/models/"+m.ID+"/analogy?positive=w1,w2&negative=w3&count=5", &an)
	if len(an.Results) != 5 || an.Exact == nil || *an.Exact {
		t.Errorf("analogy through the index: %v, exact %v", an.Results, an.Exact)
	}
	a.getJSON("/models/"+m.ID+"/analogy?positive=w1,w2&negative=w3&count=5&method=3cosmul", &an)
	if an.Exact == nil || !*an.Exact {
		t.Errorf("3CosMul says exact %v", an.Exact)
	}

	// Search: "exact" says which answered.
	body := map[string]any{"queries": []map[string]any{{"word": "w5"}, {"positive": []string{"w1"}, "negative": []string{"w2"}}}, "count": 10}
	for _, c := range []struct {
		exact    any
		restrict int
		want     bool
	}{{nil, 0, false}, {false, 0, false}, {true, 0, true}, {nil, 100, true}, {nil, n, false}, {nil, 10 * n, false}} {
		b := map[string]any{}
		for k, v := range body {
			b[k] = v
		}
		if c.exact != nil {
			b["exact"] = c.exact
		}
		if c.restrict > 0 {
			b["restrict"] = c.restrict
		}
		r := a.search(m.ID, b)
		var sr searchReply
		if r.status != http.StatusOK || json.Unmarshal(r.body, &sr) != nil {
			t.Fatalf("search %v: %d %s", b, r.status, r.body)
		}
		if sr.Exact != c.want {
			t.Errorf("search exact %v restrict %d: answer says exact %v", c.exact, c.restrict, sr.Exact)
		}
		if c.want && c.restrict == 0 && fmt.Sprint(sr.Results[0].Results) != fmt.Sprint(toPairs(exactOf("w5"))) {
			t.Errorf("search exact: %v, want %v", sr.Results[0].Results, exactOf("w5"))
		}
	}

	// POST /queries: the original's shape, through the index.
	r = a.do("POST", "/queries", "application/json", []byte(`{"model":"`+m.ID+`","word":"w7"}`))
	var qr struct{ Query map[string]any }
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &qr) != nil {
		t.Fatalf("POST /queries: %d %s", r.status, r.body)
	}
	if q := qr.Query; q["exact"] != nil || q["word"] != "w7" || len(q["results"].([]any)) != 5 {
		t.Errorf("POST /queries changed shape: %s", r.body)
	}

	// Hostile exact values: refused, naming the field, never read as false.
	for _, v := range []string{"maybe", "TRUE", "2", "yes", "%00", strings.Repeat("t", 5000)} {
		for _, path := range []string{"/similar?word=w1&exact=", "/analogy?positive=w1&exact="} {
			r := a.do("GET", "/models/"+m.ID+path+url.QueryEscape(v), "", nil)
			if _, field := r.errorDetails(); r.status != http.StatusBadRequest || field != "exact" {
				t.Errorf("GET %s%.20s: %d %s, want 400 naming exact", path, v, r.status, r.body)
			}
		}
	}
	for _, v := range []string{`"true"`, `1`, `null`, `{}`} {
		r := a.do("POST", "/models/"+m.ID+"/search", "application/json", []byte(`{"queries":[{"word":"w1"}],"exact":`+v+`}`))
		if v == `null` {
			if r.status != http.StatusOK {
				t.Errorf("search exact null: %d %s", r.status, r.body)
			}
			continue
		}
		if _, field := r.errorDetails(); r.status != http.StatusBadRequest || field != "exact" {
			t.Errorf("search exact %s: %d %s, want 400 naming exact", v, r.status, r.body)
		}
	}
}

func toPairs(rs []ophicleide.Result) [][2]any {
	out := make([][2]any, len(rs))
	for i, r := range rs {
		out[i] = [2]any{r.Score, r.Word}
	}
	return out
}
