// Package http is the REST API of Ophicleide: the original 2016 training
// server's endpoints and wire format (PRODUCT.md), served at the root and
// under /api/, plus health probes. Errors are *ophicleide.Error values
// mapped to HTTP statuses in exactly one table (errorStatus); anything
// else is a 500 with a generic message, its detail logged.
//
// It speaks to the store in domain terms and loads vectors through a
// modelcache; training happens elsewhere (internal/worker).
package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/http/openapi"
	"github.com/ophicleide/ophicleide/internal/modelcache"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Limits on requests.
const (
	maxJSONBody  = 1 << 20
	maxNameLen   = 200
	maxURLs      = 100
	defaultCount = 5
	maxCount     = 100
)

// Server serves the API. Create one with NewServer.
type Server struct {
	store   ophicleide.Store
	cache   *modelcache.Cache
	log     *slog.Logger
	version string
	wake    func()
	mux     *http.ServeMux
	page    http.Handler // the web page for browsers at /, if set
	// readOnly: the query role, which answers the GET endpoints and POST
	// /queries, and 405 to requests that change models.
	readOnly bool
	metrics  *metrics
	guard    *guard // requests from other sites (guard.go)
	limits   Limits // published at GET /limits (limits.go)
	precheck Precheck
}

// NewServer returns the API over store. wake, if not nil, is called after a
// model is created (in-process workers look for the job at once).
func NewServer(store ophicleide.Store, cacheBytes int64, log *slog.Logger, version string, wake func()) *Server {
	s := &Server{store: store, log: log, version: version, wake: wake, metrics: newMetrics(store), guard: newGuard(), limits: DefaultLimits()}
	s.cache = modelcache.New(cacheBytes, s.loadVectors)
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
	api.HandleFunc("GET /queries", s.listQueries)
	api.HandleFunc("POST /queries", s.createQuery)
	api.HandleFunc("GET /queries/{id}", s.getQuery)
	api.HandleFunc("GET /healthz", healthz)
	api.HandleFunc("GET /readyz", readyz(store))
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

// ReadOnly makes the server the query role's: model writes (POST /models,
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
				Message: fmt.Sprintf("%s %s is not served by the query role, which only answers queries: send it to the api role", r.Method, r.URL.Path)})
			return
		}
		h(w, r)
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

// withJSONErrors gives requests no route of mux matches the API's JSON
// error body (404, or 405 with an Allow header) instead of the router's
// plain text.
func (s *Server) withJSONErrors(mux *http.ServeMux) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		start := time.Now()
		w := &statusWriter{ResponseWriter: rw}
		defer func() { s.metrics.observe(r, w.status, time.Since(start)) }()
		h, pattern := mux.Handler(r)
		// The metrics' route: this router's pattern, "" if none (the outer
		// router has set its own, "/" or "/api/").
		r.Pattern = pattern
		if err := s.guard.check(r); err != nil {
			s.fail(w, r, err)
			return
		}
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

// methodNotAllowed is an HTTP-only code: the router, not the domain, says it.
const methodNotAllowed = "method_not_allowed"

// statusRecorder captures what the router would answer.
type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *statusRecorder) WriteHeader(status int)      { r.status = status }

func (s *Server) loadVectors(ctx context.Context, id string) (*vectors.Set, error) {
	rc, err := s.store.OpenVectors(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return vectors.Load(rc) // Compact, or word2vec binary from older stores
}

// errorStatus is the one table from error codes to HTTP statuses.
var errorStatus = map[string]int{
	ophicleide.EINVALID:     http.StatusBadRequest,
	ophicleide.ENOTFOUND:    http.StatusNotFound,
	ophicleide.ECONFLICT:    http.StatusConflict,
	ophicleide.ETOOLARGE:    http.StatusRequestEntityTooLarge,
	ophicleide.EUNAVAILABLE: http.StatusServiceUnavailable,
	ophicleide.EFULL:        http.StatusInsufficientStorage,
	ophicleide.EINTERNAL:    http.StatusInternalServerError,
	methodNotAllowed:        http.StatusMethodNotAllowed,
	unsupportedMediaType:    http.StatusUnsupportedMediaType,
	crossOrigin:             http.StatusForbidden,
	misdirectedRequest:      http.StatusMisdirectedRequest,
}

// apiError is one element of the original's error body.
type apiError struct {
	Status  int    `json:"status"`
	Title   string `json:"title"`
	Details string `json:"details"`
	Field   string `json:"field,omitempty"`
}

// fail writes err as {"errors": [...]}; internal errors are logged and
// shown as a generic message.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	code := ophicleide.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if code == ophicleide.EINTERNAL {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	var field string
	var e *ophicleide.Error
	if errors.As(err, &e) {
		field = e.Field
	}
	s.json(w, status, map[string][]apiError{"errors": {{Status: status, Title: http.StatusText(status), Details: ophicleide.ErrorMessage(err), Field: field}}})
}

func (s *Server) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Debug("writing response", "err", err)
	}
}

// decode reads a JSON body strictly: a JSON content type, one object,
// known fields only. Its errors never name Go types.
func decode(r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, "the request body", "")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ophicleide.Errorf(ophicleide.ETOOLARGE, "the request body is larger than %d bytes", maxJSONBody)
		}
		return ophicleide.Errorf(ophicleide.EINVALID, "the request body holds more than one JSON value")
	}
	return nil
}

// pathID returns the {id} of the path; ids that are not UUIDs cannot
// exist, so they are a plain 404.
func pathID(r *http.Request, what string) (string, error) {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil {
		return "", ophicleide.Errorf(ophicleide.ENOTFOUND, "%s %q not found", what, id)
	}
	return id, nil
}

func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		if s.page != nil && r.URL.Path == "/" {
			s.page.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, homePage)
		return
	}
	n, err := s.store.QueueLength(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.json(w, http.StatusOK, map[string]any{"name": "ophicleide", "version": s.version, "info": map[string]any{"training_queue_len": n, "limits": s.limits}})
}

func healthz(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") }

// readyz answers 503 while the store does not answer.
func readyz(store ophicleide.JobQueue) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := store.QueueLength(r.Context()); err != nil {
			http.Error(w, "store unavailable", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	}
}

// HealthHandler serves only /healthz and /readyz, for processes without
// the API (the worker role).
func HealthHandler(store ophicleide.JobQueue) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.HandleFunc("GET /readyz", readyz(store))
	mux.Handle("GET /metrics", RuntimeMetrics())
	return mux
}

type createModelRequest struct {
	Name     string        `json:"name"`
	URLs     []string      `json:"urls"`
	Callback string        `json:"callback"`
	Params   requestParams `json:"params"`
	uploads  []string      // names of uploaded files (multipart only)
}

// requestParams are the training parameters of a request. The domain's
// Params cannot tell a field left out (the default) from one given as 0,
// which the API refuses for the parameters that must be positive (as the
// OpenAPI document says): those are noted while decoding.
type requestParams struct {
	ophicleide.Params
	zero string // the first positive-only parameter given as 0
}

// positiveParams must be above 0 when given.
var positiveParams = []string{"dim", "window", "negative", "minCount", "epochs", "alpha"}

func (p *requestParams) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) == nil {
		for _, k := range positiveParams {
			if v, ok := fields[k]; ok {
				if f, err := strconv.ParseFloat(string(v), 64); err == nil && f == 0 {
					p.zero = k
					break
				}
			}
		}
	}
	type plain ophicleide.Params // without this method
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(&p.Params))
}

func (s *Server) createModel(w http.ResponseWriter, r *http.Request) {
	var req createModelRequest
	var uploads map[string]io.Reader
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		form, err := parseModelForm(w, r, &req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		defer form.RemoveAll()
		if uploads, err = openUploads(form, &req); err != nil {
			s.fail(w, r, err)
			return
		}
		defer closeAll(uploads)
	} else if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := newModelWithin(req, s.limits)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.precheckUploads(r.Context(), m, uploads); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.CreateModel(r.Context(), m, uploads); err != nil {
		s.fail(w, r, err)
		return
	}
	if s.wake != nil {
		s.wake()
	}
	w.Header().Set("Location", "/models/"+m.ID)
	s.json(w, http.StatusCreated, m)
}

// newModel validates a request against the default limits and builds the
// model to store.
func newModel(req createModelRequest) (*ophicleide.Model, error) {
	return newModelWithin(req, DefaultLimits())
}

// newModelWithin validates a request against lim and builds the model to
// store.
func newModelWithin(req createModelRequest, lim Limits) (*ophicleide.Model, error) {
	name := strings.TrimSpace(req.Name)
	switch {
	case name == "":
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "name", Message: "name is required"}
	case len(name) > maxNameLen:
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "name", Message: fmt.Sprintf("name is longer than %d characters", maxNameLen)}
	case len(req.URLs) > maxURLs:
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "urls", Message: fmt.Sprintf("at most %d URLs per model", maxURLs)}
	}
	var urls []string
	for _, u := range req.URLs {
		u = strings.TrimSpace(u)
		if u == "" {
			continue // the original web page sends one when the URL box ends with a newline
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "urls", Message: fmt.Sprintf("%q is not an http or https URL", u)}
		}
		urls = append(urls, u)
	}
	if len(urls) == 0 && len(req.uploads) == 0 {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "urls", Message: "give at least one URL of plain text to train on, or upload a text file"}
	}
	if req.Params.zero != "" {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: req.Params.zero,
			Message: fmt.Sprintf("%s must be above 0 (leave it out for the default)", req.Params.zero)}
	}
	if err := lim.Params.Check(req.Params.Params); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	if urls == nil {
		urls = []string{}
	}
	return &ophicleide.Model{ID: uuid.NewString(), Name: name, Status: ophicleide.StatusQueued, URLs: urls,
		Uploads: req.uploads, Callback: req.Callback, Params: req.Params.Params, Progress: &ophicleide.Progress{Phase: "queued"},
		Created: now, Updated: now}, nil
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "model")
	if err == nil {
		var m *ophicleide.Model
		if m, err = s.store.FindModel(r.Context(), id); err == nil {
			s.json(w, http.StatusOK, map[string]any{"model": m})
			return
		}
	}
	s.fail(w, r, err)
}

func (s *Server) deleteModel(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "model")
	if err == nil {
		err = s.store.DeleteModel(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.cache.Remove(id)
	w.WriteHeader(http.StatusNoContent)
}

type createQueryRequest struct {
	Model string `json:"model"`
	Word  string `json:"word"`
	Count *int   `json:"count"`
}

func (s *Server) createQuery(w http.ResponseWriter, r *http.Request) {
	var req createQueryRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	q, err := s.query(r.Context(), req)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/queries/"+q.ID)
	s.json(w, http.StatusCreated, map[string]any{"query": q})
}

// query answers and stores a query. The model's state is read from the
// store every time, so a model deleted by another replica is never served
// from the cache.
func (s *Server) query(ctx context.Context, req createQueryRequest) (*ophicleide.Query, error) {
	count := defaultCount
	if req.Count != nil {
		count = *req.Count
	}
	word := strings.TrimSpace(req.Word)
	switch {
	case req.Model == "":
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "model", Message: "model (a model id) is required"}
	case word == "":
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "word", Message: "word is required"}
	case count < 1 || count > maxCount:
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "count", Message: fmt.Sprintf("count must be between 1 and %d", maxCount)}
	}
	m, set, err := s.readyModel(ctx, req.Model)
	if err != nil {
		return nil, err
	}
	ns, err := set.Nearest(vocabWord(m, set, word), count)
	if err != nil {
		return nil, wordError(m, "word", err)
	}
	q := &ophicleide.Query{ID: uuid.NewString(), Word: word, ModelID: m.ID, ModelName: m.Name,
		Results: results(ns), Created: time.Now().UTC()}
	if err := s.store.CreateQuery(ctx, q); err != nil {
		return nil, err
	}
	return q, nil
}

func (s *Server) getQuery(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "query")
	if err == nil {
		var q *ophicleide.Query
		if q, err = s.store.FindQuery(r.Context(), id); err == nil {
			s.json(w, http.StatusOK, map[string]any{"query": q})
			return
		}
	}
	s.fail(w, r, err)
}

// homePage is what browsers get at / from a server without the page (the
// `api` role).
const homePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ophicleide API</title></head>
<body><h1>Ophicleide API</h1>
<p>This is the REST API (<code>GET /models</code>, <code>POST /models</code>, <code>POST /queries</code>,
the whole document at <a href="/openapi.yaml">/openapi.yaml</a>). The web page is served by
<code>ophicleide serve</code> and <code>ophicleide web</code>.</p></body></html>
`
