package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestCrashLoopEndsAfterMaxAttempts reproduces the crash loop of issue 10:
// a job whose process dies every time it runs (here: SIGKILL while its
// download hangs) was claimed again after every restart, forever. With
// --max-attempts 3, the fourth process to claim it fails it with a reason,
// and goes on serving.
func TestCrashLoopEndsAfterMaxAttempts(t *testing.T) {
	bin := binary(t)
	var requests atomic.Int32
	hanging := make(chan struct{}, 10)
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("the cat sat on the mat. ", 1000))
		w.(http.Flusher).Flush()
		hanging <- struct{}{}
		<-r.Context().Done()
	}))
	defer src.Close()
	dir := t.TempDir()
	args := []string{"serve", "--threads", "1", "--data-dir", dir, "--allow-private-urls", "--lease", "1s", "--max-attempts", "3"}
	p := startProc(t, bin, args...)
	var m struct{ ID string }
	if code, _ := call(t, "POST", p.base+"/models", `{"name": "doomed", "urls": ["`+src.URL+`/book.txt"]}`, &m); code != 201 {
		t.Fatalf("create: %d", code)
	}
	for i := range 3 {
		select {
		case <-hanging:
		case <-time.After(time.Minute):
			t.Fatalf("attempt %d never started: %s", i+1, p.logs.String())
		}
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		p = startProc(t, bin, args...)
	}
	got := waitModel(t, p.base, m.ID, "failed")
	if !strings.Contains(got.Error, "gave up after 3 attempts") {
		t.Fatalf("reason %q", got.Error)
	}
	if n := requests.Load(); n != 3 {
		t.Errorf("%d downloads, want 3", n)
	}
	if code, _ := call(t, "GET", p.base+"/healthz", "", nil); code != 200 {
		t.Fatalf("healthz %d", code)
	}
}

// hostileSources serves, on 127.0.0.1, a real book and the inputs a
// careless or hostile user points a model at.
func hostileSources(t *testing.T) *httptest.Server {
	t.Helper()
	book, err := os.ReadFile("../../testdata/alice-in-wonderland_11-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	// gzip inside gzip: ~300 MiB of text in a few KB on the wire.
	var inner bytes.Buffer
	zw := gzip.NewWriter(&inner)
	line := []byte(strings.Repeat("all work and no play makes jack a dull boy ", 100) + "\n")
	for n := 0; n < 300<<20; n += len(line) {
		zw.Write(line)
	}
	zw.Close()
	var outer bytes.Buffer
	zw = gzip.NewWriter(&outer)
	zw.Write(inner.Bytes())
	zw.Close()
	bomb := outer.Bytes()
	mux := http.NewServeMux()
	mux.HandleFunc("/alice.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(book)
	})
	mux.HandleFunc("/bomb.txt.gz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(bomb)
	})
	mux.HandleFunc("/endless.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		chunk := []byte(strings.Repeat("endless words without any end ", 1000))
		for r.Context().Err() == nil {
			if _, err := w.Write(chunk); err != nil {
				return
			}
		}
	})
	mux.HandleFunc("/trickle.txt", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for r.Context().Err() == nil {
			if _, err := io.WriteString(w, "a "); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(time.Second):
			}
		}
	})
	mux.HandleFunc("/binary.bin", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		b := make([]byte, 1<<16)
		for i := range b {
			b[i] = byte(i * 7)
		}
		w.Write(b)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// hostile is one request of the bad-request corpus.
type hostile struct {
	name, method, path, ctype string
	header                    map[string]string
	body                      []byte
	want                      int // 0: any 4xx
}

func multipartBody(t *testing.T, parts int, fields map[string]string) ([]byte, string) {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	for i := range parts {
		fw, _ := mw.CreateFormFile("files", fmt.Sprintf("f%d.txt", i))
		io.WriteString(fw, "some words ")
	}
	mw.Close()
	return b.Bytes(), mw.FormDataContentType()
}

func hostileCorpus(t *testing.T, src string) []hostile {
	js := "application/json"
	model := func(name, rest string) []byte {
		return []byte(`{"name": "` + name + `", ` + rest + `}`)
	}
	manyParts, manyType := multipartBody(t, 2000, map[string]string{"name": "parts"})
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("x"), 1<<20))
	zw.Close()
	cs := []hostile{
		{"alpha 5", "POST", "/models", js, nil, model("a5", `"urls": ["`+src+`/alice.txt"], "params": {"alpha": 5}`), 400},
		{"negative 1000", "POST", "/models", js, nil, model("n1000", `"urls": ["`+src+`/alice.txt"], "params": {"negative": 1000}`), 400},
		{"dim 10000", "POST", "/models", js, nil, model("d", `"urls": ["`+src+`/alice.txt"], "params": {"dim": 10000, "minCount": 1}`), 400},
		{"window 1e9", "POST", "/models", js, nil, model("w", `"urls": ["`+src+`/alice.txt"], "params": {"window": 1000000000}`), 400},
		{"epochs huge", "POST", "/models", js, nil, model("e", `"urls": ["`+src+`/alice.txt"], "params": {"epochs": 99999999999999999999}`), 400},
		{"alpha NaN text", "POST", "/models", js, nil, model("nan", `"urls": ["`+src+`/alice.txt"], "params": {"alpha": "NaN"}`), 400},
		{"sample 1", "POST", "/models", js, nil, model("s", `"urls": ["`+src+`/alice.txt"], "params": {"sample": 1}`), 400},
		{"text/plain JSON", "POST", "/models", "text/plain", nil, model("tp", `"urls": ["`+src+`/alice.txt"]`), 415},
		{"no content type", "POST", "/queries", "", nil, []byte(`{"model": "x", "word": "y"}`), 415},
		{"cross-origin multipart", "POST", "/models", manyType, map[string]string{"Origin": "http://evil.example"}, manyParts, 403},
		{"cross-site fetch", "DELETE", "/models/00000000-0000-4000-8000-000000000000", "", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://evil.example"}, nil, 403},
		{"rebinding host", "GET", "/models", "", map[string]string{"Host": "evil.example"}, nil, 0},
		{"too many parts", "POST", "/models", manyType, nil, manyParts, 413},
		{"json array", "POST", "/models", js, nil, []byte(`[1, 2, 3]`), 400},
		{"json string", "POST", "/queries", js, nil, []byte(`"darcy"`), 400},
		{"json truncated", "POST", "/models", js, nil, []byte(`{"name": "x", "urls": ["`), 400},
		{"json two values", "POST", "/models", js, nil, []byte(`{} {}`), 400},
		{"json deep", "POST", "/models", js, nil, []byte(strings.Repeat("[", 100000)), 400},
		{"json huge", "POST", "/models", js, nil, append([]byte(`{"name": "`), bytes.Repeat([]byte("x"), 3<<20)...), 413},
		{"gzip body", "POST", "/models", js, map[string]string{"Content-Encoding": "gzip"}, gz.Bytes(), 0},
		{"unknown field", "POST", "/models", js, nil, model("u", `"urls": ["`+src+`/alice.txt"], "evil": true`), 400},
		{"file url", "POST", "/models", js, nil, model("f", `"urls": ["file:///etc/passwd"]`), 400},
		{"gopher url", "POST", "/models", js, nil, model("g", `"urls": ["gopher://127.0.0.1:70/"]`), 400},
		{"too many urls", "POST", "/models", js, nil, model("many", `"urls": [`+strings.Repeat(`"`+src+`/alice.txt",`, 200)+`"x"]`), 400},
		{"long name", "POST", "/models", js, nil, model(strings.Repeat("n", 10000), `"urls": ["`+src+`/alice.txt"]`), 400},
		{"query no model", "POST", "/queries", js, nil, []byte(`{"model": "00000000-0000-4000-8000-000000000000", "word": "alice"}`), 404},
		{"query count huge", "POST", "/queries", js, nil, []byte(`{"model": "00000000-0000-4000-8000-000000000000", "word": "alice", "count": 1000000000}`), 400},
		{"query count negative", "POST", "/queries", js, nil, []byte(`{"model": "x", "word": "alice", "count": -1}`), 400},
		{"bad id", "GET", "/models/../../etc/passwd", "", nil, nil, 0},
		{"bad query id", "GET", "/queries/%00", "", nil, nil, 0},
		{"import garbage", "POST", "/models/import?name=g", "application/octet-stream", nil, []byte("\x00\x01garbage\xff"), 400},
		{"import zero words", "POST", "/models/import?name=z", "text/plain", nil, []byte("0 100\n"), 400},
		{"import lying header", "POST", "/models/import?name=l", "text/plain", nil, []byte("100000000 300\nword 1 2 3\n"), 400},
		{"import no name", "POST", "/models/import", "text/plain", nil, []byte("1 2\nw 1 2\n"), 400},
		{"made-up method", "FROB", "/models", "", nil, nil, 0},
		{"limit bad", "GET", "/queries?limit=-5", "", nil, nil, 400},
		{"limit huge", "GET", "/queries?limit=99999999999999999999", "", nil, nil, 400},
		{"after garbage", "GET", "/queries?after=%ff%fe", "", nil, nil, 400},
		{"no such path", "GET", "/" + strings.Repeat("a/", 2000), "", nil, nil, 404},
	}
	return cs
}

// TestSurvivesHostileRequests runs the real binary, trains a model while
// sending it the whole bad-request corpus (every reproduction of issue 10,
// plus malformed and random bodies, slow bodies and hostile sources), and
// checks that the process never exits, /healthz answers throughout, no
// request gets a 5xx, no answer shows the data directory, and every model
// ends ready or failed.
func TestSurvivesHostileRequests(t *testing.T) {
	bin := binary(t)
	src := hostileSources(t)
	dir := t.TempDir()
	p := startProc(t, bin, "serve", "--threads", "1", "--data-dir", dir, "--allow-private-urls",
		"--idle-timeout", "2s", "--max-conns", "400", "--max-job-time", "40s", "--workers", "2")
	base := p.base

	// /healthz throughout.
	stopHealth := make(chan struct{})
	var healthFailures atomic.Int32
	var healthWG sync.WaitGroup
	healthWG.Go(func() {
		c := &http.Client{Timeout: 5 * time.Second}
		for {
			select {
			case <-stopHealth:
				return
			case <-time.After(100 * time.Millisecond):
			}
			resp, err := c.Get(base + "/healthz")
			if err != nil || resp.StatusCode != 200 {
				healthFailures.Add(1)
				t.Logf("healthz: %v", err)
			}
			if resp != nil {
				resp.Body.Close()
			}
		}
	})

	client := &http.Client{Timeout: 30 * time.Second}
	send := func(h hostile) (int, []byte) {
		var body io.Reader
		if h.body != nil {
			body = bytes.NewReader(h.body)
		}
		req, err := http.NewRequest(h.method, base+h.path, body)
		if err != nil {
			t.Fatalf("%s: %v", h.name, err)
		}
		if h.ctype != "" {
			req.Header.Set("Content-Type", h.ctype)
		}
		for k, v := range h.header {
			if k == "Host" {
				req.Host = v
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := client.Do(req)
		if err != nil {
			return 0, []byte(err.Error())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return resp.StatusCode, b
	}
	create := func(name, body string) string {
		code, b := send(hostile{method: "POST", path: "/models", ctype: "application/json", body: []byte(body)})
		if code != 201 {
			t.Fatalf("%s: %d %s", name, code, b)
		}
		var m struct{ ID string }
		json.Unmarshal(b, &m)
		return m.ID
	}

	// Models that must end: a good one, and the hostile sources.
	good := create("good", `{"name": "alice", "urls": ["`+src.URL+`/alice.txt"], "params": {"minCount": 2, "epochs": 20}}`)
	ending := map[string]string{
		create("diverges", `{"name": "diverges", "urls": ["`+src.URL+`/alice.txt"], "params": {"alpha": 0.9, "minCount": 2}}`): "diverged",
		create("bomb", `{"name": "bomb", "urls": ["`+src.URL+`/bomb.txt.gz"]}`):                                                "compressed",
		create("endless", `{"name": "endless", "urls": ["`+src.URL+`/endless.txt"]}`):                                          "limit",
		create("trickle", `{"name": "trickle", "urls": ["`+src.URL+`/trickle.txt"]}`):                                          "",
		create("binary", `{"name": "binary", "urls": ["`+src.URL+`/binary.bin"]}`):                                             "",
		create("refused", `{"name": "refused", "urls": ["http://127.0.0.1:1/x.txt"]}`):                                         "",
	}

	// 300 slow-body connections: each sends headers and a few bytes of a
	// body it never finishes.
	addr := strings.TrimPrefix(base, "http://")
	var slow []net.Conn
	for range 300 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatalf("slow connection: %v", err)
		}
		fmt.Fprintf(c, "POST /models HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"na", addr)
		slow = append(slow, c)
	}

	// The corpus, concurrently with training, then random bodies.
	var wg sync.WaitGroup
	var mu sync.Mutex
	var problems []string
	report := func(format string, args ...any) {
		mu.Lock()
		problems = append(problems, fmt.Sprintf(format, args...))
		mu.Unlock()
	}
	check := func(h hostile, code int, b []byte) {
		switch {
		case code == 0:
			report("%s: no answer: %s", h.name, b)
		case code >= 500:
			report("%s: %d %s", h.name, code, b)
		case h.want != 0 && code != h.want:
			report("%s: %d, want %d: %s", h.name, code, h.want, b)
		case h.want == 0 && (code < 400 || code >= 500):
			report("%s: %d, want a 4xx: %s", h.name, code, b)
		case bytes.Contains(b, []byte(dir)):
			report("%s: the answer shows the data directory: %s", h.name, b)
		case regexp.MustCompile(`Go value|\*int|main\.|http\.[a-z]+Request|\bstruct\b`).Match(b):
			report("%s: the answer names Go types: %s", h.name, b)
		}
	}
	for _, h := range hostileCorpus(t, src.URL) {
		wg.Go(func() {
			code, b := send(h)
			check(h, code, b)
		})
	}
	wg.Wait()
	paths := []string{"/models", "/queries", "/models/import?name=r", "/models/" + good + "/similar?word=alice",
		"/models/" + good + "/analogy?positive=a&negative=a", "/queries?limit=3"}
	methods := []string{"GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "BREW"}
	ctypes := []string{"application/json", "multipart/form-data; boundary=xyz", "text/plain", "application/octet-stream", ""}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		b := make([]byte, r.IntN(2000))
		for j := range b {
			b[j] = byte(r.IntN(256))
		}
		if i%3 == 0 { // JSON-ish
			b = append([]byte(`{"name": "r", "urls": [`), b...)
		}
		h := hostile{name: fmt.Sprintf("random %d", i), method: methods[r.IntN(len(methods))], path: paths[r.IntN(len(paths))],
			ctype: ctypes[r.IntN(len(ctypes))], body: b}
		code, out := send(h)
		if code == 0 || code >= 500 {
			report("%s %s %s: %d %s", h.name, h.method, h.path, code, out)
		}
	}

	// The slow connections are cut by the server (idle timeout 2 s).
	deadline := time.Now().Add(20 * time.Second)
	cut := 0
	for _, c := range slow {
		c.SetReadDeadline(deadline)
		if _, err := io.ReadAll(c); err == nil || !isTimeout(err) {
			cut++
		}
		c.Close()
	}
	if cut != len(slow) {
		report("%d of %d slow-body connections still open after 20 s", len(slow)-cut, len(slow))
	}

	// Every model ends, with a reason where it failed.
	if st := waitModel(t, base, good, "ready"); st.Status != "ready" {
		t.Fatalf("good model: %+v", st)
	}
	for id, want := range ending {
		st := waitEnd(t, base, id, 90*time.Second, p.logs)
		if st.Status != "failed" || st.Error == "" || !strings.Contains(st.Error, want) {
			report("model %s: %s %q, want failed with %q", id, st.Status, st.Error, want)
		}
		if strings.Contains(st.Error, dir) {
			report("model %s: the reason shows the data directory: %q", id, st.Error)
		}
	}
	close(stopHealth)
	healthWG.Wait()
	// A process that exited would have failed the probes; one more, and
	// its state in /proc (not a zombie), to be sure.
	if resp, err := http.Get(base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the server is gone: %v\n%s", err, p.logs.String())
	} else {
		resp.Body.Close()
	}
	if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid)); err == nil && bytes.Contains(st, []byte(") Z ")) {
		t.Fatalf("the server exited\n%s", p.logs.String())
	}
	if n := healthFailures.Load(); n > 0 {
		report("/healthz failed %d times", n)
	}
	for _, pr := range problems {
		t.Error(pr)
	}
}

func isTimeout(err error) bool {
	ne, ok := err.(net.Error)
	return ok && ne.Timeout()
}

// waitEnd polls a model until it is ready or failed.
func waitEnd(t *testing.T, base, id string, d time.Duration, logs *syncBuffer) modelState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	var got struct{ Model modelState }
	eventually(t, d, 100*time.Millisecond, func() (bool, string) {
		got.Model = modelState{}
		req, _ := http.NewRequestWithContext(ctx, "GET", base+"/models/"+id, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			json.NewDecoder(resp.Body).Decode(&got)
			resp.Body.Close()
		}
		return got.Model.Status == "ready" || got.Model.Status == "failed", fmt.Sprintf("model %s did not end: %+v\n%s", id, got.Model, logs)
	})
	return got.Model
}

// TestUploadOverJobMemoryRefusedAtCreate reproduces issue 10's
// {"dim":10000,"minCount":1} on an upload (67 GiB needed, accepted with a
// 201): the estimate is made when the model is created, and a model over
// --max-job-memory is a 400 naming the estimate and the limit. The same
// text and settings within the limit train.
func TestUploadOverJobMemoryRefusedAtCreate(t *testing.T) {
	book, err := os.ReadFile("../../testdata/alice-in-wonderland_11-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	post := func(base string) (int, errorsBody) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		mw.WriteField("name", "big")
		mw.WriteField("params", `{"dim": 1000, "minCount": 1}`)
		fw, _ := mw.CreateFormFile("files", "alice.txt")
		fw.Write(book)
		mw.Close()
		resp, err := http.Post(base+"/models", mw.FormDataContentType(), &b)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var eb errorsBody
		json.NewDecoder(resp.Body).Decode(&eb)
		return resp.StatusCode, eb
	}
	code, eb := post(startServer(t, "--max-job-memory", "16MiB"))
	if code != 400 || len(eb.Errors) != 1 || !strings.Contains(eb.Errors[0].Details, "more than the memory limit of 16 MiB") {
		t.Fatalf("over the limit: %d %+v", code, eb)
	}
	if code, eb := post(startServer(t, "--max-job-memory", "1GiB")); code != 201 {
		t.Fatalf("within the limit: %d %+v", code, eb)
	}
}
