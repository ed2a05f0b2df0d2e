package http

import (
	"net/http"

	"github.com/ophicleide/ophicleide"
)

type createQueryRequest struct {
	Model string `json:"model"`
	Word  string `json:"word"`
	Count *int   `json:"count"`
}

// createQuery serves POST /queries: the query is answered and kept in the
// history (GET /queries, lists.go).
func (s *Server) createQuery(w http.ResponseWriter, r *http.Request) {
	var req createQueryRequest
	if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	count := ophicleide.DefaultCount
	if req.Count != nil {
		count = *req.Count
	}
	q, err := s.queries.Query(r.Context(), ophicleide.QueryRequest{ModelID: req.Model, Word: req.Word, Count: count})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/queries/"+q.ID)
	s.json(w, http.StatusCreated, map[string]any{"query": q})
}

func (s *Server) getQuery(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "query")
	if err == nil {
		var q *ophicleide.Query
		if q, err = s.queries.FindQuery(r.Context(), id); err == nil {
			s.json(w, http.StatusOK, map[string]any{"query": q})
			return
		}
	}
	s.fail(w, r, err)
}
