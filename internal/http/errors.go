package http

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/ophicleide/ophicleide"
)

// methodNotAllowed is an HTTP-only code: the router, not the domain, says it.
const methodNotAllowed = "method_not_allowed"

// errorStatus is the one table from error codes to HTTP statuses.
var errorStatus = map[string]int{
	ophicleide.EINVALID:      http.StatusBadRequest,
	ophicleide.ENOTFOUND:     http.StatusNotFound,
	ophicleide.ECONFLICT:     http.StatusConflict,
	ophicleide.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	ophicleide.EUNAVAILABLE:  http.StatusServiceUnavailable,
	ophicleide.EFULL:         http.StatusInsufficientStorage,
	ophicleide.EUNAUTHORIZED: http.StatusUnauthorized,
	ophicleide.EFORBIDDEN:    http.StatusForbidden,
	ophicleide.ELIMITED:      http.StatusTooManyRequests,
	ophicleide.EINTERNAL:     http.StatusInternalServerError,
	methodNotAllowed:         http.StatusMethodNotAllowed,
	unsupportedMediaType:     http.StatusUnsupportedMediaType,
	crossOrigin:              http.StatusForbidden,
	misdirectedRequest:       http.StatusMisdirectedRequest,
}

// apiError is one element of the original's error body.
type apiError struct {
	Status  int    `json:"status"`
	Title   string `json:"title"`
	Details string `json:"details"`
	Field   string `json:"field,omitempty"`
	// Suggestions: for a word not in a model's vocabulary, words of it
	// nearest by spelling.
	Suggestions []string `json:"suggestions,omitempty"`
}

// fail writes err as {"errors": [...]}; internal errors are logged and
// shown as a generic message. An error with RetryAfter gets a Retry-After
// header (seconds, rounded up); a 401 gets WWW-Authenticate.
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
	var suggestions []string
	var e *ophicleide.Error
	if errors.As(err, &e) {
		field, suggestions = e.Field, e.Suggestions
		if e.RetryAfter > 0 {
			// Whole seconds, rounded up: never "retry now" too early.
			w.Header().Set("Retry-After", strconv.FormatInt(int64((e.RetryAfter+time.Second-1)/time.Second), 10))
		}
	}
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", authRealm)
	}
	s.json(w, status, map[string][]apiError{"errors": {{Status: status, Title: http.StatusText(status), Details: ophicleide.ErrorMessage(err), Field: field, Suggestions: suggestions}}})
}

func (s *Server) json(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		s.log.Debug("writing response", "err", err)
	}
}
