package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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
)

// POST /models/{id}/search over the real services and a real embedded
// store; the answers are checked against the OpenAPI document (a.do).

// Search answers each word query as Nearest does, for the handlers'
// tests over the in-memory services (memory_test.go's fake).
func (m *memService) Search(ctx context.Context, req ophicleide.SearchRequest) ([]ophicleide.SearchAnswer, error) {
	m.note("search %d count %d restrict %d exact %v", len(req.Queries), req.Count, req.Restrict, req.Exact)
	if _, _, err := m.ready(req.ModelID); err != nil {
		return nil, err
	}
	out := make([]ophicleide.SearchAnswer, len(req.Queries))
	for i, q := range req.Queries {
		rs, err := m.Nearest(ctx, req.ModelID, q.Word, req.Count)
		out[i] = ophicleide.SearchAnswer{Results: rs, Err: err}
	}
	return out, nil
}

// searchReply is the body of a search's answer.
type searchReply struct {
	Exact   bool
	Results []struct {
		Word               string
		Positive, Negative []string
		OOV                any
		Results            [][2]any
		Error              *apiError
	}
}

func (a *realAPI) search(id string, body any, headers ...string) reply {
	a.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		a.t.Fatal(err)
	}
	return a.do("POST", "/models/"+id+"/search", "application/json", b, headers...)
}

// TestSearchEqualsSingleRequests: a batch of words, analogies and
// vectors answers what GET /similar and GET /analogy answer one at a
// time, in order, with per-query errors for unknown words.
func TestSearchEqualsSingleRequests(t *testing.T) {
	a := startAPI(t, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	rows := make([]string, 300)
	for i := range rows {
		rows[i] = fmt.Sprintf("w%d %.3f %.3f %.3f %.3f %.3f", i, rng.Float64()-0.5, rng.Float64()-0.5, rng.Float64()-0.5, rng.Float64()-0.5, rng.Float64()-0.5)
	}
	id := a.importVectors("random", rows...)
	m := "/models/" + id
	var queries []map[string]any
	for i := range 40 {
		switch i % 4 {
		case 0, 1:
			queries = append(queries, map[string]any{"word": fmt.Sprintf("w%d", i*7)})
		case 2:
			queries = append(queries, map[string]any{"positive": []string{fmt.Sprintf("w%d", i), fmt.Sprintf("w%d", i+1)}, "negative": []string{fmt.Sprintf("w%d", i+100)}})
		case 3:
			queries = append(queries, map[string]any{"word": fmt.Sprintf("w%dx", i)}) // unknown, w%d suggested
		}
	}
	var v struct{ Vector []float32 }
	decodeOK(t, "vector", a.do("GET", m+"/vectors/w5", "", nil), &v)
	queries = append(queries, map[string]any{"vector": v.Vector})
	for _, method := range []string{"", "3cosmul"} {
		var got searchReply
		decodeOK(t, "search", a.search(id, map[string]any{"queries": queries, "count": 7, "restrict": 200, "method": method, "exact": true}), &got)
		if !got.Exact || len(got.Results) != len(queries) {
			t.Fatalf("exact %v, %d answers to %d queries", got.Exact, len(got.Results), len(queries))
		}
		for i, q := range queries {
			g := got.Results[i]
			var path string
			switch {
			case q["word"] != nil:
				path = m + "/similar?" + url.Values{"word": {q["word"].(string)}, "count": {"7"}, "restrict": {"200"}}.Encode()
			case q["positive"] != nil:
				path = m + "/analogy?" + url.Values{"positive": {strings.Join(q["positive"].([]string), ",")}, "negative": {strings.Join(q["negative"].([]string), ",")},
					"count": {"7"}, "restrict": {"200"}, "method": {method}}.Encode()
			default:
				// The vector of w5: w5 first, then its neighbours.
				var sim struct{ Results [][2]any }
				decodeOK(t, "similar w5", a.do("GET", m+"/similar?word=w5&count=6&restrict=200", "", nil), &sim)
				if w := resultWords(g.Results); len(w) != 7 || w[0] != "w5" || strings.Join(w[1:], ",") != strings.Join(resultWords(sim.Results), ",") {
					t.Errorf("vector of w5: %v, similar %v", w, resultWords(sim.Results))
				}
				continue
			}
			single := a.do("GET", path, "", nil)
			if single.status != http.StatusOK {
				if g.Error == nil {
					t.Fatalf("query %d: %s answered, single %d %s", i, resultWords(g.Results), single.status, single.body)
				}
				d, f := single.errorDetails()
				if g.Error.Status != single.status || g.Error.Details != d || g.Error.Field != fmt.Sprintf("queries[%d].%s", i, f) || len(g.Error.Suggestions) == 0 {
					t.Errorf("query %d: error %+v, single %d %s", i, g.Error, single.status, single.body)
				}
				continue
			}
			var want struct{ Results [][2]any }
			decodeOK(t, path, single, &want)
			if g.Error != nil || fmt.Sprint(g.Results) != fmt.Sprint(want.Results) {
				t.Errorf("query %d (%v): %v %+v; single %v", i, q, g.Results, g.Error, want.Results)
			}
			if q["word"] != nil && g.Word != q["word"] || q["positive"] != nil && len(g.Positive) != 2 {
				t.Errorf("query %d echoed as %+v", i, g)
			}
		}
	}
}

func TestSearchHostile(t *testing.T) {
	a := startAPI(t, nil)
	id := a.importVectors("plane", planeRows...)
	word := []map[string]any{{"word": "cat"}}
	many := make([]map[string]any, 1001)
	for i := range many {
		many[i] = map[string]any{"word": "cat"}
	}
	for _, c := range []struct {
		what           string
		body           string
		status         int
		field, details string
	}{
		{"1001 queries", mustJSON(t, map[string]any{"queries": many}), 400, "queries", "at most 1000 queries"},
		{"empty list", `{"queries": []}`, 400, "queries", "at least one query"},
		{"no list", `{}`, 400, "queries", "at least one query"},
		{"count 0", mustJSON(t, map[string]any{"queries": word, "count": 0}), 400, "count", "count must be"},
		{"huge count", mustJSON(t, map[string]any{"queries": word, "count": 1 << 40}), 400, "count", "count must be"},
		{"count too big for int", `{"queries": [{"word": "cat"}], "count": 99999999999999999999999}`, 400, "count", `"count" must be of type integer`},
		{"restrict -1", mustJSON(t, map[string]any{"queries": word, "restrict": -1}), 400, "restrict", "restrict must be"},
		{"method", mustJSON(t, map[string]any{"queries": word, "method": "cosmul"}), 400, "method", "method must be"},
		{"NaN", `{"queries": [{"vector": [1, NaN]}]}`, 400, "", "not valid JSON"},
		{"Infinity", `{"queries": [{"vector": [1, Infinity]}]}`, 400, "", "not valid JSON"},
		{"beyond float32", `{"queries": [{"vector": [1, 1e39]}]}`, 400, "queries.vector", "1e39 is out of their range"},
		{"beyond float64", `{"queries": [{"vector": [1, -1e999]}]}`, 400, "queries.vector", "out of their range"},
		{"wrong dim", `{"queries": [{"word": "cat"}, {"vector": [1, 2, 3]}]}`, 400, "queries[1].vector", "has 3 values; the model's vectors have 2"},
		{"zero vector", `{"queries": [{"vector": [0, 0]}]}`, 400, "queries[0].vector", "is zero"},
		{"empty vector", `{"queries": [{"vector": []}]}`, 400, "queries[0].vector", "empty"},
		{"two kinds", `{"queries": [{"word": "cat", "positive": ["dog"]}]}`, 400, "queries[0]", "more than one"},
		{"empty query", `{"queries": [{}]}`, 400, "queries[0]", "is empty"},
		{"blank word", `{"queries": [{"word": "  "}]}`, 400, "queries[0].word", "blank"},
		{"word not a string", `{"queries": [{"word": 5}]}`, 400, "queries.word", "must be of type string"},
		{"unknown field", `{"queries": [{"word": "cat"}], "n": 10}`, 400, "", `unknown field "n"`},
		{"unknown query field", `{"queries": [{"word": "cat", "wrod": "x"}]}`, 400, "", `unknown field "wrod"`},
		{"two values", `{"queries": [{"word": "cat"}]} {}`, 400, "", "more than one JSON value"},
		{"truncated", `{"queries": [{"word": "ca`, 400, "", "ends too soon"},
		{"too large", `{"queries": [{"vector": [` + strings.Repeat("0,", maxSearchBody/2) + `0]}]}`, 413, "", "larger than"},
	} {
		r := a.do("POST", "/models/"+id+"/search", "application/json", []byte(c.body))
		wantError(t, c.what, r, c.status, c.field, c.details)
	}
	r := a.do("POST", "/models/"+id+"/search", "text/plain", []byte(`{"queries": [{"word": "cat"}]}`))
	if r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d %s", r.status, r.body)
	}

	wantError(t, "unknown model", a.search("6b0c5a8e-1f0e-4b7a-9d55-3f1f6f0d2a11", map[string]any{"queries": word}), 404, "", "not found")
	wantError(t, "not a uuid", a.search("x", map[string]any{"queries": word}), 404, "", "not found")
	cr := a.do("POST", "/models", "application/json", []byte(`{"name": "queued", "urls": ["https://example.org/a.txt"]}`))
	var queued struct{ ID string }
	if err := json.Unmarshal(cr.body, &queued); cr.status != http.StatusCreated || err != nil {
		t.Fatalf("POST /models: %d %s", cr.status, cr.body)
	}
	wantError(t, "not ready", a.search(queued.ID, map[string]any{"queries": word}), 404, "", "is not ready (status queued)")

	// 1,000 unknown words: each its own error, answered in bounded time
	// (only the first 100 get suggestions).
	unknown := make([]map[string]any, 1000)
	for i := range unknown {
		unknown[i] = map[string]any{"word": fmt.Sprintf("cats%d", i%10)}
	}
	start := time.Now()
	var got searchReply
	decodeOK(t, "1000 unknown", a.search(id, map[string]any{"queries": unknown}), &got)
	t.Logf("1,000 unknown words: %v", time.Since(start))
	for i, g := range got.Results {
		if g.Error == nil || g.Error.Status != 400 || g.Error.Field != fmt.Sprintf("queries[%d].word", i) || (len(g.Error.Suggestions) > 0) != (i < 100) {
			t.Fatalf("unknown word %d: %+v", i, g)
		}
	}
	// The largest count is answered with all the words there are.
	decodeOK(t, "count 100", a.search(id, map[string]any{"queries": word, "count": 100}), &got)
	if len(got.Results) != 1 || len(got.Results[0].Results) != len(planeRows)-1 {
		t.Fatalf("count 100: %+v", got)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSearchWithKeys: a reader may search another key's model, a caller
// without a key may not.
func TestSearchWithKeys(t *testing.T) {
	a := startAuthAPI(t, AuthConfig{Keys: testKeyring(t)})
	id := a.importAs(owner, "owned", "the", "cat", "dog", "car")
	body := map[string]any{"queries": []map[string]any{{"word": "cat"}, {"word": "cow"}}, "count": 2}
	for _, c := range []caller{reader, other, owner, admin} {
		var got searchReply
		decodeOK(t, c.name, a.search(id, body, c.headers...), &got)
		if len(got.Results) != 2 || len(got.Results[0].Results) != 2 || got.Results[1].Error == nil {
			t.Errorf("%s: %+v", c.name, got)
		}
	}
	wantError(t, "no key", a.search(id, body), 401, "", "needs an API key")
}

// TestSearchRateLimited: a search counts one read a query; a request
// never needs more than a full bucket, and what it takes beyond is owed.
func TestSearchRateLimited(t *testing.T) {
	a := newRateAPI(t, RateLimits{Read: Rate{PerSecond: 1, Burst: 10}})
	who := as{key: "k"}
	send := func(n int) int {
		qs := make([]map[string]any, n)
		for i := range qs {
			qs[i] = map[string]any{"word": "w"}
		}
		r := httptestRequest(t, "POST", "/models/m/search", mustJSON(t, map[string]any{"queries": qs}))
		r = r.WithContext(ophicleide.WithPrincipal(r.Context(), ophicleide.Principal{Name: who.key, Role: ophicleide.RoleRead}))
		return a.serve(r).Code
	}
	// 4 queries take 4 reads of 10: 6 left, so 7 is refused (and takes
	// none), 6 passes, and then a single read is refused.
	if c := send(4); c == http.StatusTooManyRequests {
		t.Fatalf("4 of 10: %d", c)
	}
	if c := send(7); c != http.StatusTooManyRequests {
		t.Fatalf("7 with 6 left: %d", c)
	}
	if c := send(6); c == http.StatusTooManyRequests {
		t.Fatalf("6 with 6 left: %d", c)
	}
	if c := a.send(who, "GET", "/models"); c.Code != http.StatusTooManyRequests {
		t.Fatalf("a read with none left: %d", c.Code)
	}
	// A full bucket passes a search of 1,000, which then owes 990: the
	// next read waits 990 seconds, and is answered after them.
	a.advance(10 * time.Second)
	if c := send(1000); c == http.StatusTooManyRequests {
		t.Fatalf("1000 with a full bucket: %d", c)
	}
	w := a.send(who, "GET", "/models")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") != "991" {
		t.Fatalf("after 1000: %d Retry-After %q", w.Code, w.Header().Get("Retry-After"))
	}
	a.advance(991 * time.Second)
	if c := a.send(who, "GET", "/models"); c.Code == http.StatusTooManyRequests {
		t.Fatalf("after the debt is paid: %d", c.Code)
	}
	// A search that is not limited (the process, an open server) passes.
	if c := a.serve(httptestRequest(t, "POST", "/models/m/search", `{"queries": [{"word": "w"}, {"word": "w"}]}`)).Code; c == http.StatusTooManyRequests {
		t.Fatalf("unlimited: %d", c)
	}
}

func httptestRequest(t *testing.T, method, path, body string) *http.Request {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	r.RemoteAddr = "192.0.2.200:40000"
	return r
}

func (a *rateAPI) serve(r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w
}

// BenchmarkSearchBatch: 100 words' neighbours as one POST
// /models/{id}/search against 100 GET /models/{id}/similar, over HTTP on
// 127.0.0.1 and the real services, on a 20,000 x 100 model (-bench only).
func BenchmarkSearchBatch(b *testing.B) {
	store, err := bolt.Open(context.Background(), b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	srv := newRealServer(store, 1<<30, slog.New(slog.DiscardHandler))
	hs := httptest.NewServer(srv)
	defer hs.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	var body strings.Builder
	fmt.Fprintf(&body, "20000 100\n")
	for i := range 20000 {
		fmt.Fprintf(&body, "w%d", i)
		for range 100 {
			fmt.Fprintf(&body, " %.4f", rng.Float32()*2-1)
		}
		body.WriteByte('\n')
	}
	resp, err := http.Post(hs.URL+"/models/import?name=big", "application/octet-stream", strings.NewReader(body.String()))
	if err != nil {
		b.Fatal(err)
	}
	var m struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	qs := make([]map[string]any, 100)
	for i := range qs {
		qs[i] = map[string]any{"word": fmt.Sprintf("w%d", i*37)}
	}
	batch, _ := json.Marshal(map[string]any{"queries": qs, "count": 10})
	get := func(b *testing.B, req *http.Request) {
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			b.Fatal(resp.StatusCode, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.Run("batch", func(b *testing.B) {
		for b.Loop() {
			req, _ := http.NewRequest("POST", hs.URL+"/models/"+m.ID+"/search", bytes.NewReader(batch))
			req.Header.Set("Content-Type", "application/json")
			get(b, req)
		}
	})
	b.Run("single", func(b *testing.B) {
		for b.Loop() {
			for _, q := range qs {
				req, _ := http.NewRequest("GET", hs.URL+"/models/"+m.ID+"/similar?count=10&word="+q["word"].(string), nil)
				get(b, req)
			}
		}
	})
}
