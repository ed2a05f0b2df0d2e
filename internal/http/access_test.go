package http

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/auth"
	"github.com/ophicleide/ophicleide/internal/bolt"
)

// The keys of the access tests: one caller per role, two writers to
// tell the owner of a model from another writer.
const (
	readSecret  = "read-secret-0123456789"
	ownerSecret = "owner-secret-0123456789"
	otherSecret = "other-secret-0123456789"
	adminSecret = "admin-secret-0123456789"
)

func testKeyring(t testing.TB) *auth.Keyring {
	t.Helper()
	kr, err := auth.NewKeyring(
		auth.NewKey("reader", ophicleide.RoleRead, readSecret),
		auth.NewKey("owner", ophicleide.RoleWrite, ownerSecret),
		auth.NewKey("other", ophicleide.RoleWrite, otherSecret),
		auth.NewKey("root", ophicleide.RoleAdmin, adminSecret),
	)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// startAuthAPI is startAPI (the real services over a real embedded
// store) with access control.
func startAuthAPI(t *testing.T, cfg AuthConfig) *realAPI {
	t.Helper()
	store, err := bolt.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := newRealServer(store, 64<<20, slog.New(slog.DiscardHandler)).WithAuth(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)
	return &realAPI{t: t, srv: srv, base: hs.URL}
}

// caller is who sends a request: the headers carrying its key.
type caller struct {
	name    string
	headers []string
}

var (
	noKey  = caller{"no key", nil}
	reader = caller{"read", []string{"Authorization", "Bearer " + readSecret}}
	owner  = caller{"write owner", []string{"Authorization", "Bearer " + ownerSecret}}
	other  = caller{"write non-owner", []string{"X-API-Key", otherSecret}}
	admin  = caller{"admin", []string{"X-API-Key", adminSecret}}
)

// expect is a route's status for each caller; anon is a request without
// a key to a --public-read server. ownership marks the expectations that
// need the services' ownership checks (a writer may delete and export
// only its own models).
type expect struct {
	none, read, owner, other, admin, anon int
	ownership                             bool
}

// TestAccessMatrix sends every route as every caller, to a server with
// keys and to one with keys and PublicRead, over the real services and a
// real store, and checks each answer's status and that it matches the
// OpenAPI document.
func TestAccessMatrix(t *testing.T) {
	for _, publicRead := range []bool{false, true} {
		t.Run(fmt.Sprintf("public-read=%v", publicRead), func(t *testing.T) {
			a := startAuthAPI(t, AuthConfig{Keys: testKeyring(t), PublicRead: publicRead})
			ownerImport := func(name string) string {
				return a.importAs(owner, name, "darcy", "bingley", "wickham", "jane", "lizzy")
			}
			modelID := ownerImport("austen")
			qr := a.do("POST", "/queries", "application/json", []byte(`{"model":"`+modelID+`","word":"darcy","count":2}`), owner.headers...)
			var q struct{ Query struct{ ID string } }
			if json.Unmarshal(qr.body, &q); qr.status != http.StatusCreated {
				t.Fatalf("POST /queries as the owner: %d %s", qr.status, qr.body)
			}
			ownershipLanded := a.ownersRecorded(modelID)
			if !ownershipLanded {
				t.Log("the services record no owner yet: the non-owner cases of DELETE and export are not checked")
			}

			ok, created, noContent := http.StatusOK, http.StatusCreated, http.StatusNoContent
			un, forb := http.StatusUnauthorized, http.StatusForbidden
			readOK := expect{un, ok, ok, ok, ok, ok, false}
			m := "/models/" + modelID
			routes := []struct {
				method, path, ctype, body string
				want                      expect
				fresh                     bool // a model of the owner's for each caller
			}{
				{"GET", "/", "", "", readOK, false},
				{"GET", "/limits", "", "", readOK, false},
				{"GET", "/models", "", "", readOK, false},
				{"GET", "/api/models", "", "", readOK, false},
				{"GET", m, "", "", readOK, false},
				{"GET", m + "/similar?word=darcy&count=2", "", "", readOK, false},
				{"GET", m + "/analogy?positive=darcy,jane&negative=bingley&count=1", "", "", readOK, false},
				{"GET", m + "/similarity?a=darcy&b=jane", "", "", readOK, false},
				{"GET", m + "/vectors/darcy", "", "", readOK, false},
				{"GET", m + "/words?prefix=d", "", "", readOK, false},
				{"GET", m + "/similar?word=darcy&count=2&restrict=3", "", "", readOK, false},
				{"GET", m + "/analogy?positive=darcy,jane&negative=bingley&method=3cosmul&restrict=4", "", "", readOK, false},
				{"GET", m + "/doesntmatch?words=darcy,jane,lizzy,zz", "", "", readOK, false},
				{"POST", m + "/vectors", "application/json", `{"words":["darcy","zz"]}`, readOK, false}, // a read, as POST /queries
				{"GET", m + "/map?count=3", "", "", readOK, false},
				{"GET", "/compare?a=" + modelID + "&b=" + modelID + "&word=jane&moved=2", "", "", readOK, false},
				{"GET", "/api/compare?a=" + modelID + "&b=" + modelID, "", "", readOK, false},
				{"GET", "/queries", "", "", readOK, false},
				// The query history is per owner (the services'): others get 404.
				{"GET", "/queries/" + q.Query.ID, "", "", expect{un, 404, ok, 404, ok, 404, true}, false},
				{"POST", "/queries", "application/json", `{"model":"` + modelID + `","word":"jane","count":1}`,
					expect{un, created, created, created, created, created, false}, false},
				{"GET", "/models/" + "no-such-model", "", "", expect{un, 404, 404, 404, 404, 404, false}, false},
				{"POST", "/models", "application/json", `{"name":"new","urls":["https://example.com/book.txt"]}`,
					expect{un, forb, created, created, created, un, false}, false},
				{"POST", "/models/import?name=imported", "application/octet-stream", "2 2\nx 1 0\ny 0 1\n",
					expect{un, forb, created, created, created, un, false}, false},
				{"GET", m + "/export?format=text", "", "", expect{un, forb, ok, forb, ok, un, true}, false},
				{"GET", m + "/export?format=tsv", "", "", expect{un, forb, ok, forb, ok, un, true}, false},
				{"GET", m + "/export?format=tsv-metadata", "", "", expect{un, forb, ok, forb, ok, un, true}, false},
				// Evaluating reads a model, but costs CPU: the write role, any writer's.
				{"POST", m + "/evaluate", "text/plain", "darcy jane 5\nbingley wickham 3\n",
					expect{un, forb, ok, ok, ok, un, false}, false},
				{"DELETE", "", "", "", expect{un, forb, noContent, forb, noContent, un, true}, true},
				{"GET", "/healthz", "", "", expect{ok, ok, ok, ok, ok, ok, false}, false},
				{"GET", "/readyz", "", "", expect{ok, ok, ok, ok, ok, ok, false}, false},
				{"GET", "/openapi.yaml", "", "", expect{ok, ok, ok, ok, ok, ok, false}, false},
				{"GET", "/metrics", "", "", expect{ok, ok, ok, ok, ok, ok, false}, false},
			}
			for _, rt := range routes {
				for _, c := range []caller{noKey, reader, owner, other, admin} {
					want := map[string]int{noKey.name: rt.want.none, reader.name: rt.want.read, owner.name: rt.want.owner,
						other.name: rt.want.other, admin.name: rt.want.admin}[c.name]
					if publicRead && c.name == noKey.name {
						want = rt.want.anon
					}
					if rt.want.ownership && want != rt.want.owner && !ownershipLanded {
						continue
					}
					path := rt.path
					if rt.fresh {
						path = "/models/" + ownerImport("doomed")
					}
					do := a.do
					if path == "/openapi.yaml" {
						do = a.unchecked // (the validator parses a YAML body as YAML, not as the string the document says)
					}
					r := do(rt.method, path, rt.ctype, []byte(rt.body), c.headers...)
					if r.status != want {
						t.Errorf("%s %s as %s: %d, want %d: %s", rt.method, path, c.name, r.status, want, r.body)
					}
					if r.status == un && r.header.Get("WWW-Authenticate") != `Bearer realm="ophicleide"` {
						t.Errorf("%s %s as %s: 401 without WWW-Authenticate: %q", rt.method, path, c.name, r.header.Get("WWW-Authenticate"))
					}
					if r.status == forb {
						// The role needed (auth.go), or the owner (the services).
						if details, _ := r.errorDetails(); !strings.Contains(details, "write role") && !strings.Contains(details, "owner") {
							t.Errorf("%s %s as %s: 403 naming neither the role needed nor the owner: %s", rt.method, path, c.name, details)
						}
					}
				}
			}
		})
	}
}

// importAs imports a small model with c's key and returns its id.
func (a *realAPI) importAs(c caller, name string, words ...string) string {
	a.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%d 4\n", len(words))
	for i, w := range words {
		fmt.Fprintf(&b, "%s %d %d %d 1\n", w, i%3+1, i%5, i%7)
	}
	r := a.do("POST", "/models/import?name="+name, "application/octet-stream", []byte(b.String()), c.headers...)
	if r.status != http.StatusCreated {
		a.t.Fatalf("import as %s: %d %s", c.name, r.status, r.body)
	}
	var m struct{ ID string }
	if err := json.Unmarshal(r.body, &m); err != nil {
		a.t.Fatal(err)
	}
	return m.ID
}

// ownersRecorded reports whether the services record the owner of a
// model (shown to admins as "owner").
func (a *realAPI) ownersRecorded(id string) bool {
	r := a.do("GET", "/models/"+id, "", nil, admin.headers...)
	var m struct{ Model map[string]any }
	json.Unmarshal(r.body, &m)
	_, ok := m.Model["owner"]
	return ok
}

// TestOpenServerIsTheProcess: without an Authenticator every request is
// an admin named "" (keys are ignored), as before access control.
func TestOpenServerIsTheProcess(t *testing.T) {
	var got []ophicleide.Principal
	a := startAuthAPI(t, AuthConfig{PublicRead: true, MetricsAuth: true})
	a.srv.Use(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got = append(got, ophicleide.PrincipalFrom(r.Context()))
			h.ServeHTTP(w, r)
		})
	})
	for _, c := range []caller{noKey, {"unknown key", []string{"Authorization", "Bearer nope"}}} {
		if r := a.do("GET", "/models", "", nil, c.headers...); r.status != http.StatusOK {
			t.Errorf("GET /models as %s on an open server: %d %s", c.name, r.status, r.body)
		}
		if r := a.do("GET", "/metrics", "", nil, c.headers...); r.status != http.StatusOK {
			t.Errorf("GET /metrics as %s on an open server: %d", c.name, r.status)
		}
	}
	id := a.importModel("m", "a", "b", "c")
	if r := a.do("DELETE", "/models/"+id, "", nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE on an open server: %d %s", r.status, r.body)
	}
	for _, p := range got {
		if p.Role != ophicleide.RoleAdmin || p.Name != "" || p.Anonymous || p.Addr != "127.0.0.1" {
			t.Errorf("principal on an open server = %+v, want an admin named \"\" from 127.0.0.1", p)
		}
	}
}

// TestUseSeesThePrincipal: middleware of Use runs after authentication,
// with the principal and the route's pattern, and not for refused
// requests; it may answer with WriteError (Retry-After included).
func TestUseSeesThePrincipal(t *testing.T) {
	a := startAuthAPI(t, AuthConfig{Keys: testKeyring(t), PublicRead: true})
	type seen struct {
		p       ophicleide.Principal
		pattern string
	}
	var got []seen
	var order []string
	a.srv.Use(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			order = append(order, "outer")
			got = append(got, seen{ophicleide.PrincipalFrom(r.Context()), r.Pattern})
			if r.URL.Query().Get("limit") == "7" {
				a.srv.WriteError(w, r, &ophicleide.Error{Code: ophicleide.ELIMITED, Message: "over the read rate of key reader", RetryAfter: 1500 * time.Millisecond})
				return
			}
			h.ServeHTTP(w, r)
		})
	}).Use(func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			order = append(order, "inner")
			h.ServeHTTP(w, r)
		})
	})
	a.do("GET", "/api/models/x", "", nil, reader.headers...)
	a.do("GET", "/queries", "", nil)
	a.do("GET", "/healthz", "", nil, "Authorization", "Bearer unknown")
	if r := a.do("GET", "/models", "", nil, "Authorization", "Bearer unknown"); r.status != http.StatusUnauthorized {
		t.Errorf("unknown key: %d", r.status)
	}
	want := []seen{
		{ophicleide.Principal{Name: "reader", Role: ophicleide.RoleRead, Addr: "127.0.0.1"}, "GET /models/{id}"},
		{ophicleide.Principal{Role: ophicleide.RoleRead, Anonymous: true, Addr: "127.0.0.1"}, "GET /queries"},
		{ophicleide.Principal{Role: ophicleide.RoleRead, Anonymous: true, Addr: "127.0.0.1"}, "GET /healthz"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("middleware saw %+v, want %+v", got, want)
	}
	if strings.Join(order, ",") != "outer,inner,outer,inner,outer,inner" {
		t.Errorf("order %v: the first Use is not the outermost", order)
	}
	r := a.do("GET", "/models?limit=7", "", nil, reader.headers...)
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") != "2" {
		t.Errorf("WriteError(ELIMITED, 1.5 s): %d, Retry-After %q; want 429, 2", r.status, r.header.Get("Retry-After"))
	}
}

func TestMetricsAuth(t *testing.T) {
	a := startAuthAPI(t, AuthConfig{Keys: testKeyring(t), PublicRead: true, MetricsAuth: true})
	for _, c := range []struct {
		caller
		want int
	}{{noKey, 401}, {reader, 200}, {admin, 200}, {caller{"unknown", []string{"X-API-Key", "nope"}}, 401}} {
		if r := a.do("GET", "/metrics", "", nil, c.headers...); r.status != c.want {
			t.Errorf("GET /metrics as %s with MetricsAuth: %d, want %d", c.name, r.status, c.want)
		}
	}
}

// TestPresentedKeys: the ways a key may be sent, and hostile ones.
func TestPresentedKeys(t *testing.T) {
	a := startAuthAPI(t, AuthConfig{Keys: testKeyring(t)})
	for _, c := range []struct {
		name    string
		headers []string
		want    int
	}{
		{"bearer", []string{"Authorization", "Bearer " + readSecret}, 200},
		{"bearer, scheme in lower case", []string{"Authorization", "bearer " + readSecret}, 200},
		{"X-API-Key", []string{"X-API-Key", readSecret}, 200},
		{"both, the same key", []string{"Authorization", "Bearer " + readSecret, "X-API-Key", readSecret}, 200},
		{"both, different keys", []string{"Authorization", "Bearer " + readSecret, "X-API-Key", adminSecret}, 401},
		{"basic", []string{"Authorization", "Basic " + readSecret}, 401},
		{"scheme alone", []string{"Authorization", "Bearer"}, 401},
		{"empty X-API-Key", []string{"X-API-Key", " "}, 401},
		{"prefix of a key", []string{"X-API-Key", readSecret[:10]}, 401},
		{"huge key", []string{"X-API-Key", strings.Repeat("k", 60<<10)}, 401},
		{"huge bearer", []string{"Authorization", "Bearer " + strings.Repeat("k", 60<<10)}, 401},
		{"key with a NUL", []string{"X-API-Key", readSecret + "\x00"}, 0},
	} {
		req, _ := http.NewRequest("GET", a.base+"/models", nil)
		for i := 0; i+1 < len(c.headers); i += 2 {
			req.Header.Add(c.headers[i], c.headers[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if c.want == 0 {
			if err == nil { // the client refuses to send it, or the server answers 400
				if resp.StatusCode != 400 && resp.StatusCode != 401 {
					t.Errorf("%s: %d", c.name, resp.StatusCode)
				}
				resp.Body.Close()
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("%s: %d, want %d", c.name, resp.StatusCode, c.want)
		}
		if resp.StatusCode == 401 && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: 401 without WWW-Authenticate", c.name)
		}
	}
	// Many wrong keys in a row are each a 401 (the comparison is
	// constant-time; no timing is measured here).
	for i := range 200 {
		if r := a.unchecked("GET", "/models", "", nil, "X-API-Key", fmt.Sprintf("guess-%d", i)); r.status != 401 {
			t.Fatalf("guess %d: %d", i, r.status)
		}
	}
}

// TestErrorsRetryAfter: fail rounds RetryAfter up to whole seconds and
// sends none without it.
func TestErrorsRetryAfter(t *testing.T) {
	s := NewServer(nil, nil, slog.New(slog.DiscardHandler), "test")
	for _, c := range []struct {
		after time.Duration
		want  string
	}{{0, ""}, {time.Millisecond, "1"}, {time.Second, "1"}, {1001 * time.Millisecond, "2"}, {90 * time.Second, "90"}} {
		w := httptest.NewRecorder()
		s.fail(w, httptest.NewRequest("GET", "/", nil), &ophicleide.Error{Code: ophicleide.ELIMITED, Message: "slow down", RetryAfter: c.after})
		if w.Code != 429 || w.Header().Get("Retry-After") != c.want {
			t.Errorf("RetryAfter %v: %d, Retry-After %q; want 429, %q", c.after, w.Code, w.Header().Get("Retry-After"), c.want)
		}
	}
	w := httptest.NewRecorder()
	s.fail(w, httptest.NewRequest("GET", "/", nil), ophicleide.Errorf(ophicleide.EUNAUTHORIZED, "who?"))
	if w.Code != 401 || w.Header().Get("WWW-Authenticate") != authRealm {
		t.Errorf("EUNAUTHORIZED: %d, WWW-Authenticate %q", w.Code, w.Header().Get("WWW-Authenticate"))
	}
}

// TestPageIsOpen: a browser gets the page (or the home page) at / without
// a key; JSON clients do not.
func TestPageIsOpen(t *testing.T) {
	a := startAuthAPI(t, AuthConfig{Keys: testKeyring(t)})
	if r := a.unchecked("GET", "/", "", nil, "Accept", "text/html,application/xhtml+xml"); r.status != 200 || !strings.Contains(string(r.body), "<html") {
		t.Errorf("GET / from a browser without a key: %d", r.status)
	}
	if r := a.do("GET", "/", "", nil); r.status != 401 {
		t.Errorf("GET / (JSON) without a key: %d", r.status)
	}
	if r := a.unchecked("OPTIONS", "/models", "", nil); r.status == 401 {
		t.Errorf("OPTIONS without a key: 401")
	}
	if r := a.unchecked("GET", "/no/such/path", "", nil); r.status != 401 {
		t.Errorf("unknown path without a key: %d, want 401 (paths are not revealed)", r.status)
	}
}
