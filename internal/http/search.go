package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/ophicleide/ophicleide"
)

// POST /models/{id}/search: many neighbour queries of one model in one
// request (ophicleide.QueryService.Search). A read, like POST /queries
// and POST /models/{id}/vectors, that the rate limiter counts as one read
// per query (chargeReads). Each answer has the shape of its single
// endpoint's (GET /models/{id}/similar for a word, .../analogy for an
// analogy; a vector's only its results); a query that fails on the
// model's vocabulary (an unknown word) answers {"error": {...}} in its
// place, the same error object as the API's others with the field named
// from the request (queries[3].word), while a malformed request is a
// 400 for all of it.

// maxSearchBody bounds a search's body: 1,000 queries of dimension 300
// as a browser writes float32s (~13 bytes a value) are 3.9 MB. At 2
// bytes a value ("0,"), the most it holds is 4M values, 16 MB as float32.
const maxSearchBody = 8 << 20

// searchRequest is the body of POST /models/{id}/search.
type searchRequest struct {
	Queries  []searchQuery `json:"queries"`
	Count    *int          `json:"count"`
	Restrict int           `json:"restrict"`
	Method   string        `json:"method"`
	Exact    bool          `json:"exact"`
}

type searchQuery struct {
	Word     string    `json:"word"`
	Vector   []float32 `json:"vector"`
	Positive []string  `json:"positive"`
	Negative []string  `json:"negative"`
}

func (s *Server) search(w http.ResponseWriter, r *http.Request) error {
	var req searchRequest
	if err := decodeSearch(r, &req); err != nil {
		return err
	}
	if err := chargeReads(r, len(req.Queries), "a search of %d queries", len(req.Queries)); err != nil {
		return err
	}
	count := ophicleide.DefaultCount
	if req.Count != nil {
		count = *req.Count
	}
	sr := ophicleide.SearchRequest{ModelID: r.PathValue("id"), Queries: make([]ophicleide.SearchQuery, len(req.Queries)),
		Count: count, Restrict: req.Restrict, Method: req.Method, Exact: req.Exact}
	for i, q := range req.Queries {
		sr.Queries[i] = ophicleide.SearchQuery{Word: q.Word, Vector: q.Vector, Positive: q.Positive, Negative: q.Negative}
	}
	answers, err := s.queries.Search(r.Context(), sr)
	if err != nil {
		return err
	}
	out := make([]map[string]any, len(answers))
	exact := true
	for i, a := range answers {
		exact = exact && a.Exact
		q := req.Queries[i]
		if a.Err != nil {
			out[i] = map[string]any{"error": s.itemError(r, fmt.Sprintf("queries[%d]", i), a.Err)}
			continue
		}
		item := map[string]any{"results": a.Results}
		switch {
		case q.Word != "":
			item["word"] = q.Word
			if len(a.OOV) > 0 {
				item["oov"] = true
			}
		case q.Positive != nil:
			item["positive"], item["negative"] = q.Positive, nonNil(q.Negative)
			if len(a.OOV) > 0 {
				item["oov"] = a.OOV
			}
		}
		out[i] = item
	}
	// "exact": false: the model's approximate index answered the word,
	// vector and 3CosAdd queries (3CosMul's scan is always exact).
	s.json(w, http.StatusOK, map[string]any{"results": out, "exact": exact})
	return nil
}

// itemError is one query's error as the API's error object, its field
// named within the request (prefix "queries[3]", field "word":
// "queries[3].word").
func (s *Server) itemError(r *http.Request, prefix string, err error) apiError {
	code := ophicleide.ErrorCode(err)
	status, ok := errorStatus[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	e := apiError{Status: status, Title: http.StatusText(status), Details: ophicleide.ErrorMessage(err), Field: prefix}
	var oe *ophicleide.Error
	if errors.As(err, &oe) {
		if oe.Field != "" {
			e.Field = prefix + "." + oe.Field
		}
		e.Suggestions = oe.Suggestions
	}
	return e
}

func nonNil(words []string) []string {
	if words == nil {
		return []string{}
	}
	return words
}

// decodeSearch is decode with maxSearchBody for the limit, and a number
// out of float32's range in a vector said as such (encoding/json calls it
// a number that is not a number).
func decodeSearch(r *http.Request, v *searchRequest) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxSearchBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field == "queries.vector" && strings.HasPrefix(te.Value, "number ") {
			return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "queries.vector",
				Message: fmt.Sprintf("a vector's values are float32s: %s is out of their range", strings.TrimPrefix(te.Value, "number "))}
		}
		return jsonError(err, "the request body", "")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ophicleide.Errorf(ophicleide.ETOOLARGE, "the request body is larger than %d bytes", maxSearchBody)
		}
		return ophicleide.Errorf(ophicleide.EINVALID, "the request body holds more than one JSON value")
	}
	return nil
}
