// Package http is the REST API of Ophicleide: the original 2016 training
// server's endpoints and wire format, served at the root and under /api/,
// plus health probes. Errors are *ophicleide.Error values mapped to HTTP
// statuses in exactly one table (errorStatus, errors.go); anything else is
// a 500 with a generic message, its detail logged.
//
// It is a transport only: handlers decode requests (JSON, multipart,
// query parameters), call the domain's services (ophicleide.ModelService,
// ophicleide.QueryService) and encode their answers. It links neither a
// store nor the engine; cmd/ophicleide gives it the services
// (internal/service). Files by resource: models.go, upload.go (multipart
// POST /models), queries.go, vectors.go (a model's vectors), lists.go,
// home.go, limits.go.
package http

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/http/openapi"
)

// Server serves the API. Create one with NewServer.
type Server struct {
	models  ophicleide.ModelService
	queries ophicleide.QueryService
	log     *slog.Logger
	version string
	mux     *http.ServeMux
	page    http.Handler // the web page for browsers at /, if set
	// readOnly: the read-api role, which answers the GET endpoints and POST
	// /queries, and 405 to requests that change models.
	readOnly bool
	metrics  *metrics
	guard    *guard // requests from other sites (guard.go)
	// Access control (auth.go): the keys and their options, the
	// middleware of Use, and the handler they wrap (the routes) and
	// their chain.
	auth       AuthConfig
	middleware []func(http.Handler) http.Handler
	dispatch   http.Handler
	chain      http.Handler
}

// NewServer returns the API over the services.
func NewServer(models ophicleide.ModelService, queries ophicleide.QueryService, log *slog.Logger, version string) *Server {
	s := &Server{models: models, queries: queries, log: log, version: version, metrics: newMetrics(models), guard: newGuard()}
	api := http.NewServeMux()
	api.HandleFunc("GET /{$}", s.root)
	api.HandleFunc("GET /limits", s.getLimits)
	api.HandleFunc("GET /models", s.listModels)
	api.HandleFunc("POST /models", s.writes(s.createModel))
	api.HandleFunc("POST /models/import", s.writes(s.importModel))
	api.HandleFunc("GET /models/{id}", s.getModel)
	api.HandleFunc("DELETE /models/{id}", s.writes(s.deleteModel))
	api.HandleFunc("GET /models/{id}/similar", s.handle(s.similar))
	api.HandleFunc("GET /models/{id}/analogy", s.handle(s.analogy))
	api.HandleFunc("GET /models/{id}/similarity", s.handle(s.similarity))
	api.HandleFunc("GET /models/{id}/vectors/{word}", s.handle(s.vector))
	api.HandleFunc("GET /models/{id}/export", s.export)
	api.HandleFunc("GET /models/{id}/words", s.handle(s.words))
	api.HandleFunc("POST /models/{id}/evaluate", s.writes(s.handle(s.evaluateModel)))
	api.HandleFunc("GET /models/{id}/doesntmatch", s.handle(s.doesntMatch))
	api.HandleFunc("POST /models/{id}/vectors", s.handle(s.batchVectors))
	api.HandleFunc("POST /models/{id}/search", s.handle(s.search))
	api.HandleFunc("GET /models/{id}/map", s.handle(s.wordMap))
	api.HandleFunc("GET /compare", s.handle(s.compare))
	api.HandleFunc("GET /queries", s.listQueries)
	api.HandleFunc("POST /queries", s.createQuery)
	api.HandleFunc("GET /queries/{id}", s.getQuery)
	api.HandleFunc("GET /healthz", healthz)
	api.HandleFunc("GET /readyz", readyz(models))
	api.Handle("GET /metrics", s.metrics.handler())
	api.HandleFunc("GET /openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openapi.Spec)
	})
	routes := s.withJSONErrors(api)
	s.mux = http.NewServeMux()
	s.mux.Handle("/api/", http.StripPrefix("/api", routes))
	s.mux.Handle("/", routes)
	return s
}

// ReadOnly makes the server the read-api role's: model writes (POST /models,
// POST /models/import, DELETE /models/{id}) answer 405 with a message
// naming the api role.
func (s *Server) ReadOnly() *Server {
	s.readOnly = true
	return s
}

// writes guards a handler that changes models (see ReadOnly).
func (s *Server) writes(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.readOnly {
			w.Header().Set("Allow", "GET")
			s.fail(w, r, &ophicleide.Error{Code: methodNotAllowed,
				Message: fmt.Sprintf("%s %s is not served by the read-api role, which only answers reads and queries: send it to the api role", r.Method, r.URL.Path)})
			return
		}
		h(w, r)
	}
}

// handle adapts a handler that returns its error: the error is written
// with fail.
func (s *Server) handle(f func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}

// WithPage makes the server answer browsers at / with page, and serve
// page's assets under /static/ (the `serve` role; package web).
func (s *Server) WithPage(page http.Handler) *Server {
	s.page = page
	s.mux.Handle("GET /static/", page)
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// withJSONErrors runs every API request through the guard and access
// control (auth.go), then the middleware of Use, then mux; it gives
// requests no route of mux matches the API's JSON error body (404, or
// 405 with an Allow header) instead of the router's plain text.
func (s *Server) withJSONErrors(mux *http.ServeMux) http.Handler {
	s.dispatch = s.routed(mux)
	s.chain = s.dispatch
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		defer func() { s.metrics.observe(r, w.status, time.Since(start)) }()
		_, pattern := mux.Handler(r)
		// The metrics' route: this router's pattern, "" if none (the outer
		// router has set its own, "/" or "/api/").
		r.Pattern = pattern
		if err := s.guard.check(r); err != nil {
			s.fail(w, r, err)
			return
		}
		ar, err := s.authenticate(r, pattern)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		s.chain.ServeHTTP(w, ar)
	})
}

// routed serves a request with mux, answering for the router when no
// route matches.
func (s *Server) routed(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h, pattern := mux.Handler(r)
		if pattern != "" {
			mux.ServeHTTP(w, r) // (sets the path values and r.Pattern, which Handler does not)
			return
		}
		probe := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(probe, r)
		if probe.status == http.StatusMethodNotAllowed {
			allow := probe.header.Get("Allow")
			w.Header().Set("Allow", allow)
			s.fail(w, r, &ophicleide.Error{Code: methodNotAllowed, Message: fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allow)})
			return
		}
		s.fail(w, r, ophicleide.Errorf(ophicleide.ENOTFOUND, "no such resource: %s", r.URL.Path))
	})
}

// statusRecorder captures what the router would answer.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }

func healthz(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }

// queue is what the readiness probe asks: ophicleide.JobQueue and
// ophicleide.ModelService have it.
type queue interface {
	QueueLength(ctx context.Context) (int, error)
}

// readyz answers 503 while the store does not answer.
func readyz(q queue) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := q.QueueLength(r.Context()); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}
}

// HealthHandler serves only /healthz, /readyz and /metrics, for processes
// without the API (the worker role).
func HealthHandler(store ophicleide.JobQueue) http.Handler {
	return HealthHandlerWith(store, AuthConfig{})
}

// HealthHandlerWith is HealthHandler whose /metrics needs a key (any
// role) when c has Keys and MetricsAuth; the probes are always open.
func HealthHandlerWith(store ophicleide.JobQueue, c AuthConfig) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", readyz(store))
	var metrics http.Handler = RuntimeMetrics()
	if c.Keys != nil && c.MetricsAuth {
		next := metrics
		metrics = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			secret, given, bad := presentedSecret(r)
			if _, ok := c.Keys.Authenticate(secret); !given || bad || !ok {
				w.Header().Set("WWW-Authenticate", authRealm)
				http.Error(w, "GET /metrics needs an API key: send it as Authorization: Bearer KEY or X-API-Key: KEY", http.StatusUnauthorized)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	mux.Handle("GET /metrics", metrics)
	return mux
}
