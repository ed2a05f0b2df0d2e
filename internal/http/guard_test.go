package http

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

const someModel = "/models/6ba7b810-9dad-11d1-80b4-00c04fd430c8"

// TestTextPlainJSONIsRefused: a page of any site can POST text/plain (or
// an untyped body) without a CORS preflight; JSON must say it is JSON.
func TestTextPlainJSONIsRefused(t *testing.T) {
	a := startAPI(t, nil)
	model := []byte(`{"name": "x", "urls": ["http://example.org/a.txt"]}`)
	for _, ct := range []string{"text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded", "", "application/jsonx", "bogus/"} {
		for _, path := range []string{"/models", "/queries", "/api/models"} {
			r := a.do("POST", path, ct, model)
			details, _ := r.errorDetails()
			if r.status != http.StatusUnsupportedMediaType || !strings.Contains(details, "application/json") {
				t.Errorf("POST %s as %q: %d %s; want 415 naming application/json", path, ct, r.status, r.body)
			}
		}
	}
	// JSON content types pass (to the next check).
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/vnd.api+json"} {
		if r := a.do("POST", "/models", ct, model); r.status != http.StatusCreated {
			t.Errorf("POST /models as %q: %d %s", ct, r.status, r.body)
		}
	}
	// An empty body without a type is still "empty", not 415.
	if r := a.do("POST", "/queries", "", nil); r.status != http.StatusBadRequest {
		t.Errorf("empty POST /queries: %d %s", r.status, r.body)
	}
}

// TestCrossOriginWriteIsRefused: a page of evil.example makes the browser
// of the server's user POST a multipart form (no preflight needed) or
// DELETE a model.
func TestCrossOriginWriteIsRefused(t *testing.T) {
	a := startAPI(t, &HostPolicy{AllowedOrigins: []string{"https://tools.example:8443/"}})
	ctype, form := multipartBody(t, "name", "x", "urls", "http://example.org/a.txt")
	cases := []struct {
		method, path, ctype string
		body                []byte
		headers             []string
	}{
		{"POST", "/models", ctype, form, []string{"Origin", "http://evil.example"}},
		{"POST", "/api/models", ctype, form, []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"POST", "/models", ctype, form, []string{"Sec-Fetch-Site", "cross-site"}},
		{"POST", "/models", ctype, form, []string{"Origin", "null"}},
		{"DELETE", someModel, "", nil, []string{"Origin", "http://evil.example"}},
		{"DELETE", someModel, "", nil, []string{"Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"}},
		{"POST", "/queries", "application/json", []byte(`{"model": "m", "word": "w"}`), []string{"Origin", "http://evil.example"}},
		{"POST", "/models/import?name=x", "application/octet-stream", []byte("1 1\na 1\n"), []string{"Origin", "http://evil.example"}},
		// Same site is not same origin.
		{"POST", "/models", ctype, form, []string{"Origin", "http://other.localhost", "Sec-Fetch-Site", "same-site"}},
	}
	for _, c := range cases {
		r := a.do(c.method, c.path, c.ctype, c.body, c.headers...)
		details, _ := r.errorDetails()
		if r.status != http.StatusForbidden || !strings.Contains(details, "cross-origin") {
			t.Errorf("%s %s %v: %d %s; want 403", c.method, c.path, c.headers, r.status, r.body)
		}
		if o := "http://evil.example"; len(c.headers) > 1 && c.headers[1] == o && !strings.Contains(details, "--allowed-origin "+o) {
			t.Errorf("%s %s: %q does not name the flag", c.method, c.path, details)
		}
	}
	// Nothing was created.
	if r := a.do("GET", "/models", "", nil); strings.Contains(string(r.body), `"name":"x"`) {
		t.Errorf("a refused request created a model: %s", r.body)
	}
	// Reads are not refused (a page cannot read the answers anyway).
	if r := a.do("GET", "/models", "", nil, "Origin", "http://evil.example", "Sec-Fetch-Site", "cross-site"); r.status != http.StatusOK {
		t.Errorf("cross-origin GET: %d", r.status)
	}
}

// TestSameOriginAndNoOriginWritesPass: the server's own page (Origin is
// the server), the web role's proxy (Sec-Fetch-Site: same-origin), a
// configured origin, and clients that are no browser (curl, the CLI).
func TestSameOriginAndNoOriginWritesPass(t *testing.T) {
	a := startAPI(t, &HostPolicy{AllowedOrigins: []string{"https://tools.example:8443/"}})
	self := a.base // http://127.0.0.1:PORT
	ctype, form := multipartBody(t, "name", "x", "urls", "http://example.org/a.txt")
	json := []byte(`{"name": "y", "urls": ["http://example.org/a.txt"]}`)
	for _, h := range [][]string{
		nil,
		{"Origin", self},
		{"Origin", self, "Sec-Fetch-Site", "same-origin"},
		{"Origin", "http://127.0.0.1:8081", "Sec-Fetch-Site", "same-origin"}, // through the web role's proxy
		{"Sec-Fetch-Site", "none"},                                           // typed in the address bar
		{"Origin", "https://tools.example:8443", "Sec-Fetch-Site", "cross-site"},
		{"Origin", "https://tools.example:8443"},
	} {
		if r := a.do("POST", "/models", ctype, form, h...); r.status != http.StatusCreated {
			t.Errorf("multipart POST /models %v: %d %s", h, r.status, r.body)
		}
		r := a.do("POST", "/api/models", "application/json", json, h...)
		if r.status != http.StatusCreated {
			t.Errorf("JSON POST /api/models %v: %d %s", h, r.status, r.body)
		}
		id := strings.TrimPrefix(r.header.Get("Location"), "/models/")
		if r := a.do("DELETE", "/models/"+id, "", nil, h...); r.status != http.StatusNoContent {
			t.Errorf("DELETE %v: %d %s", h, r.status, r.body)
		}
	}
}

// TestOriginalFrontEndPasses replays what the 2016 front end's server.js
// sends (the "request" library, json: true): no Origin, no Sec-Fetch-*,
// Host the training address, JSON with the "not implemented" callback.
func TestOriginalFrontEndPasses(t *testing.T) {
	a := startAPI(t, &HostPolicy{})
	port := a.base[strings.LastIndex(a.base, ":")+1:]
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port} {
		hdr := []string{"Host", host, "Accept", "application/json"}
		r := a.do("POST", "/models", "application/json",
			[]byte(`{"name": "austen", "urls": ["http://example.org/austen.txt"], "callback": "not implemented"}`), hdr...)
		if r.status != http.StatusCreated {
			t.Fatalf("POST /models via %s: %d %s", host, r.status, r.body)
		}
		if r := a.do("GET", "/models", "", nil, hdr...); r.status != http.StatusOK {
			t.Errorf("GET /models: %d", r.status)
		}
		if r := a.do("GET", "/queries", "", nil, hdr...); r.status != http.StatusOK {
			t.Errorf("GET /queries: %d", r.status)
		}
		if r := a.do("DELETE", r.header.Get("Location"), "", nil, hdr...); r.status != http.StatusNoContent {
			t.Errorf("DELETE: %d %s", r.status, r.body)
		}
	}
	id := a.importModel("tiny", "darcy", "bingley", "wickham")
	r := a.do("POST", "/queries", "application/json", []byte(`{"word": "darcy", "model": "`+id+`"}`), "Accept", "application/json")
	if r.status != http.StatusCreated {
		t.Errorf("POST /queries: %d %s", r.status, r.body)
	}
}

// TestDNSRebindingHostIsRefused: evil.example resolves to 127.0.0.1, so
// its page is same-origin with a server on loopback; only the Host header
// tells.
func TestDNSRebindingHostIsRefused(t *testing.T) {
	a := startAPI(t, &HostPolicy{PublicHosts: []string{"ophicleide.example", "proxy.example:9000"}})
	port := a.base[strings.LastIndex(a.base, ":")+1:]
	for _, host := range []string{"evil.example", "evil.example:" + port, "localhost.evil.example", "127.0.0.1.evil.example", "proxy.example:9001", "[::2]:" + port} {
		for _, req := range [][2]string{{"GET", "/models"}, {"GET", "/"}, {"POST", "/models"}, {"GET", "/api/queries"}} {
			r := a.do(req[0], req[1], "application/json", []byte(`{}`), "Host", host, "Origin", "http://"+host)
			details, _ := r.errorDetails()
			if r.status != http.StatusMisdirectedRequest || !strings.Contains(details, "--public-host") {
				t.Errorf("%s %s with Host %s: %d %s; want 421 naming --public-host", req[0], req[1], host, r.status, r.body)
			}
		}
	}
	for _, host := range []string{"127.0.0.1:" + port, "localhost:" + port, "LOCALHOST", "app.localhost:" + port, "127.0.0.2", "[::1]:" + port, "localhost.", "ophicleide.example", "Ophicleide.Example:443", "proxy.example:9000"} {
		if r := a.do("GET", "/models", "", nil, "Host", host); r.status != http.StatusOK {
			t.Errorf("GET /models with Host %s: %d %s", host, r.status, r.body)
		}
	}
	// A server on every interface serves every name (a reverse proxy or
	// Kubernetes names it).
	b := startAPI(t, &HostPolicy{Addr: ":0"})
	if r := b.do("GET", "/models", "", nil, "Host", "ophicleide.default.svc:8080"); r.status != http.StatusOK {
		t.Errorf("non-loopback server, Host ophicleide.default.svc: %d %s", r.status, r.body)
	}
}

func TestHostPolicyErrors(t *testing.T) {
	a := startAPI(t, nil)
	for _, p := range []HostPolicy{{AllowedOrigins: []string{"evil.example"}}, {AllowedOrigins: []string{"http://x/path"}}, {PublicHosts: []string{"http://x"}}} {
		if _, err := a.srv.WithHostPolicy(p); err == nil {
			t.Errorf("%+v: no error", p)
		}
	}
}

// TestGuardHostsWrapsAnyHandler: the web role's proxy on loopback refuses
// rebinding host names too (its training server only sees its own Host).
func TestGuardHostsWrapsAnyHandler(t *testing.T) {
	h, err := GuardHosts(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("page")) }),
		HostPolicy{Addr: "127.0.0.1:8081", PublicHosts: []string{"web.example"}})
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]int{"127.0.0.1:8081": 200, "localhost:8081": 200, "web.example": 200, "evil.example:8081": 421} {
		rec := httptest.NewRecorder()
		r := httptest.NewRequest("GET", "/api/models", nil)
		r.Host = host
		h.ServeHTTP(rec, r)
		if rec.Code != want || (want == 421 && !strings.Contains(rec.Body.String(), "--public-host")) {
			t.Errorf("Host %s: %d %s; want %d", host, rec.Code, rec.Body, want)
		}
	}
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/api/models", nil)
	r.Host = "127.0.0.1:8081"
	r.Header.Set("Origin", "http://evil.example")
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-origin POST through the web role: %d %s", rec.Code, rec.Body)
	}
	if _, err := GuardHosts(http.NotFoundHandler(), HostPolicy{AllowedOrigins: []string{"nope"}}); err == nil {
		t.Error("a bad origin: no error")
	}
}
