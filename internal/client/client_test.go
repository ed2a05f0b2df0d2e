package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// TestResultsAfterTheCall: the methods that decode into a wrapper return
// what the server answered (the result is read after the request, not
// before it), and nil with the error when the server refuses.
func TestResultsAfterTheCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "GET /models/m1":
			json.NewEncoder(w).Encode(map[string]any{"model": ophicleide.Model{ID: "m1", Name: "austen"}})
		case "POST /queries":
			json.NewEncoder(w).Encode(map[string]any{"query": ophicleide.Query{ID: "q1", Word: "darcy", ModelID: "m1"}})
		case "POST /models":
			json.NewEncoder(w).Encode(ophicleide.Model{ID: "m2", Name: "emma"})
		case "GET /models":
			json.NewEncoder(w).Encode(ophicleide.ModelPage{Models: []*ophicleide.Model{{ID: "m1"}}})
		case "GET /queries":
			json.NewEncoder(w).Encode(ophicleide.QueryPage{Queries: []*ophicleide.Query{{ID: "q1"}}})
		default:
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[{"details":"no such thing"}]}`))
		}
	}))
	defer srv.Close()
	c := New(srv.URL)
	ctx := t.Context()

	if m, err := c.Model(ctx, "m1"); err != nil || m == nil || m.Name != "austen" {
		t.Errorf("Model = %+v, %v", m, err)
	}
	if q, err := c.Query(ctx, "m1", "darcy", 3); err != nil || q == nil || q.Word != "darcy" {
		t.Errorf("Query = %+v, %v", q, err)
	}
	if m, err := c.CreateModel(ctx, "emma", nil, ophicleide.Params{}); err != nil || m.ID != "m2" {
		t.Errorf("CreateModel = %+v, %v", m, err)
	}
	if p, err := c.ModelsPage(ctx, ophicleide.Page{}); err != nil || len(p.Models) != 1 {
		t.Errorf("ModelsPage = %+v, %v", p, err)
	}
	if p, err := c.Queries(ctx, "", ophicleide.Page{}); err != nil || len(p.Queries) != 1 {
		t.Errorf("Queries = %+v, %v", p, err)
	}
	m, err := c.Model(ctx, "nope")
	if m != nil || ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Errorf("Model of an unknown id = %+v, %v; want nil, ENOTFOUND", m, err)
	}
}

// TestClientSendsTokenAndMapsAccessErrors: with a token every request
// carries "Authorization: Bearer TOKEN" (without one, no Authorization);
// 401, 403 and 429 come back as EUNAUTHORIZED, EFORBIDDEN and ELIMITED
// with the server's words, 429 with Retry-After in seconds or as a date;
// no message holds the token.
func TestClientSendsTokenAndMapsAccessErrors(t *testing.T) {
	const secret = "s3cret-token-value"
	var seen []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		auth := r.Header.Get("Authorization")
		switch {
		case auth == "":
			w.Header().Set("WWW-Authenticate", `Bearer realm="ophicleide"`)
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"status":401,"title":"Unauthorized","details":"this server needs an API key"}]}`))
		case auth != "Bearer "+secret:
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"errors":[{"status":401,"title":"Unauthorized","details":"unknown API key"}]}`))
		case r.Method == "DELETE":
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":[{"status":403,"title":"Forbidden","details":"a read key may not delete models"}]}`))
		case r.URL.Path == "/queries":
			w.Header().Set("Retry-After", "7")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"errors":[{"status":429,"title":"Too Many Requests","details":"over the rate limit of this key"}]}`))
		case r.URL.Path == "/models" && r.Method == "POST":
			w.Header().Set("Retry-After", time.Now().Add(90*time.Second).UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"errors":[{"status":429,"details":"this key has 2 models queued or training, its quota"}]}`))
		default:
			json.NewEncoder(w).Encode(ophicleide.ModelPage{Models: []*ophicleide.Model{{ID: "m1", Name: "austen"}}})
		}
	}))
	defer srv.Close()
	ctx := t.Context()

	anon := New(srv.URL)
	_, err := anon.Models(ctx)
	if ophicleide.ErrorCode(err) != ophicleide.EUNAUTHORIZED || !strings.Contains(ophicleide.ErrorMessage(err), "needs an API key") {
		t.Errorf("no key: %v (code %s), want EUNAUTHORIZED with the server's words", err, ophicleide.ErrorCode(err))
	}
	if _, err := anon.WithToken("wrong").Models(ctx); ophicleide.ErrorCode(err) != ophicleide.EUNAUTHORIZED || strings.Contains(err.Error(), "wrong") {
		t.Errorf("unknown key: %v", err)
	}
	c := anon.WithToken(secret)
	if anon.HasToken() || !c.HasToken() {
		t.Error("WithToken changed the original client or HasToken is wrong")
	}
	if ms, err := c.Models(ctx); err != nil || len(ms) != 1 {
		t.Errorf("Models with the key: %v, %v", ms, err)
	}
	err = c.DeleteModel(ctx, "m1")
	if ophicleide.ErrorCode(err) != ophicleide.EFORBIDDEN || !strings.Contains(err.Error(), "may not delete") || !strings.Contains(err.Error(), "HTTP 403") {
		t.Errorf("403: %v (code %s)", err, ophicleide.ErrorCode(err))
	}
	_, err = c.Query(ctx, "m1", "darcy", 3)
	var e *ophicleide.Error
	if !errors.As(err, &e) || e.Code != ophicleide.ELIMITED || e.RetryAfter != 7*time.Second {
		t.Errorf("429 with Retry-After 7: %#v", err)
	}
	_, err = c.CreateModel(ctx, "emma", []string{"http://example.com/emma.txt"}, ophicleide.Params{})
	if !errors.As(err, &e) || e.Code != ophicleide.ELIMITED || e.RetryAfter < 80*time.Second || e.RetryAfter > 100*time.Second {
		t.Errorf("429 with a Retry-After date 90 s ahead: %#v", err)
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("an error holds the token: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	for i, s := range seen {
		wantKey := i >= 2
		if got := strings.HasSuffix(s, " Bearer "+secret); got != wantKey {
			t.Errorf("request %d (%s): sent the key %v, want %v", i, s, got, wantKey)
		}
	}
	if !strings.HasSuffix(seen[0], "/models ") {
		t.Errorf("a client without a token sent Authorization: %q", seen[0])
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for h, want := range map[string]time.Duration{
		"": 0, "3": 3 * time.Second, " 120 ": 2 * time.Minute, "-1": 0, "soon": 0,
		now.Add(time.Minute).Format(http.TimeFormat): time.Minute, now.Add(-time.Minute).Format(http.TimeFormat): 0,
	} {
		if got := retryAfter(h, now); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", h, got, want)
		}
	}
}

// TestCreateModelRequest: without files the request is the API's JSON
// (params only as given, urls [] rather than null); with files it is the
// page's multipart form, the files streamed as "files" parts under their
// base names; a file that cannot be read fails before anything is sent;
// a cancelled context is context.Canceled, not "cannot reach".
func TestCreateModelRequest(t *testing.T) {
	type got struct {
		ctype  string
		fields map[string][]string
		files  map[string]string
		json   map[string]any
	}
	var mu sync.Mutex
	var last *got
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g := &got{ctype: r.Header.Get("Content-Type"), files: map[string]string{}}
		if strings.HasPrefix(g.ctype, "multipart/form-data") {
			if err := r.ParseMultipartForm(1 << 20); err != nil {
				t.Errorf("multipart: %v", err)
			}
			g.fields = r.MultipartForm.Value
			for _, fh := range r.MultipartForm.File["files"] {
				f, _ := fh.Open()
				b, _ := io.ReadAll(f)
				f.Close()
				g.files[fh.Filename] = string(b)
			}
		} else if err := json.NewDecoder(r.Body).Decode(&g.json); err != nil {
			t.Errorf("JSON: %v", err)
		}
		mu.Lock()
		last = g
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(201)
		json.NewEncoder(w).Encode(ophicleide.Model{ID: "m9", Name: "x", Status: ophicleide.StatusQueued})
	}))
	defer srv.Close()
	get := func() *got {
		mu.Lock()
		defer mu.Unlock()
		return last
	}
	c := New(srv.URL)
	ctx := t.Context()

	m, err := c.CreateModelRequest(ctx, ModelRequest{Name: "austen", URLs: []string{"http://example.org/a.txt"}, Params: map[string]any{"dim": 20, "sample": -1.0}})
	if err != nil || m.ID != "m9" {
		t.Fatalf("JSON create: %+v %v", m, err)
	}
	if get().ctype != "application/json" || get().json["name"] != "austen" || get().json["params"].(map[string]any)["dim"] != 20.0 ||
		get().json["params"].(map[string]any)["sample"] != -1.0 || len(get().json["params"].(map[string]any)) != 2 || get().json["callback"] != nil {
		t.Errorf("JSON body: %+v", get())
	}
	if _, err := c.CreateModelRequest(ctx, ModelRequest{Name: "none"}); err != nil {
		t.Fatal(err)
	}
	if urls, ok := get().json["urls"].([]any); !ok || len(urls) != 0 || get().json["params"] != nil {
		t.Errorf("no URLs, no params: %+v", get().json)
	}

	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.txt"), filepath.Join(dir, "sub", "b.txt")
	os.MkdirAll(filepath.Dir(b), 0o755)
	os.WriteFile(a, []byte("It is a truth universally acknowledged."), 0o644)
	os.WriteFile(b, []byte(strings.Repeat("x ", 200_000)), 0o644)
	_, err = c.CreateModelRequest(ctx, ModelRequest{Name: "files", URLs: []string{"http://example.org/1", "http://example.org/2"},
		Callback: "http://example.org/done", Params: map[string]any{"epochs": 2}, Files: []string{a, b}})
	if err != nil {
		t.Fatal(err)
	}
	f := get().fields
	if !strings.HasPrefix(get().ctype, "multipart/form-data") || f["name"][0] != "files" || len(f["urls"]) != 2 || f["callback"][0] != "http://example.org/done" ||
		f["params"][0] != `{"epochs":2}` || get().files["a.txt"] != "It is a truth universally acknowledged." || len(get().files["b.txt"]) != 400_000 {
		t.Errorf("multipart: %q %v files %d", get().ctype, f, len(get().files))
	}
	if _, err := c.CreateModelRequest(ctx, ModelRequest{Name: "p", Files: []string{a}}); err != nil || get().fields["params"][0] != "{}" {
		t.Errorf("multipart without params: %v %v", err, get().fields)
	}

	mu.Lock()
	last = nil
	mu.Unlock()
	for _, bad := range []string{filepath.Join(dir, "missing.txt"), dir} {
		if _, err := c.CreateModelRequest(ctx, ModelRequest{Name: "bad", Files: []string{a, bad}}); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("file %s: %v, want an error naming it", bad, err)
		}
	}
	if get() != nil {
		t.Errorf("a request with an unreadable file was sent: %+v", get())
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.CreateModelRequest(cctx, ModelRequest{Name: "c", URLs: []string{"http://example.org/a"}}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}

// TestResolve: an id, a unique name or an id prefix of 8+ characters
// resolve; a shared name is EINVALID listing every model of that name
// with its created time; a short or unknown reference is ENOTFOUND; an
// exact id wins over a name.
func TestResolve(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	models := []*ophicleide.Model{
		{ID: "aaaaaaaa-0001", Name: "twin", Status: "ready", Created: t0},
		{ID: "aaaaaaaa-0002", Name: "twin", Status: "training", Created: t0.Add(time.Hour)},
		{ID: "bbbbbbbb-0003", Name: "solo", Status: "ready", Created: t0},
		{ID: "cccccccc-0004", Name: "aaaaaaaa-0002", Status: "ready", Created: t0}, // a name that is another's id
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(ophicleide.ModelPage{Models: models})
	}))
	defer srv.Close()
	c := New(srv.URL)
	for ref, want := range map[string]string{
		"aaaaaaaa-0001": "aaaaaaaa-0001", "solo": "bbbbbbbb-0003", "bbbbbbbb": "bbbbbbbb-0003", "bbbbbbbb-00": "bbbbbbbb-0003",
		"aaaaaaaa-0002": "aaaaaaaa-0002", "cccccccc": "cccccccc-0004",
	} {
		if id, err := c.Resolve(t.Context(), ref); err != nil || id != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", ref, id, err, want)
		}
	}
	_, err := c.Resolve(t.Context(), "twin")
	if ophicleide.ErrorCode(err) != ophicleide.EINVALID || !strings.Contains(err.Error(), "aaaaaaaa-0001 (created 2026-12-01 10:00:00 UTC, ready)") ||
		!strings.Contains(err.Error(), "aaaaaaaa-0002 (created 2026-12-01 11:00:00 UTC, training)") {
		t.Errorf("Resolve(twin) = %v", err)
	}
	if _, err := c.Resolve(t.Context(), "aaaaaaaa"); ophicleide.ErrorCode(err) != ophicleide.EINVALID || !strings.Contains(err.Error(), "give more of the id") {
		t.Errorf("Resolve of a shared prefix = %v", err)
	}
	for _, ref := range []string{"bbbbbbb", "nope", "", strings.Repeat("z", 10_000)} {
		if _, err := c.Resolve(t.Context(), ref); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
			t.Errorf("Resolve(%.20q) = %v, want ENOTFOUND", ref, err)
		}
	}
}
