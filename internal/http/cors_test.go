package http

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const notebook = "https://notebooks.example:8443"

// corsAPI is the API (a server over the in-memory services, its write
// guard trusting origins as cmd/ophicleide wires it) behind CORS for
// origins.
func corsAPI(t *testing.T, origins ...string) http.Handler {
	t.Helper()
	mem := newMemService()
	mem.addReady("m", "a", "b")
	s := NewServer(mem, mem, slog.New(slog.NewTextHandler(io.Discard, nil)), "test")
	if _, err := s.WithHostPolicy(HostPolicy{Addr: "127.0.0.1:8080", AllowedOrigins: origins}); err != nil {
		t.Fatal(err)
	}
	h, err := CORS(s, origins)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func corsDo(h http.Handler, method, path string, headers ...string) *httptest.ResponseRecorder {
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader(`{"name": "x", "urls": ["http://example.org/a.txt"]}`)
	}
	r := httptest.NewRequest(method, "http://127.0.0.1:8080"+path, body)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Header.Set(headers[i], headers[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func hasVary(h http.Header, name string) bool {
	for _, v := range h.Values("Vary") {
		for _, f := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(f), name) {
				return true
			}
		}
	}
	return false
}

func TestCORSPreflightAllowed(t *testing.T) {
	h := corsAPI(t, notebook+"/", "http://localhost:8888")
	for _, c := range []struct{ origin, method, path string }{
		{notebook, "POST", "/models"},
		{notebook, "DELETE", someModel},
		{"http://localhost:8888", "GET", "/api/models/x/similar?word=a"},
		{"HTTPS://Notebooks.Example:8443", "POST", "/queries"},
	} {
		w := corsDo(h, "OPTIONS", c.path, "Origin", c.origin, "Access-Control-Request-Method", c.method,
			"Access-Control-Request-Headers", "authorization,content-type")
		got := w.Header()
		if w.Code != http.StatusNoContent || w.Body.Len() != 0 {
			t.Errorf("preflight %s %s from %s: %d %s, want 204", c.method, c.path, c.origin, w.Code, w.Body)
		}
		if v := got.Get("Access-Control-Allow-Origin"); v != c.origin {
			t.Errorf("preflight from %s: Access-Control-Allow-Origin %q, want the origin", c.origin, v)
		}
		if v := got.Get("Access-Control-Allow-Methods"); !strings.Contains(v, c.method) {
			t.Errorf("preflight %s: Access-Control-Allow-Methods %q", c.method, v)
		}
		for _, name := range []string{"Authorization", "X-API-Key", "Content-Type"} {
			if v := got.Get("Access-Control-Allow-Headers"); !strings.Contains(v, name) {
				t.Errorf("preflight: Access-Control-Allow-Headers %q lacks %s", v, name)
			}
		}
		if got.Get("Access-Control-Max-Age") == "" || !hasVary(got, "Origin") {
			t.Errorf("preflight: headers %v, want Access-Control-Max-Age and Vary: Origin", got)
		}
		if v := got.Get("Access-Control-Allow-Credentials"); v != "" {
			t.Errorf("preflight: Access-Control-Allow-Credentials %q, want none", v)
		}
	}
}

func TestCORSPreflightRefused(t *testing.T) {
	h := corsAPI(t, notebook)
	for _, origin := range []string{"https://evil.example", "http://notebooks.example:8443", "https://notebooks.example", "null"} {
		w := corsDo(h, "OPTIONS", "/models", "Origin", origin, "Access-Control-Request-Method", "POST")
		var got struct{ Errors []apiError }
		json.Unmarshal(w.Body.Bytes(), &got)
		if w.Code != http.StatusForbidden || len(got.Errors) != 1 || !strings.Contains(got.Errors[0].Details, origin) {
			t.Errorf("preflight from %s: %d %s, want 403 naming the origin", origin, w.Code, w.Body)
		}
		if origin != "null" && !strings.Contains(got.Errors[0].Details, "--cors-origins "+origin) {
			t.Errorf("preflight from %s: %q, want the flag named", origin, got.Errors[0].Details)
		}
		if v := w.Header().Get("Access-Control-Allow-Origin"); v != "" || !hasVary(w.Header(), "Origin") {
			t.Errorf("refused preflight from %s: Access-Control-Allow-Origin %q, Vary %q", origin, v, w.Header().Values("Vary"))
		}
	}
	// OPTIONS without Access-Control-Request-Method is no preflight: the
	// router's answer.
	if w := corsDo(h, "OPTIONS", "/models", "Origin", notebook); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("OPTIONS without a requested method: %d, want the router's 405", w.Code)
	}
}

func TestCORSActualRequests(t *testing.T) {
	h := corsAPI(t, notebook)
	// Reads and writes from the allowed origin: answered with CORS
	// headers; the write guard lets them through.
	for _, c := range []struct {
		method, path string
		status       int
	}{{"GET", "/models", 200}, {"POST", "/api/models", 201}, {"GET", "/api/no-such", 404}} {
		w := corsDo(h, c.method, c.path, "Origin", notebook, "Sec-Fetch-Site", "cross-site")
		if w.Code != c.status {
			t.Errorf("%s %s from %s: %d %s, want %d", c.method, c.path, notebook, w.Code, w.Body, c.status)
		}
		if v := w.Header().Get("Access-Control-Allow-Origin"); v != notebook || !hasVary(w.Header(), "Origin") {
			t.Errorf("%s %s: Access-Control-Allow-Origin %q Vary %q", c.method, c.path, v, w.Header().Values("Vary"))
		}
		if v := w.Header().Get("Access-Control-Expose-Headers"); !strings.Contains(v, "Retry-After") || !strings.Contains(v, "Location") {
			t.Errorf("%s %s: Access-Control-Expose-Headers %q", c.method, c.path, v)
		}
	}
	// Another origin: no CORS headers, and its writes are refused by the
	// guard as before.
	w := corsDo(h, "GET", "/models", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if w.Code != 200 || w.Header().Get("Access-Control-Allow-Origin") != "" || !hasVary(w.Header(), "Origin") {
		t.Errorf("GET from another origin: %d, headers %v", w.Code, w.Header())
	}
	w = corsDo(h, "POST", "/models", "Origin", "https://evil.example", "Sec-Fetch-Site", "cross-site")
	if w.Code != http.StatusForbidden || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("POST from another origin: %d %s, want the guard's 403", w.Code, w.Body)
	}
	// No Origin (curl, the CLI): as without CORS.
	if w := corsDo(h, "POST", "/models"); w.Code != 201 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("POST without Origin: %d, headers %v", w.Code, w.Header())
	}
}

func TestCORSOffByDefault(t *testing.T) {
	h := corsAPI(t) // no origins: CORS returns the server itself
	if _, ok := h.(*Server); !ok {
		t.Errorf("CORS with no origins wrapped the handler (%T)", h)
	}
	w := corsDo(h, "OPTIONS", "/models", "Origin", notebook, "Access-Control-Request-Method", "POST")
	if w.Code == http.StatusNoContent || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight without CORS: %d, headers %v", w.Code, w.Header())
	}
	w = corsDo(h, "GET", "/models", "Origin", notebook)
	for name := range w.Header() {
		if strings.HasPrefix(name, "Access-Control-") {
			t.Errorf("GET without CORS: header %s", name)
		}
	}
	// Without CORS (and so without the origin in the guard), the
	// notebook's writes are refused.
	if w := corsDo(h, "POST", "/models", "Origin", notebook, "Sec-Fetch-Site", "cross-site"); w.Code != http.StatusForbidden {
		t.Errorf("cross-site POST without CORS: %d, want 403", w.Code)
	}
}

func TestCORSOrigins(t *testing.T) {
	got, err := CORSOrigins([]string{" HTTPS://A.example/ ", "", "http://localhost:8888"})
	if err != nil || strings.Join(got, " ") != "https://a.example http://localhost:8888" {
		t.Errorf("CORSOrigins: %q, %v", got, err)
	}
	for _, bad := range []string{"*", "null", "a.example", "ftp://a.example", "https://a.example/path", "https://user@a.example", "https://a.example?x", "https://"} {
		if _, err := CORSOrigins([]string{bad}); err == nil || !strings.Contains(err.Error(), "--cors-origins") {
			t.Errorf("CORSOrigins(%q): %v, want an error naming the flag", bad, err)
		}
	}
}
