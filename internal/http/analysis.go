package http

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ophicleide/ophicleide"
)

// The analysis endpoints: GET /models/{id}/doesntmatch, POST
// /models/{id}/vectors (a batch of vectors: a read, like POST /queries),
// GET /models/{id}/map and GET /compare. The query service answers them;
// restrict and method of similar and analogy are read here too.

// intParam reads the whole-number query parameter name, def when absent,
// lo to hi.
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &ophicleide.Error{Code: ophicleide.EINVALID, Field: name, Message: fmt.Sprintf("%s must be a whole number between %d and %d", name, lo, hi)}
	}
	return n, nil
}

// restrictParam reads ?restrict= (absent: 0, every word).
func restrictParam(r *http.Request) (int, error) {
	return intParam(r, "restrict", 0, 1, ophicleide.MaxRestrict)
}

// exactParam reads ?exact= (absent or false: a model's approximate index
// answers once built; true: the exact scan). Anything else is refused
// rather than read as false: a client that asks for exact answers must
// get them.
func exactParam(r *http.Request) (bool, error) {
	switch v := strings.TrimSpace(r.URL.Query().Get("exact")); v {
	case "", "false", "0":
		return false, nil
	case "true", "1":
		return true, nil
	}
	return false, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "exact", Message: "exact must be true or false"}
}

func (s *Server) doesntMatch(w http.ResponseWriter, r *http.Request) error {
	if _, err := required(r, "words"); err != nil {
		return err
	}
	out, err := s.queries.DoesntMatch(r.Context(), r.PathValue("id"), splitList(r.URL.Query().Get("words")))
	if err != nil {
		return err
	}
	s.json(w, http.StatusOK, out)
	return nil
}

// vectorsRequest is the body of POST /models/{id}/vectors.
type vectorsRequest struct {
	Words []string `json:"words"`
}

func (s *Server) batchVectors(w http.ResponseWriter, r *http.Request) error {
	var req vectorsRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := s.queries.Vectors(r.Context(), r.PathValue("id"), req.Words)
	if err != nil {
		return err
	}
	s.json(w, http.StatusOK, out)
	return nil
}

func (s *Server) wordMap(w http.ResponseWriter, r *http.Request) error {
	count, err := intParam(r, "count", ophicleide.DefaultMapWords, 1, ophicleide.MaxMapWords)
	if err != nil {
		return err
	}
	out, err := s.queries.Map(r.Context(), r.PathValue("id"), count)
	if err != nil {
		return err
	}
	s.json(w, http.StatusOK, out)
	return nil
}

func (s *Server) compare(w http.ResponseWriter, r *http.Request) error {
	a, err := required(r, "a")
	if err != nil {
		return err
	}
	b, err := required(r, "b")
	if err != nil {
		return err
	}
	count, err := intParam(r, "count", ophicleide.DefaultCompareCount, 1, ophicleide.MaxCount)
	if err != nil {
		return err
	}
	moved, err := intParam(r, "moved", ophicleide.DefaultMoved, 1, ophicleide.MaxMoved)
	if err != nil {
		return err
	}
	out, err := s.queries.Compare(r.Context(), ophicleide.CompareRequest{A: a, B: b, Word: r.URL.Query().Get("word"), Count: count, Moved: moved})
	if err != nil {
		return err
	}
	s.json(w, http.StatusOK, out)
	return nil
}
