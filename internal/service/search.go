package service

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Search (ophicleide.QueryService.Search): many neighbour queries of one
// model in one call, for a page that draws a picture of many words and
// for clients that would otherwise send a request a word. The model is
// read from the store and its vectors from the cache once for the whole
// batch; each query is then answered as its single endpoint answers it.

// searchSuggestions bounds the unknown words of one request that get
// suggestions: Suggest costs a few ms a word (vectors.Set.Suggest), and a
// request of 1,000 unknown words must not cost seconds. Later unknown
// words fail with the same message and no suggestions.
const searchSuggestions = 100

// Search implements ophicleide.QueryService. A model with an approximate
// index attached (index.go) answers its unrestricted queries from it
// unless req.Exact; a query restricted to fewer rows is the exact scan. The
// analogies by 3CosMul are always exact (their scan is their own).
func (s *Queries) Search(ctx context.Context, req ophicleide.SearchRequest) ([]ophicleide.SearchAnswer, error) {
	if err := checkCount(req.Count); err != nil {
		return nil, err
	}
	if err := checkRestrict(req.Restrict); err != nil {
		return nil, err
	}
	method, err := analogyMethod(req.Method)
	if err != nil {
		return nil, err
	}
	if err := checkSearchQueries(req.Queries); err != nil {
		return nil, err
	}
	m, set, err := s.readyModel(ctx, req.ModelID)
	if err != nil {
		return nil, err
	}
	opt := vectors.SearchOptions{Restrict: req.Restrict, Exact: req.Exact}
	// The vectors are checked against the model before any is searched:
	// a malformed one fails the request, not its query.
	units := make([][]float32, len(req.Queries))
	for i, q := range req.Queries {
		if q.Vector != nil {
			if units[i], err = unitQuery(q.Vector, set.Dim(), fmt.Sprintf("queries[%d].vector", i)); err != nil {
				return nil, err
			}
		}
	}
	out := make([]ophicleide.SearchAnswer, len(req.Queries))
	suggested := 0
	for i, q := range req.Queries {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		a := &out[i]
		a.Exact = !set.Approximate(opt) || len(q.Positive) > 0 && method == ophicleide.Analogy3CosMul
		var ns []vectors.Neighbor
		switch {
		case units[i] != nil:
			ns = set.SearchWith(units[i], req.Count, opt, nil)
		case len(q.Positive) > 0:
			ns, a.OOV, err = analogy(m, set, q.Positive, q.Negative, req.Count, opt, method)
		default:
			word := strings.TrimSpace(q.Word)
			vw := vocabWord(m, set, word)
			if ns, err = set.NearestWith(vw, req.Count, opt); err == nil {
				a.OOV = oovWords(set, []string{word}, []string{vw})
			} else {
				err = wordError(m, set, "word", err)
			}
		}
		if err != nil {
			var e *ophicleide.Error
			if !errors.As(err, &e) || e.Code != ophicleide.EINVALID {
				return nil, err // not the query's fault
			}
			if len(e.Suggestions) > 0 {
				if suggested++; suggested > searchSuggestions {
					e.Suggestions = nil
				}
			}
			a.Err, err = e, nil
			continue
		}
		a.Results = results(ns)
	}
	return out, nil
}

// checkSearchQueries refuses an empty batch, one over MaxSearchQueries,
// and a query that is not exactly one of a word, a vector or an analogy,
// naming it ("queries[3]"). It does not know the model: the vectors'
// dimension is checked by unitQuery.
func checkSearchQueries(qs []ophicleide.SearchQuery) error {
	switch {
	case len(qs) == 0:
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "queries", Message: "queries is required: give at least one query (a word, a vector or an analogy)"}
	case len(qs) > ophicleide.MaxSearchQueries:
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "queries",
			Message: fmt.Sprintf("at most %d queries in one search, got %d", ophicleide.MaxSearchQueries, len(qs))}
	}
	for i, q := range qs {
		field := fmt.Sprintf("queries[%d]", i)
		kinds := 0
		if q.Word != "" {
			kinds++
		}
		if q.Vector != nil {
			kinds++
		}
		if q.Positive != nil || q.Negative != nil {
			kinds++
		}
		switch {
		case kinds == 0:
			return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field, Message: field + " is empty: give a word, a vector or positive (and negative) words"}
		case kinds > 1:
			return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field, Message: field + " has more than one of word, vector and positive: one query asks one thing"}
		case q.Word != "" && strings.TrimSpace(q.Word) == "":
			return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field + ".word", Message: field + ".word is blank"}
		case q.Vector != nil && len(q.Vector) == 0:
			return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field + ".vector", Message: field + ".vector is empty"}
		case q.Vector == nil && q.Word == "" && len(q.Positive) == 0:
			return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field + ".positive", Message: field + ": an analogy needs at least one positive word"}
		case len(q.Positive)+len(q.Negative) > ophicleide.MaxListWords:
			return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field + ".positive",
				Message: fmt.Sprintf("%s: an analogy takes at most %d words", field, ophicleide.MaxListWords)}
		}
		for _, list := range []struct {
			name  string
			words []string
		}{{"positive", q.Positive}, {"negative", q.Negative}} {
			for j, w := range list.words {
				if strings.TrimSpace(w) == "" {
					return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field + "." + list.name,
						Message: fmt.Sprintf("%s.%s[%d] is blank", field, list.name, j)}
				}
			}
		}
	}
	return nil
}

// unitQuery returns v scaled to unit length, or EINVALID Field field for
// a vector not of dimension dim, with a value that is not finite, or
// zero. The norm is taken in float64, so finite float32 values as large
// as they come (3e38, whose square overflows float32) still have one.
func unitQuery(v []float32, dim int, field string) ([]float32, error) {
	if len(v) != dim {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: field,
			Message: fmt.Sprintf("%s has %d values; the model's vectors have %d", field, len(v), dim)}
	}
	var ss float64
	for j, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: field, Message: fmt.Sprintf("%s[%d] is not a finite number", field, j)}
		}
		ss += f * f
	}
	if ss == 0 {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: field, Message: field + " is zero: a search needs a direction"}
	}
	norm := math.Sqrt(ss)
	u := make([]float32, dim)
	for j, x := range v {
		u[j] = float32(float64(x) / norm)
	}
	return u, nil
}

// analogyMethod checks an analogy method and returns it lower-cased.
func analogyMethod(method string) (string, error) {
	method = strings.ToLower(strings.TrimSpace(method))
	switch method {
	case "", ophicleide.Analogy3CosAdd, ophicleide.Analogy3CosMul:
		return method, nil
	}
	return "", &ophicleide.Error{Code: ophicleide.EINVALID, Field: "method",
		Message: fmt.Sprintf("method must be %s or %s", ophicleide.Analogy3CosAdd, ophicleide.Analogy3CosMul)}
}

// analogy answers one analogy of a ready model as SolveAnalogy does
// (its words in the model's form, a word both positive and negative
// refused), with the words answered from their n-grams; its errors are
// the query's (wordError's, Field "positive" or "negative").
func analogy(m *ophicleide.Model, set *vectors.Set, positive, negative []string, count int, opt vectors.SearchOptions, method string) ([]vectors.Neighbor, []string, error) {
	pos, neg := trimmed(positive), trimmed(negative)
	vpos, vneg := vocabWords(m, set, pos), vocabWords(m, set, neg)
	for i, w := range vneg {
		if slices.Contains(vpos, w) {
			return nil, nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "negative",
				Message: fmt.Sprintf("the word %q is both positive and negative: an analogy needs different words", neg[i])}
		}
	}
	var ns []vectors.Neighbor
	var err error
	if method == ophicleide.Analogy3CosMul {
		ns, err = set.AnalogyCosMul(vpos, vneg, count, opt.Restrict) // its own scan: exact
	} else {
		ns, err = set.AnalogyWith(vpos, vneg, count, opt)
	}
	if err != nil {
		field := "positive"
		if uw := (*vectors.UnknownWordError)(nil); errors.As(err, &uw) && !slices.Contains(vpos, uw.Word) {
			field = "negative"
		}
		return nil, nil, wordError(m, set, field, err)
	}
	return ns, oovWords(set, slices.Concat(pos, neg), slices.Concat(vpos, vneg)), nil
}

// trimmed is words with their spaces trimmed, in a new slice.
func trimmed(words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = strings.TrimSpace(w)
	}
	return out
}
