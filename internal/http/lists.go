package http

import (
	"net/http"
	"strconv"

	"github.com/ophicleide/ophicleide"
)

// The lists (GET /models, GET /queries) are pages, newest first:
// ?limit= (1 to 1000, default 100) and ?after= (the next of the previous
// page); the body is the original's ({"models": [...]}, {"queries":
// [...]}) plus "next", left out on the last page. A client that knows no
// pages, as the 2016 web page, gets the newest 100.

// page reads ?limit= and ?after=; a bad limit is EINVALID naming it (a bad
// cursor is the store's to refuse).
func page(r *http.Request) (ophicleide.Page, error) {
	var p ophicleide.Page
	q := r.URL.Query()
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ophicleide.MaxPageLimit {
			return p, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "limit",
				Message: "limit must be a whole number from 1 to " + strconv.Itoa(ophicleide.MaxPageLimit)}
		}
		p.Limit = n
	}
	p.After = q.Get("after")
	return p, nil
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ms, err := s.models.PageModels(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.json(w, http.StatusOK, ms)
}

// listQueries serves GET /queries, of one model with ?model=ID.
func (s *Server) listQueries(w http.ResponseWriter, r *http.Request) {
	p, err := page(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	qs, err := s.queries.PageQueries(r.Context(), r.URL.Query().Get("model"), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.json(w, http.StatusOK, qs)
}
