package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// The handlers against the in-memory domain services (memory_test.go):
// what the transport decodes, the statuses, error bodies and headers it
// answers, without a store or a trainer. Responses are checked against
// the OpenAPI document (realAPI.do).

// startMemAPI serves a Server over mem.
func startMemAPI(t *testing.T, mem *memService) *realAPI {
	t.Helper()
	srv := NewServer(mem, mem, slog.New(slog.DiscardHandler), "test")
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &realAPI{t: t, srv: srv, base: hs.URL}
}

// unchecked is do without the OpenAPI check, for answers the document
// does not list for the operation (a fake's error on any route, the query
// role's 405, the home page).
func (a *realAPI) unchecked(method, path, ctype string, body []byte, headers ...string) reply {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return reply{resp.StatusCode, resp.Header, b}
}

// wantError checks an error reply: status, the body's status, field and
// a part of its details.
func wantError(t *testing.T, what string, r reply, status int, field, details string) {
	t.Helper()
	var eb struct {
		Errors []apiError `json:"errors"`
	}
	if err := json.Unmarshal(r.body, &eb); err != nil || len(eb.Errors) != 1 {
		t.Fatalf("%s: %d %s: not one error", what, r.status, r.body)
	}
	e := eb.Errors[0]
	if r.status != status || e.Status != status || e.Title != http.StatusText(status) || e.Field != field || !strings.Contains(e.Details, details) {
		t.Errorf("%s: %d %+v; want %d, field %q, details with %q", what, r.status, e, status, field, details)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q", what, ct)
	}
}

func TestHandlersCreateModel(t *testing.T) {
	mem := newMemService()
	a := startMemAPI(t, mem)
	r := a.do("POST", "/models", "application/json", []byte(`{"name": " austen ", "urls": ["https://example.org/a.txt"], "params": {"dim": 50, "model": "cbow"}}`))
	if r.status != http.StatusCreated {
		t.Fatalf("POST /models: %d %s", r.status, r.body)
	}
	var m ophicleide.Model
	if err := json.Unmarshal(r.body, &m); err != nil || m.ID == "" {
		t.Fatalf("body %s", r.body)
	}
	if loc := r.header.Get("Location"); loc != "/models/"+m.ID {
		t.Errorf("Location %q, want /models/%s", loc, m.ID)
	}
	var req ophicleide.ModelRequest
	mem.get(func() { req = mem.requests[0] })
	if req.Name != " austen " || len(req.URLs) != 1 || req.Params.Dim != 50 || req.Params.Model != "cbow" || req.ZeroParam != "" || len(req.Uploads) != 0 {
		t.Errorf("the service was asked %+v", req)
	}

	// A parameter given as 0 is told to the service, which refuses it.
	r = a.do("POST", "/api/models", "application/json", []byte(`{"name": "x", "urls": ["https://example.org/a.txt"], "params": {"window": 0}}`))
	wantError(t, "window 0", r, http.StatusBadRequest, "window", "window must be above 0")
	var got string
	mem.get(func() { got = mem.requests[1].ZeroParam })
	if got != "window" {
		t.Errorf("ZeroParam %q", got)
	}

	// Decoding errors never reach the service.
	var n, after int
	mem.get(func() { n = len(mem.requests) })
	r = a.do("POST", "/models", "application/json", []byte(`{"name": 5}`))
	wantError(t, "name 5", r, http.StatusBadRequest, "name", `field "name" must be of type string`)
	r = a.do("POST", "/models", "text/plain", []byte(`{}`))
	if r.status != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d %s", r.status, r.body)
	}
	if mem.get(func() { after = len(mem.requests) }); after != n {
		t.Errorf("the service was called %d times for requests that do not decode", after-n)
	}
}

func TestHandlersCreateModelMultipart(t *testing.T) {
	mem := newMemService()
	a := startMemAPI(t, mem)
	ctype, body := multipartBody(t, "name", "books", "urls", "http://example.org/a.txt\nhttp://example.org/b.txt", "params", `{"epochs": 2}`,
		"@files", "It is a truth universally acknowledged.")
	r := a.do("POST", "/models", ctype, body)
	if r.status != http.StatusCreated {
		t.Fatalf("multipart: %d %s", r.status, r.body)
	}
	var req ophicleide.ModelRequest
	var upload string
	mem.get(func() { req, upload = mem.requests[0], mem.uploads["book"] })
	if req.Name != "books" || len(req.URLs) != 2 || req.Params.Epochs != 2 || len(req.Uploads) != 1 || req.Uploads[0].Name != "book" {
		t.Fatalf("the service was asked %+v", req)
	}
	if got := upload; got != "It is a truth universally acknowledged." {
		t.Errorf("upload read by the service: %q", got)
	}
	ctype, body = multipartBody(t, "name", "x", "params", `{"dim": "x"}`)
	wantError(t, "bad params", a.do("POST", "/models", ctype, body), http.StatusBadRequest, "params.dim", "params must be a JSON object")
}

// TestHandlersErrorTable: each code of the domain's errors is its status,
// with the message; any other error is a 500 that shows none of it.
func TestHandlersErrorTable(t *testing.T) {
	for code, status := range map[string]int{
		ophicleide.EINVALID: 400, ophicleide.ENOTFOUND: 404, ophicleide.ECONFLICT: 409, ophicleide.ETOOLARGE: 413,
		ophicleide.EUNAVAILABLE: 503, ophicleide.EFULL: 507, ophicleide.EINTERNAL: 500,
	} {
		mem := newMemService()
		mem.err = &ophicleide.Error{Code: code, Message: "says " + code, Field: "f"}
		a := startMemAPI(t, mem)
		r := a.unchecked("GET", someModel, "", nil)
		if r.status != status {
			t.Errorf("%s: %d %s, want %d", code, r.status, r.body, status)
		}
		if d, f := r.errorDetails(); d != "says "+code || f != "f" {
			t.Errorf("%s: details %q field %q", code, d, f)
		}
	}
	mem := newMemService()
	mem.err = errors.New("disk on fire at /var/lib/x")
	a := startMemAPI(t, mem)
	wantError(t, "plain error", a.do("DELETE", someModel, "", nil), http.StatusInternalServerError, "", "internal error")
	if d, _ := a.do("GET", "/models", "", nil).errorDetails(); strings.Contains(d, "fire") {
		t.Errorf("the detail of an internal error is shown: %q", d)
	}
}

func TestHandlersModels(t *testing.T) {
	mem := newMemService()
	a := startMemAPI(t, mem)
	m1 := mem.addReady("one", "a")
	m2 := mem.addReady("two", "a")

	// Ids that are not UUIDs are 404 without asking the service.
	wantError(t, "bad id", a.do("GET", "/models/x", "", nil), http.StatusNotFound, "", `model "x" not found`)
	r := a.do("GET", "/models/"+m1.ID, "", nil)
	var got struct{ Model *ophicleide.Model }
	if r.status != http.StatusOK || json.Unmarshal(r.body, &got) != nil || got.Model.Name != "one" {
		t.Fatalf("GET /models/{id}: %d %s", r.status, r.body)
	}

	// Pages: ?limit and ?after go to the service; next comes back.
	r = a.do("GET", "/models?limit=1&after=abc", "", nil)
	var page ophicleide.ModelPage
	if r.status != http.StatusOK || json.Unmarshal(r.body, &page) != nil || len(page.Models) != 1 || page.Models[0].ID != m2.ID || page.Next != "more" {
		t.Fatalf("page: %d %s", r.status, r.body)
	}
	var p ophicleide.Page
	if mem.get(func() { p = mem.pages[len(mem.pages)-1] }); p.Limit != 1 || p.After != "abc" {
		t.Errorf("the service was asked for %+v", p)
	}
	wantError(t, "limit 0", a.do("GET", "/models?limit=0", "", nil), http.StatusBadRequest, "limit", "limit must be a whole number from 1 to 1000")

	if r := a.do("DELETE", "/models/"+m1.ID, "", nil); r.status != http.StatusNoContent || len(r.body) != 0 {
		t.Errorf("DELETE: %d %s", r.status, r.body)
	}
	wantError(t, "DELETE again", a.do("DELETE", "/models/"+m1.ID, "", nil), http.StatusNotFound, "", "not found")

	// The read-api role: writes are 405 naming the api role, reads work.
	a.srv.ReadOnly()
	for _, c := range []struct{ method, path string }{{"DELETE", "/models/" + m2.ID}, {"POST", "/models"}, {"POST", "/models/import?name=x"}} {
		r := a.unchecked(c.method, c.path, "application/json", []byte(`{}`))
		wantError(t, "read-only "+c.method+" "+c.path, r, http.StatusMethodNotAllowed, "", "send it to the api role")
		if r.header.Get("Allow") != "GET" {
			t.Errorf("%s %s: Allow %q", c.method, c.path, r.header.Get("Allow"))
		}
	}
	if r := a.do("GET", "/models/"+m2.ID, "", nil); r.status != http.StatusOK {
		t.Errorf("read-only GET: %d", r.status)
	}
}

func TestHandlersImport(t *testing.T) {
	mem := newMemService()
	a := startMemAPI(t, mem)
	r := a.do("POST", "/models/import?name=vecs", "application/octet-stream", []byte("1 1\na 1\n"))
	if r.status != http.StatusCreated || !strings.HasPrefix(r.header.Get("Location"), "/models/") {
		t.Fatalf("import: %d %s %v", r.status, r.body, r.header)
	}
	var got string
	if mem.get(func() { got = mem.imports["vecs"] }); got != "1 1\na 1\n" {
		t.Errorf("the service read %q", got)
	}
	ctype, body := multipartBody(t, "name", "form", "@file", "1 1\nb 2\n")
	r = a.do("POST", "/models/import", ctype, body)
	if mem.get(func() { got = mem.imports["form"] }); r.status != http.StatusCreated || got != "1 1\nb 2\n" {
		t.Errorf("multipart import: %d %s %q", r.status, r.body, got)
	}
	wantError(t, "no name", a.do("POST", "/models/import", "application/octet-stream", []byte("1 1\na 1\n")),
		http.StatusBadRequest, "name", "name is required (a form field, or ?name= with a raw body)")
	ctype, body = multipartBody(t, "name", "form")
	wantError(t, "no file", a.do("POST", "/models/import", ctype, body), http.StatusBadRequest, "file", `no "file" part`)
}

func TestHandlersQueries(t *testing.T) {
	mem := newMemService()
	a := startMemAPI(t, mem)
	m := mem.addReady("austen", "darcy", "elizabeth", "bingley")
	r := a.do("POST", "/queries", "application/json", []byte(`{"model": "`+m.ID+`", "word": "darcy"}`))
	var got struct{ Query *ophicleide.Query }
	if r.status != http.StatusCreated || json.Unmarshal(r.body, &got) != nil || got.Query == nil {
		t.Fatalf("POST /queries: %d %s", r.status, r.body)
	}
	if loc := r.header.Get("Location"); loc != "/queries/"+got.Query.ID {
		t.Errorf("Location %q", loc)
	}
	if len(got.Query.Results) != 2 || got.Query.Results[0].Word != "elizabeth" {
		t.Errorf("results %+v", got.Query.Results)
	}
	// The default count is the transport's; an explicit 0 is the
	// service's to refuse.
	a.do("POST", "/queries", "application/json", []byte(`{"model": "`+m.ID+`", "word": "darcy", "count": 0}`))
	var asked []string
	mem.get(func() { asked = slices.Clone(mem.asked) })
	if want := []string{`query ` + m.ID + ` "darcy" 5`, `query ` + m.ID + ` "darcy" 0`}; len(asked) < 3 || asked[0] != want[0] || asked[2] != want[1] {
		t.Errorf("the service was asked %q, want %q", asked, want)
	}
	wantError(t, "unknown word", a.do("POST", "/queries", "application/json", []byte(`{"model": "`+m.ID+`", "word": "wickham"}`)),
		http.StatusBadRequest, "word", `the word "wickham" is not in the vocabulary of model "austen"`)

	r = a.do("GET", "/queries/"+got.Query.ID, "", nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"query":`) {
		t.Errorf("GET /queries/{id}: %d %s", r.status, r.body)
	}
	wantError(t, "bad query id", a.do("GET", "/queries/nope", "", nil), http.StatusNotFound, "", `query "nope" not found`)
	r = a.do("GET", "/queries?model="+m.ID+"&limit=7", "", nil)
	var last string
	if mem.get(func() { last = mem.asked[len(mem.asked)-1] }); r.status != http.StatusOK || last != `queries "`+m.ID+`" 7 ""` {
		t.Errorf("GET /queries: %d %s, asked %q", r.status, r.body, last)
	}
}

// TestHandlersVectors: the endpoints of a model's vectors; an unknown word
// is a 400 naming the parameter at fault.
func TestHandlersVectors(t *testing.T) {
	mem := newMemService()
	a := startMemAPI(t, mem)
	m := mem.addReady("austen", "darcy", "elizabeth", "bingley", "jane")
	base := "/models/" + m.ID
	cases := []struct {
		path   string
		status int
		field  string
		want   string // in the body
	}{
		{"/similar?word=darcy&count=2", 200, "", `"results":[[0.5,"elizabeth"],[0.3333333333333333,"bingley"]]`},
		{"/similar?word=wickham", 400, "word", `the word \"wickham\" is not in the vocabulary`},
		{"/similar", 400, "word", `the query parameter \"word\" is required`},
		{"/similar?word=darcy&count=101", 400, "count", "count must be a whole number between 1 and 100"},
		{"/analogy?positive=darcy,jane&negative=elizabeth", 200, "", `"negative":["elizabeth"]`},
		{"/analogy?positive=darcy&negative=wickham", 400, "negative", `the word \"wickham\"`},
		{"/analogy?positive=wickham", 400, "positive", `the word \"wickham\"`},
		{"/analogy?negative=darcy", 400, "positive", "give at least one positive word"},
		{"/similarity?a=darcy&b=jane", 200, "", `"similarity":0.25`},
		{"/similarity?a=darcy&b=wickham", 400, "b", `the word \"wickham\"`},
		{"/similarity?a=darcy", 400, "b", `the query parameter \"b\" is required`},
		{"/vectors/bingley", 200, "", `"vector":[2,1]`},
		{"/vectors/wickham", 400, "word", `the word \"wickham\"`},
		{"/words?prefix=Da&limit=2", 200, "", `"words":[{"word":"darcy","rank":1},{"word":"elizabeth","rank":2}]`},
		{"/words?limit=1001", 400, "limit", "limit must be a whole number between 1 and 1000"},
	}
	for _, c := range cases {
		r := a.do("GET", base+c.path, "", nil)
		if c.status != 200 {
			wantError(t, c.path, r, c.status, c.field, strings.ReplaceAll(c.want, `\"`, `"`))
			continue
		}
		if r.status != 200 || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s: %d %s, want %s", c.path, r.status, r.body, c.want)
		}
	}
	var got string
	if mem.get(func() { got = mem.asked[len(mem.asked)-1] }); got != `words "Da" 2` {
		t.Errorf("words: the service was asked %s", got)
	}
	// Not a model, not ready.
	wantError(t, "no model", a.do("GET", someModel+"/similar?word=darcy", "", nil), http.StatusNotFound, "", "not found")
	mem.get(func() {
		training := *mem.models[m.ID]
		training.Status = ophicleide.StatusTraining
		mem.models[m.ID] = &training
	})
	wantError(t, "training", a.do("GET", base+"/vectors/darcy", "", nil), http.StatusNotFound, "", "is not ready (status training)")
}

func TestHandlersExport(t *testing.T) {
	mem := newMemService()
	a := startMemAPI(t, mem)
	m := mem.addReady("Pride & Prejudice", "darcy", "jane")
	r := a.do("GET", "/models/"+m.ID+"/export", "", nil)
	if r.status != 200 || string(r.body) != "2 2\n" || r.header.Get("Content-Type") != "application/octet-stream" ||
		r.header.Get("Content-Disposition") != `attachment; filename="Pride___Prejudice.bin"` {
		t.Errorf("export: %d %q %v", r.status, r.body, r.header)
	}
	r = a.do("GET", "/models/"+m.ID+"/export?format=text", "", nil)
	if r.status != 200 || r.header.Get("Content-Type") != "text/plain; charset=utf-8" || !strings.HasSuffix(r.header.Get("Content-Disposition"), `.txt"`) {
		t.Errorf("text export: %d %v", r.status, r.header)
	}
	wantError(t, "format", a.do("GET", "/models/"+m.ID+"/export?format=csv", "", nil), http.StatusBadRequest, "format", "format must be binary or text")
}

// TestHandlersExportStreams: the file reaches the client while the
// service is still writing it.
func TestHandlersExportStreams(t *testing.T) {
	mem := newMemService()
	a := startMemAPI(t, mem)
	m := mem.addReady("big", "a")
	release := make(chan struct{})
	done := make(chan error, 1)
	mem.export = func(w io.Writer) error {
		_, err := w.Write(make([]byte, 3<<20))
		if err == nil {
			select {
			case <-release:
			case <-time.After(10 * time.Second):
				err = errors.New("the client got nothing while the file was written")
			}
		}
		done <- err
		return err
	}
	resp, err := http.Get(a.base + "/models/" + m.ID + "/export")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.ReadFull(resp.Body, make([]byte, 2<<20)); err != nil {
		t.Fatalf("reading the first 2 MiB: %v", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestHandlersHomeLimitsProbes(t *testing.T) {
	mem := newMemService()
	mem.queue = 3
	a := startMemAPI(t, mem)
	r := a.do("GET", "/limits", "", nil)
	var lim struct{ Limits ophicleide.Limits }
	if r.status != 200 || json.Unmarshal(r.body, &lim) != nil || lim.Limits.Params.MaxDim != 300 || lim.Limits.MaxUploadBytes != MaxUploadBytes || lim.Limits.MaxAttempts != 3 {
		t.Errorf("GET /limits: %d %s", r.status, r.body)
	}
	r = a.do("GET", "/", "", nil)
	var root struct {
		Name string
		Info struct {
			Queue  int `json:"training_queue_len"`
			Limits ophicleide.Limits
		}
	}
	if r.status != 200 || json.Unmarshal(r.body, &root) != nil || root.Name != "ophicleide" || root.Info.Queue != 3 || root.Info.Limits.Params.MaxDim != 300 {
		t.Errorf("GET /: %d %s", r.status, r.body)
	}
	r = a.unchecked("GET", "/", "", nil, "Accept", "text/html")
	if r.status != 200 || !strings.Contains(string(r.body), "<h1>Ophicleide API</h1>") {
		t.Errorf("GET / for a browser: %d %s", r.status, r.body)
	}
	if r := a.do("GET", "/readyz", "", nil); r.status != 200 {
		t.Errorf("readyz: %d", r.status)
	}
	wantError(t, "no route", a.do("GET", "/nope", "", nil), http.StatusNotFound, "", "no such resource: /nope")
	r = a.do("PUT", "/models", "application/json", []byte(`{}`))
	wantError(t, "PUT /models", r, http.StatusMethodNotAllowed, "", "PUT is not allowed on /models")
	if !strings.Contains(r.header.Get("Allow"), "POST") {
		t.Errorf("Allow %q", r.header.Get("Allow"))
	}
	r = a.do("GET", "/metrics", "", nil)
	if r.status != 200 || !strings.Contains(string(r.body), `ophicleide_models{status="ready"} 0`) {
		t.Errorf("metrics: %d", r.status)
	}

	mem.get(func() { mem.err = ophicleide.Errorf(ophicleide.EUNAVAILABLE, "store down") })
	if r := a.do("GET", "/readyz", "", nil); r.status != http.StatusServiceUnavailable {
		t.Errorf("readyz with the store down: %d", r.status)
	}
	wantError(t, "GET / store down", a.do("GET", "/", "", nil), http.StatusServiceUnavailable, "", "store down")
}
