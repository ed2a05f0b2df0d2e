package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/http/openapi/spectest"
)

// realAPI is the real handler over a real embedded store, served by a
// real HTTP server on 127.0.0.1.
type realAPI struct {
	t    *testing.T
	srv  *Server
	base string // http://127.0.0.1:PORT
}

// startAPI serves a new Server over a bolt store in t.TempDir(); policy,
// if not nil, is applied with WithHostPolicy (its Addr is the listener's
// when empty).
func startAPI(t *testing.T, policy *HostPolicy) *realAPI {
	t.Helper()
	store, err := bolt.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	srv := newRealServer(store, 64<<20, slog.New(slog.DiscardHandler))
	hs := httptest.NewUnstartedServer(srv)
	if policy != nil {
		p := *policy
		if p.Addr == "" {
			p.Addr = hs.Listener.Addr().String()
		}
		if _, err := srv.WithHostPolicy(p); err != nil {
			t.Fatal(err)
		}
	}
	hs.Start()
	t.Cleanup(hs.Close)
	return &realAPI{t: t, srv: srv, base: hs.URL}
}

// reply is what a request got.
type reply struct {
	status int
	header http.Header
	body   []byte
}

// errorDetails returns the details and field of an error body.
func (r reply) errorDetails() (details, field string) {
	var eb struct {
		Errors []apiError `json:"errors"`
	}
	if json.Unmarshal(r.body, &eb) != nil || len(eb.Errors) != 1 {
		return "", ""
	}
	return eb.Errors[0].Details, eb.Errors[0].Field
}

// do sends a request with the given headers ("Host" sets the Host header)
// and checks the response against the OpenAPI document.
func (a *realAPI) do(method, path, ctype string, body []byte, headers ...string) reply {
	a.t.Helper()
	req, err := http.NewRequest(method, a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i] == "Host" {
			req.Host = headers[i+1]
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
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
	r := reply{resp.StatusCode, resp.Header, b}
	checkSpec(a.t, method, path, r)
	return r
}

// importModel imports a small word2vec text model and returns its id.
func (a *realAPI) importModel(name string, words ...string) string {
	a.t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "%d 4\n", len(words))
	for i, w := range words {
		// Distinct, non-zero vectors.
		fmt.Fprintf(&b, "%s %d %d %d 1\n", w, i%3+1, i%5, i%7)
	}
	r := a.do("POST", "/models/import?name="+name, "application/octet-stream", []byte(b.String()))
	if r.status != http.StatusCreated {
		a.t.Fatalf("import: %d %s", r.status, r.body)
	}
	var m struct{ ID string }
	if err := json.Unmarshal(r.body, &m); err != nil {
		a.t.Fatal(err)
	}
	return m.ID
}

// multipartBody builds a form of fields (name, value pairs; a name
// starting with "@" is a file part of that name).
func multipartBody(t *testing.T, fields ...string) (ctype string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i+1 < len(fields); i += 2 {
		var err error
		if name, ok := strings.CutPrefix(fields[i], "@"); ok {
			var w io.Writer
			if w, err = mw.CreateFormFile(name, "book.txt"); err == nil {
				_, err = io.WriteString(w, fields[i+1])
			}
		} else {
			err = mw.WriteField(fields[i], fields[i+1])
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

var specRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := spectest.Load(context.Background())
	if err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc)
})

// checkSpec validates a response against the OpenAPI document, as
// cmd/ophicleide's tests do: every status the server answers must be
// documented for the operation. Paths that are no operation (404 from the
// router, made-up methods) are skipped.
func checkSpec(t *testing.T, method, path string, r reply) {
	t.Helper()
	router, err := specRouter()
	if err != nil {
		t.Fatal(err)
	}
	u, _ := neturl.Parse(path)
	req, _ := http.NewRequest(method, strings.TrimPrefix(u.RequestURI(), "/api"), nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		return
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.status, Header: r.header, Body: io.NopCloser(bytes.NewReader(r.body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		t.Errorf("%s %s -> %d does not match the OpenAPI document: %v\nbody: %s", method, path, r.status, err, r.body)
	}
}
