package client

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/ophicleide/ophicleide"
)

// Search sends many neighbour queries of one model in one request (POST
// /models/{id}/search; req.ModelID is ignored; Count 0: the server's
// default). The answers are in the order of the queries; a query that
// failed on the model's vocabulary has Err, an *ophicleide.Error with
// the server's message, its Field as the server names it
// ("queries[3].word") and its Suggestions. exact reports whether every
// answer came from the exact scan.
func (c *Client) Search(ctx context.Context, modelID string, req ophicleide.SearchRequest) (answers []ophicleide.SearchAnswer, exact bool, err error) {
	type query struct {
		Word     string    `json:"word,omitempty"`
		Vector   []float32 `json:"vector,omitempty"`
		Positive []string  `json:"positive,omitempty"`
		Negative []string  `json:"negative,omitempty"`
	}
	in := struct {
		Queries  []query `json:"queries"`
		Count    int     `json:"count,omitempty"`
		Restrict int     `json:"restrict,omitempty"`
		Method   string  `json:"method,omitempty"`
		Exact    bool    `json:"exact,omitempty"`
	}{Queries: make([]query, len(req.Queries)), Count: req.Count, Restrict: req.Restrict, Method: req.Method, Exact: req.Exact}
	for i, q := range req.Queries {
		in.Queries[i] = query{Word: q.Word, Vector: q.Vector, Positive: q.Positive, Negative: q.Negative}
	}
	var out struct {
		Exact   bool `json:"exact"`
		Results []struct {
			Results []ophicleide.Result `json:"results"`
			OOV     any                 `json:"oov"` // true (a word) or the words (an analogy)
			Word    string              `json:"word"`
			Error   *struct {
				Status      int      `json:"status"`
				Details     string   `json:"details"`
				Field       string   `json:"field"`
				Suggestions []string `json:"suggestions"`
			} `json:"error"`
		} `json:"results"`
	}
	if err := c.do(ctx, http.MethodPost, "/models/"+url.PathEscape(modelID)+"/search", in, &out); err != nil {
		return nil, false, err
	}
	if len(out.Results) != len(req.Queries) {
		return nil, false, &ophicleide.Error{Code: ophicleide.EINTERNAL, Message: fmt.Sprintf("the server answered %d of %d queries", len(out.Results), len(req.Queries))}
	}
	answers = make([]ophicleide.SearchAnswer, len(out.Results))
	for i, r := range out.Results {
		a := &answers[i]
		if e := r.Error; e != nil {
			code, ok := codes[e.Status]
			if !ok {
				code = ophicleide.EINTERNAL
			}
			a.Err = &ophicleide.Error{Code: code, Message: e.Details, Field: e.Field, Suggestions: e.Suggestions}
			continue
		}
		a.Results = r.Results
		switch oov := r.OOV.(type) {
		case bool:
			if oov {
				a.OOV = []string{r.Word}
			}
		case []any:
			for _, w := range oov {
				if s, ok := w.(string); ok {
					a.OOV = append(a.OOV, s)
				}
			}
		}
	}
	return answers, out.Exact, nil
}
