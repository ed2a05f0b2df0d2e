package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/ophicleide/ophicleide/internal/http/openapi/spectest"
	"github.com/ophicleide/ophicleide/internal/mongo/mongotest"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// syncBuffer is a bytes.Buffer safe for the server's log writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs "ophicleide serve" in-process on a free port with a
// temporary data directory and returns its base URL.
func startServer(t *testing.T, extra ...string) string {
	t.Helper()
	base, stop := startServerIn(t, t.TempDir(), extra...)
	t.Cleanup(stop)
	return base
}

// startServerIn runs "ophicleide serve" on dir; stop shuts it down
// gracefully (as SIGTERM does) and waits for it.
func startServerIn(t *testing.T, dir string, extra ...string) (base string, stop func()) {
	t.Helper()
	base, stop, _ = startRoleIn(t, "serve", dir, extra...)
	return base, stop
}

// startRoleIn runs one role of the server binary on dir.
func startRoleIn(t *testing.T, role, dir string, extra ...string) (base string, stop func(), logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addr := make(chan string, 1)
	logs = &syncBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: logs, onListen: func(a string) { addr <- a }}
	args := append([]string{role, "--addr", "127.0.0.1:0", "--data-dir", dir, "--threads", "1"}, extra...)
	done := make(chan int, 1)
	go func() { done <- runEnv(ctx, args, e) }()
	select {
	case a := <-addr:
		base = "http://" + a
	case code := <-done:
		t.Fatalf("serve exited %d: %s", code, logs.String())
	}
	var once sync.Once
	return base, func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("serve exited %d after shutdown: %s", code, logs.String())
			}
		})
	}, logs
}

// modelState is what the tests read of a model.
type modelState struct {
	Status, Error string
	Stats         *struct{ Sources []struct{ URL string } }
}

// waitModel polls the model, as a client does, until it reaches status
// want ("ready" or "failed"); reaching the other end state, or two minutes
// passing, fails the test.
func waitModel(t *testing.T, base, id, want string) modelState {
	t.Helper()
	var got struct{ Model modelState }
	eventually(t, 2*time.Minute, 20*time.Millisecond, func() (bool, string) {
		if code, _ := call(t, "GET", base+"/models/"+id, "", &got); code != 200 {
			t.Fatalf("get model: %d", code)
		}
		st := got.Model.Status
		if st != want && (st == "ready" || st == "failed") {
			t.Fatalf("model %s: %+v, want status %s", id, got.Model, want)
		}
		return st == want, fmt.Sprintf("model %s: %+v, want status %s", id, got.Model, want)
	})
	return got.Model
}

// specRouter finds the OpenAPI operation of a request.
var specRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := spectest.Load(context.Background())
	if err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc)
})

// checkAgainstSpec validates a real response against the OpenAPI document:
// the document is the source of truth and must not drift from the server.
func checkAgainstSpec(t *testing.T, method, url string, status int, header http.Header, body []byte) {
	checkExchange(t, false, method, url, "", nil, status, header, body)
}

// checkExchange validates a response against the OpenAPI document and, when
// the server accepted the request (2xx), the request too: what the server
// accepts must be documented.
func checkExchange(t *testing.T, checkRequest bool, method, url, reqType string, reqBody []byte, status int, header http.Header, body []byte) {
	t.Helper()
	router, err := specRouter()
	if err != nil {
		t.Fatal(err)
	}
	u, err := neturl.Parse(url)
	if err != nil {
		t.Fatal(err)
	}
	// The document's server is "/", and everything is also under /api/.
	req, _ := http.NewRequest(method, strings.TrimPrefix(u.RequestURI(), "/api"), bytes.NewReader(reqBody))
	if reqType != "" {
		req.Header.Set("Content-Type", reqType)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Errorf("%s %s is not in the OpenAPI document: %v", method, url, err)
		return
	}
	if checkRequest && status >= 200 && status < 300 {
		in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("%s %s was accepted (%d) but the OpenAPI document refuses it: %v\nrequest: %s", method, url, status, err, reqBody)
		}
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status, Header: header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		t.Errorf("%s %s -> %d does not match the OpenAPI document: %v\nbody: %s", method, url, status, err, body)
	}
}

func call(t *testing.T, method, url, body string, out any) (int, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusMethodNotAllowed && !strings.Contains(url, "/no/such/") {
		ct := ""
		if body != "" {
			ct = "application/json"
		}
		checkExchange(t, true, method, url, ct, []byte(body), resp.StatusCode, resp.Header, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: %d %s: %v", method, url, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode, resp.Header
}

type errorsBody struct {
	Errors []struct {
		Status  int    `json:"status"`
		Title   string `json:"title"`
		Details string `json:"details"`
		Field   string `json:"field"`
	} `json:"errors"`
}

func books(t *testing.T) *httptest.Server {
	files := map[string]string{"/austen.txt": "pride-and-prejudice_1342-0.txt", "/alice.txt": "alice-in-wonderland_11-0.txt"}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		book, err := os.ReadFile("../../testdata/" + name)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(book)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestServeTrainAndQueryEndToEnd(t *testing.T) {
	base := startServer(t, "--allow-private-urls")
	src := books(t)

	var m struct {
		ID, Name, Status string
		URLs             []string
	}
	hook := make(chan []byte, 1)
	hookSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hook <- b
	}))
	defer hookSrv.Close()
	code, hdr := call(t, "POST", base+"/models", `{"name": "austen", "urls": ["`+src.URL+`/austen.txt", ""], "callback": "`+hookSrv.URL+`/done"}`, &m)
	if code != 201 || hdr.Get("Location") != "/models/"+m.ID || m.Status != "queued" || len(m.URLs) != 1 {
		t.Fatalf("create: %d %v %+v", code, hdr, m)
	}
	waitModel(t, base, m.ID, "ready")

	select { // the original's callback, as a webhook
	case b := <-hook:
		if !strings.Contains(string(b), `"status":"ready"`) || !strings.Contains(string(b), m.ID) {
			t.Fatalf("callback body %s", b)
		}
	case <-time.After(time.Minute):
		t.Fatal("the callback was not called")
	}
	var q struct {
		Query struct {
			ID, Word, Model, ModelName string
			Results                    [][2]any
		}
	}
	code, hdr = call(t, "POST", base+"/api/queries", `{"model": "`+m.ID+`", "word": "darcy", "count": 10}`, &q)
	if code != 201 || hdr.Get("Location") != "/queries/"+q.Query.ID || len(q.Query.Results) != 10 || q.Query.ModelName != "austen" {
		t.Fatalf("query: %d %+v", code, q)
	}
	var words []string
	for _, r := range q.Query.Results {
		if _, ok := r[0].(float64); !ok {
			t.Fatalf("result %v is not [score, word]", r)
		}
		words = append(words, r[1].(string))
	}
	if j := " " + strings.Join(words, " ") + " "; !strings.Contains(j, " bingley ") && !strings.Contains(j, " wickham ") {
		t.Fatalf("darcy's neighbours lack bingley and wickham: %v", words)
	}
	var list struct{ Queries []struct{ ID string } }
	if code, _ := call(t, "GET", base+"/queries", "", &list); code != 200 || len(list.Queries) != 1 || list.Queries[0].ID != q.Query.ID {
		t.Fatalf("queries: %d %+v", code, list)
	}
	var root struct {
		Name string
		Info struct {
			TrainingQueueLen int `json:"training_queue_len"`
		}
	}
	if code, _ := call(t, "GET", base+"/", "", &root); code != 200 || root.Name != "ophicleide" || root.Info.TrainingQueueLen != 0 {
		t.Fatalf("root: %d %+v", code, root)
	}

	// The read-only endpoints.
	var sim struct {
		Word    string
		Results [][2]any
	}
	if code, _ := call(t, "GET", base+"/models/"+m.ID+"/similar?word=elizabeth&count=3", "", &sim); code != 200 || len(sim.Results) != 3 {
		t.Fatalf("similar: %d %+v", code, sim)
	}
	var an struct {
		Positive, Negative []string
		Results            [][2]any
	}
	if code, _ := call(t, "GET", base+"/models/"+m.ID+"/analogy?positive=she,mr&negative=he", "", &an); code != 200 || len(an.Results) != 5 || len(an.Negative) != 1 {
		t.Fatalf("analogy: %d %+v", code, an)
	}
	var sm struct{ Similarity float64 }
	if code, _ := call(t, "GET", base+"/models/"+m.ID+"/similarity?a=darcy&b=bingley", "", &sm); code != 200 || sm.Similarity <= 0 || sm.Similarity > 1 {
		t.Fatalf("similarity: %d %+v", code, sm)
	}
	var vec struct{ Vector []float64 }
	if code, _ := call(t, "GET", base+"/models/"+m.ID+"/vectors/darcy", "", &vec); code != 200 || len(vec.Vector) != 100 {
		t.Fatalf("vector: %d %d values", code, len(vec.Vector))
	}
	var ws struct {
		Words []struct {
			Word string
			Rank int
		}
	}
	if code, _ := call(t, "GET", base+"/models/"+m.ID+"/words?prefix=eli&limit=3", "", &ws); code != 200 || len(ws.Words) == 0 || ws.Words[0].Word != "elizabeth" {
		t.Fatalf("words: %d %+v", code, ws)
	}
	for _, format := range []string{"binary", "text"} {
		resp, err := http.Get(base + "/models/" + m.ID + "/export?format=" + format)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		set, err := vectors.Read(bytes.NewReader(data))
		if err != nil || resp.StatusCode != 200 || set.Len() < 1000 {
			t.Fatalf("export %s: %d %v", format, resp.StatusCode, err)
		}
		// Import the exported file as a new model, which answers the same.
		resp, err = http.Post(base+"/models/import?name=imported-"+format, "application/octet-stream", bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkAgainstSpec(t, "POST", base+"/models/import", resp.StatusCode, resp.Header, b)
		var im struct{ ID, Status string }
		if json.Unmarshal(b, &im); resp.StatusCode != 201 || im.Status != "ready" {
			t.Fatalf("import %s: %d %s", format, resp.StatusCode, b)
		}
		var iq struct{ Query struct{ Results [][2]any } }
		if code, _ := call(t, "POST", base+"/queries", `{"model": "`+im.ID+`", "word": "darcy", "count": 10}`, &iq); code != 201 || fmt.Sprint(iq.Query.Results) != fmt.Sprint(q.Query.Results) {
			t.Fatalf("imported %s model answers differently: %d\n%v\n%v", format, code, iq.Query.Results, q.Query.Results)
		}
	}
	resp, err := http.Post(base+"/models/import?name=junk", "application/octet-stream", strings.NewReader("this is not a vectors file"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("importing junk: %d", resp.StatusCode)
	}

	// Errors, each with its status and a readable message.
	var eb errorsBody
	for _, c := range []struct {
		path   string
		status int
		want   string
	}{
		{"/similar?word=zzzqqq", 400, `"zzzqqq" is not in the vocabulary`},
		{"/similar", 400, `"word" is required`},
		{"/similar?word=darcy&count=0", 400, "count must be"},
		{"/analogy?negative=he", 400, "positive word"},
		{"/analogy?positive=she,zzzqqq", 400, `"zzzqqq" is not in the vocabulary`},
		{"/similarity?a=darcy", 400, `"b" is required`},
		{"/vectors/zzzqqq", 400, "not in the vocabulary"},
		{"/export?format=hdf5", 400, "binary or text"},
		{"/words?limit=0", 400, "limit must be"},
	} {
		if code, _ := call(t, "GET", base+"/models/"+m.ID+c.path, "", &eb); code != c.status || !strings.Contains(eb.Errors[0].Details, c.want) {
			t.Errorf("GET %s: %d %+v; want %d with %q", c.path, code, eb, c.status, c.want)
		}
	}
	if code, _ := call(t, "POST", base+"/queries", `{"model": "`+m.ID+`", "word": "zzzqqq"}`, &eb); code != 400 || !strings.Contains(eb.Errors[0].Details, `"zzzqqq" is not in the vocabulary`) {
		t.Fatalf("unknown word: %d %+v", code, eb)
	}
	if code, _ := call(t, "DELETE", base+"/models/"+m.ID, "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := call(t, "POST", base+"/queries", `{"model": "`+m.ID+`", "word": "darcy"}`, &eb); code != 404 {
		t.Fatalf("query on a deleted model: %d", code)
	}
}

func TestServeBadRequests(t *testing.T) {
	base := startServer(t)
	cases := []struct {
		method, path, body string
		status             int
		want, field        string
	}{
		{"GET", "/models/not-a-uuid", "", 404, "not found", ""},
		{"GET", "/models/6ba7b810-9dad-11d1-80b4-00c04fd430c8", "", 404, "not found", ""},
		{"DELETE", "/models/6ba7b810-9dad-11d1-80b4-00c04fd430c8", "", 404, "not found", ""},
		{"GET", "/queries/42", "", 404, "not found", ""},
		{"POST", "/models", `{"name": "x", "urls": [`, 400, "not valid JSON", ""},
		{"POST", "/models", ``, 400, "empty", ""},
		{"POST", "/models", `{"urls": ["http://example.org/a.txt"]}`, 400, "name is required", "name"},
		{"POST", "/models", `{"name": "x", "urls": "http://example.org/a.txt"}`, 400, "must be of type", "urls"},
		{"POST", "/models", `{"name": "x", "urls": ["", " "]}`, 400, "at least one URL", "urls"},
		{"POST", "/models", `{"name": "x", "urls": ["ftp://example.org/a"]}`, 400, "not an http or https URL", "urls"},
		{"POST", "/models", `{"name": "x", "urls": ["http://example.org/a"], "params": {"dim": 0.5}}`, 400, "must be of type", "params.dim"},
		{"POST", "/models", `{"name": "x", "urls": ["http://example.org/a"], "params": {"dim": 0}}`, 400, "dim must be above 0", "dim"},
		{"POST", "/models", `{"name": "x", "urls": ["http://example.org/a"], "params": {"alpha": 0.0}}`, 400, "alpha must be above 0", "alpha"},
		{"POST", "/models", `{"name": "x", "urls": ["http://example.org/a"], "params": {"dim": 99999}}`, 400, "dim", "dim"},
		{"POST", "/models", `{"name": "x", "urls": ["http://example.org/a"], "colour": "red"}`, 400, "colour", ""},
		{"POST", "/queries", `{"word": "x"}`, 400, "model", "model"},
		{"POST", "/queries", `{"model": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "word": "x"}`, 404, "not found", ""},
		{"POST", "/queries", `{"model": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "word": "x", "count": 1000}`, 400, "count", "count"},
		{"GET", "/no/such/thing", "", 404, "no such resource", ""},
		{"PUT", "/models", `{}`, 405, "PUT is not allowed", ""},
	}
	for _, c := range cases {
		var eb errorsBody
		code, hdr := call(t, c.method, base+c.path, c.body, &eb)
		if code != c.status || len(eb.Errors) != 1 || eb.Errors[0].Status != c.status || !strings.Contains(eb.Errors[0].Details, c.want) || eb.Errors[0].Field != c.field {
			t.Errorf("%s %s %s: %d %+v; want %d with %q (field %q)", c.method, c.path, c.body, code, eb, c.status, c.want, c.field)
		}
		if ct := hdr.Get("Content-Type"); ct != "application/json" {
			t.Errorf("%s %s: content type %q", c.method, c.path, ct)
		}
	}
	// The server keeps serving, and counted what it answered.
	if code, _ := call(t, "GET", base+"/healthz", "", nil); code != 200 {
		t.Fatalf("healthz after bad requests: %d", code)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`ophicleide_http_requests_total{method="POST",route="POST /models",status="400"} 11`,
		`ophicleide_http_requests_total{method="GET",route="GET /models/{id}",status="404"} 2`,
		`ophicleide_models{status="queued"} 0`,
		`ophicleide_http_request_duration_seconds_bucket{method="GET",route="GET /healthz"`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestRestartResumesJob stops the server while a job is running (its
// first download hangs half-way) and starts it again on the same data
// directory: the job was handed back at shutdown, is queued, and completes
// after the restart.
// TestRestartResumesJob stops the server while a job trains; a new
// process finds the job queued again and trains it. With MongoDB every
// process gets an empty data directory of its own: the state is in the
// database.
func TestRestartResumesJob(t *testing.T) {
	for _, store := range []string{"embedded", "mongo"} {
		t.Run(store, func(t *testing.T) {
			dir := t.TempDir()
			var extra []string
			if store == "mongo" {
				extra = []string{"--mongo", mongotest.URL(t)}
			}
			start := func(args ...string) (string, func()) {
				d := dir
				if store == "mongo" {
					d = t.TempDir()
				}
				return startServerIn(t, d, append(args, extra...)...)
			}
			src, hanging, requests := hangingBook(t)
			base, stop := start("--allow-private-urls")
			defer stop()
			var m struct{ ID string }
			body := `{"name": "alice", "urls": ["` + src.URL + `/alice.txt"], "params": {"dim": 20, "minCount": 2}}`
			if code, _ := call(t, "POST", base+"/models", body, &m); code != 201 {
				t.Fatalf("create: %d", code)
			}
			<-hanging
			stop()

			base, stop2 := start("--allow-private-urls", "--workers", "0")
			var got struct {
				Model struct{ Status, Error string }
			}
			call(t, "GET", base+"/models/"+m.ID, "", &got)
			if got.Model.Status != "queued" {
				t.Fatalf("after a graceful stop the job should be queued again, status %q", got.Model.Status)
			}
			stop2()

			base, stop3 := start("--allow-private-urls")
			defer stop3()
			waitModel(t, base, m.ID, "ready")
			if n := requests.Load(); n != 2 {
				t.Fatalf("%d downloads, want 2 (the interrupted one and the resumed one)", n)
			}
		})
	}
}

// TestRoles runs the api role (no workers: the model stays queued), then
// the worker role on the same data directory (it trains the model).
func TestRoles(t *testing.T) {
	dir := t.TempDir()
	src := books(t)
	base, stop, _ := startRoleIn(t, "api", dir, "--allow-private-urls")
	var m struct{ ID string }
	if code, _ := call(t, "POST", base+"/models", `{"name": "alice", "urls": ["`+src.URL+`/alice.txt"], "params": {"minCount": 2}}`, &m); code != 201 {
		t.Fatalf("create: %d", code)
	}
	var root struct {
		Info struct {
			TrainingQueueLen int `json:"training_queue_len"`
		}
	}
	if call(t, "GET", base+"/", "", &root); root.Info.TrainingQueueLen != 1 {
		t.Fatalf("api role without workers: queue length %d, want 1", root.Info.TrainingQueueLen)
	}
	stop()

	wbase, wstop, wlogs := startRoleIn(t, "worker", dir, "--allow-private-urls")
	resp, err := http.Get(wbase + "/healthz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("worker healthz: %v %v", resp, err)
	}
	resp.Body.Close()
	resp, _ = http.Get(wbase + "/models")
	if resp.StatusCode != 404 {
		t.Fatalf("the worker role serves the API: %d", resp.StatusCode)
	}
	resp.Body.Close()
	// The worker claims the job at start; its log says when the model is ready.
	eventually(t, time.Minute, 20*time.Millisecond, func() (bool, string) {
		return strings.Contains(wlogs.String(), "model ready"), "the worker role did not train the model: " + wlogs.String()
	})
	wstop()
	base, stop = startServerIn(t, dir, "--workers", "0")
	defer stop()
	var got struct{ Model struct{ Status string } }
	if call(t, "GET", base+"/models/"+m.ID, "", &got); got.Model.Status != "ready" {
		t.Fatalf("after the worker role: %+v", got.Model)
	}
}

// TestModelFailures: inputs that cannot train end the model as failed with
// a reason a user understands, and the server keeps serving.
func TestModelFailures(t *testing.T) {
	src := books(t)
	rare := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		if r.URL.Path == "/big.txt" {
			w.Write(bytes.Repeat([]byte("many words again and again "), 100_000)) // 2.7 MB
			return
		}
		io.WriteString(w, "only a handful of words here")
	}))
	defer rare.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // nothing listens there any more

	strict := startServer(t) // private addresses refused
	lenient := startServer(t, "--allow-private-urls", "--max-url-mb", "1")
	for _, c := range []struct {
		base, url, want string
	}{
		{strict, src.URL + "/austen.txt", "private address"},
		{lenient, src.URL + "/missing.txt", "404"},
		{lenient, closed.URL + "/x.txt", "connect"},
		{lenient, rare.URL + "/big.txt", "larger than"},
		{lenient, rare.URL + "/rare.txt", "min count"},
	} {
		var m struct{ ID string }
		if code, _ := call(t, "POST", c.base+"/models", `{"name": "x", "urls": ["`+c.url+`"]}`, &m); code != 201 {
			t.Fatalf("create: %d", code)
		}
		got := waitModel(t, c.base, m.ID, "failed")
		if !strings.Contains(got.Error, c.want) {
			t.Errorf("%s: failure reason %q, want it to mention %q", c.url, got.Error, c.want)
		}
	}
}

// TestClientCommands drives a real server with "ophicleide models ..." and
// "ophicleide query ...".
func TestClientCommands(t *testing.T) {
	base := startServer(t, "--allow-private-urls")
	src := books(t)
	code, out, stderr := runCLI(t, "", "models", "create", "--server", base, "--name", "austen", "--url", src.URL+"/austen.txt", "--json")
	if code != 0 {
		t.Fatalf("models create: %d %s", code, stderr)
	}
	var m struct{ ID string }
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.ID == "" {
		t.Fatalf("models create --json: %q %v", out, err)
	}
	eventually(t, 2*time.Minute, 50*time.Millisecond, func() (bool, string) {
		_, out, _ = runCLI(t, "", "models", "get", "austen", "--server", base)
		if strings.Contains(out, "failed") {
			t.Fatalf("models get: %s", out)
		}
		return strings.Contains(out, " ready "), "models get: " + out
	})
	if code, out, _ = runCLI(t, "", "models", "list", "--server", base); code != 0 || !strings.Contains(out, "austen") || !strings.HasPrefix(out, "ID ") {
		t.Fatalf("models list: %d %q", code, out)
	}
	code, out, stderr = runCLI(t, "", "query", "austen", "Darcy", "--count", "10", "--server", base)
	if code != 0 || (!strings.Contains(out, "bingley") && !strings.Contains(out, "wickham")) {
		t.Fatalf("query: %d %q %s", code, out, stderr)
	}
	if code, _, stderr = runCLI(t, "", "query", "austen", "zzzqqq", "--server", base); code != 1 || !strings.Contains(stderr, "not in the vocabulary") || !strings.Contains(stderr, "HTTP 400") {
		t.Fatalf("unknown word: %d %s", code, stderr)
	}
	exported := t.TempDir() + "/austen.txt"
	if code, _, stderr = runCLI(t, "", "models", "export", "austen", "--format", "text", "--output", exported, "--server", base); code != 0 {
		t.Fatalf("export: %d %s", code, stderr)
	}
	if code, out, _ = runCLI(t, "", "similar", "--model", exported, "elizabeth"); code != 0 || out == "" {
		t.Fatalf("the exported file does not load: %d", code)
	}
	if code, _, stderr = runCLI(t, "", "models", "delete", "austen", "--server", base); code != 0 {
		t.Fatalf("delete: %d %s", code, stderr)
	}
	if code, _, stderr = runCLI(t, "", "models", "get", "austen", "--server", base); code != 1 || !strings.Contains(stderr, "no model") {
		t.Fatalf("get after delete: %d %s", code, stderr)
	}
	if code, _, stderr = runCLI(t, "", "models", "list", "--server", "http://127.0.0.1:1"); code != 1 || !strings.Contains(stderr, "cannot reach the server") {
		t.Fatalf("server down: %d %s", code, stderr)
	}
}

// TestUploadTrainsModel posts a text file as multipart/form-data instead of
// URLs; the model trains from the stored upload.
func TestUploadTrainsModel(t *testing.T) {
	base := startServer(t)
	book, err := os.ReadFile("../../testdata/alice-in-wonderland_11-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("name", "alice upload")
	mw.WriteField("urls", "\n")
	mw.WriteField("params", `{"minCount": 2}`)
	fw, _ := mw.CreateFormFile("files", "alice.txt")
	fw.Write(book)
	mw.Close()
	resp, err := http.Post(base+"/models", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	checkAgainstSpec(t, "POST", base+"/models", resp.StatusCode, resp.Header, b)
	var m struct {
		ID      string
		Uploads []string
	}
	if err := json.Unmarshal(b, &m); err != nil || resp.StatusCode != 201 || len(m.Uploads) != 1 || m.Uploads[0] != "alice" {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	got := waitModel(t, base, m.ID, "ready")
	if s := got.Stats.Sources; len(s) != 1 || s[0].URL != "upload:alice" {
		t.Fatalf("sources %+v", s)
	}
	var q struct{ Query struct{ Results [][2]any } }
	if code, _ := call(t, "POST", base+"/queries", `{"model": "`+m.ID+`", "word": "alice"}`, &q); code != 201 || len(q.Query.Results) != 5 {
		t.Fatalf("query on the uploaded model: %d %+v", code, q)
	}

	// A form with neither URLs nor files is refused.
	body.Reset()
	mw = multipart.NewWriter(&body)
	mw.WriteField("name", "empty")
	mw.Close()
	resp, err = http.Post(base+"/models", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("empty form: %d", resp.StatusCode)
	}
}

// hangingBook serves Alice at /alice.txt; the first request sends half the
// book and then hangs until the client goes away (closing hanging when it
// starts to hang); later requests get the whole book.
func hangingBook(t *testing.T) (srv *httptest.Server, hanging <-chan struct{}, requests *atomic.Int32) {
	t.Helper()
	book, err := os.ReadFile("../../testdata/alice-in-wonderland_11-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	requests = new(atomic.Int32)
	hang := make(chan struct{})
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if requests.Add(1) == 1 {
			w.Write(book[:len(book)/2])
			w.(http.Flusher).Flush()
			close(hang)
			<-r.Context().Done()
			return
		}
		w.Write(book)
	}))
	t.Cleanup(srv.Close)
	return srv, hang, requests
}
