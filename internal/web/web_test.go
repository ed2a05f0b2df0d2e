package web

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
)

// TestWebProxyPassesKeys: the web role's proxy hands the API key headers
// (Authorization, X-API-Key) to the training server unchanged, passes its
// 401 (with WWW-Authenticate), 403 and 429 (with Retry-After) back to the
// page, and writes no key to its log, also when the training server is
// down.
func TestWebProxyPassesKeys(t *testing.T) {
	var mu sync.Mutex
	got := map[string]http.Header{}
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path] = r.Header.Clone()
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/api/models":
			if r.Header.Get("Authorization") == "" && r.Header.Get("X-API-Key") == "" {
				w.Header().Set("WWW-Authenticate", `Bearer realm="ophicleide"`)
				w.WriteHeader(http.StatusUnauthorized)
				w.Write([]byte(`{"errors":[{"status":401,"details":"an API key is required"}]}`))
				return
			}
			w.Write([]byte(`{"models":[]}`))
		case "/api/queries":
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusTooManyRequests)
			w.Write([]byte(`{"errors":[{"status":429,"details":"slow down"}]}`))
		default:
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"errors":[{"status":403,"details":"not yours"}]}`))
		}
	}))
	defer api.Close()
	target, _ := url.Parse(api.URL)
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	front := httptest.NewServer(Handler(target, log, http.NotFoundHandler()))
	defer front.Close()

	send := func(method, path string, header map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(method, front.URL+path, strings.NewReader(""))
		for k, v := range header {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp
	}

	resp := send("GET", "/api/models", nil)
	if resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no key: %d, WWW-Authenticate %q; want the API's 401 with its challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	const bearer, apiKey = "Bearer bearer-secret-1", "header-secret-2"
	if resp := send("GET", "/api/models", map[string]string{"Authorization": bearer}); resp.StatusCode != 200 {
		t.Errorf("with a bearer key: %d", resp.StatusCode)
	}
	mu.Lock()
	if h := got["/api/models"].Get("Authorization"); h != bearer {
		t.Errorf("the training server got Authorization %q, want %q", h, bearer)
	}
	mu.Unlock()
	if resp := send("DELETE", "/api/models/m1", map[string]string{"X-API-Key": apiKey}); resp.StatusCode != 403 {
		t.Errorf("403 passed back as %d", resp.StatusCode)
	}
	mu.Lock()
	if h := got["/api/models/m1"].Get("X-API-Key"); h != apiKey {
		t.Errorf("the training server got X-API-Key %q, want %q", h, apiKey)
	}
	mu.Unlock()
	if resp := send("POST", "/api/queries", map[string]string{"Authorization": bearer}); resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("429 passed back as %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}

	api.Close() // the training server goes away
	if resp := send("GET", "/api/models", map[string]string{"Authorization": bearer, "X-API-Key": apiKey}); resp.StatusCode != 503 {
		t.Errorf("training server down: %d, want 503", resp.StatusCode)
	}
	if l := logs.String(); strings.Contains(l, "secret") {
		t.Errorf("a key is in the web role's log:\n%s", l)
	}
}

// TestWebPageAsksForKeys: the page has the key dialog and sign-out, and
// keeps the key in sessionStorage only (never localStorage, which holds
// the history of analogies only, or a cookie).
func TestWebPageAsksForKeys(t *testing.T) {
	rec := httptest.NewRecorder()
	Page().ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	for _, want := range []string{`<dialog id="key-dialog"`, `id="key-input"`, `type="password"`, `id="sign-out"`, `aria-labelledby="key-title"`} {
		if !strings.Contains(rec.Body.String(), want) {
			t.Errorf("the page lacks %s", want)
		}
	}
	rec = httptest.NewRecorder()
	Page().ServeHTTP(rec, httptest.NewRequest("GET", "/static/app.js", nil))
	js := rec.Body.String()
	// localStorage holds the page's own history of analogies only.
	other := strings.NewReplacer("localStorage.getItem(HISTORY_STORE)", "", "localStorage.setItem(HISTORY_STORE,", "").Replace(js)
	if !strings.Contains(js, "sessionStorage") || strings.Contains(other, "localStorage") || strings.Contains(js, "document.cookie") {
		t.Error("the key is not kept in sessionStorage alone")
	}
	if !strings.Contains(js, `"Bearer " + key`) {
		t.Error("the page does not send the key as a Bearer token")
	}
}

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
