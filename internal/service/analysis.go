package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// The analysis operations of ophicleide.QueryService: restricted
// neighbours and analogies, 3CosMul, the odd one out, batches of vectors,
// the model map and the comparison of two models. The algorithms are
// internal/vectors'; this file checks the requests and speaks in words
// as the caller gave them.

// checkRestrict refuses a restrict out of 0..MaxRestrict (0: all words).
func checkRestrict(restrict int) error {
	if restrict < 0 || restrict > ophicleide.MaxRestrict {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "restrict",
			Message: fmt.Sprintf("restrict must be between 1 and %d (the most frequent words to search among)", ophicleide.MaxRestrict)}
	}
	return nil
}

// checkWords refuses an empty list, one longer than MaxListWords, or a
// blank word.
func checkWords(words []string) error {
	switch {
	case len(words) == 0:
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "words", Message: "words is required: give at least one word"}
	case len(words) > ophicleide.MaxListWords:
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "words",
			Message: fmt.Sprintf("at most %d words, got %d", ophicleide.MaxListWords, len(words))}
	}
	for i, w := range words {
		if strings.TrimSpace(w) == "" {
			return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "words", Message: fmt.Sprintf("word %d is blank", i+1)}
		}
	}
	return nil
}

// SimilarWords implements ophicleide.QueryService.
func (s *Queries) SimilarWords(ctx context.Context, req ophicleide.SimilarRequest) (*ophicleide.Neighbours, error) {
	if err := checkCount(req.Count); err != nil {
		return nil, err
	}
	if err := checkRestrict(req.Restrict); err != nil {
		return nil, err
	}
	m, set, err := s.readyModel(ctx, req.ModelID)
	if err != nil {
		return nil, err
	}
	word := strings.TrimSpace(req.Word)
	vw := vocabWord(m, set, word)
	opt := vectors.SearchOptions{Restrict: req.Restrict, Exact: req.Exact}
	exact := !set.Approximate(opt)
	ns, err := set.NearestWith(vw, req.Count, opt)
	if err != nil {
		return nil, wordError(m, set, "word", err)
	}
	return &ophicleide.Neighbours{Results: results(ns), OOV: oovWords(set, []string{word}, []string{vw}), Exact: exact}, nil
}

// SolveAnalogy implements ophicleide.QueryService.
func (s *Queries) SolveAnalogy(ctx context.Context, req ophicleide.AnalogyRequest) (*ophicleide.Neighbours, error) {
	if err := checkCount(req.Count); err != nil {
		return nil, err
	}
	if err := checkRestrict(req.Restrict); err != nil {
		return nil, err
	}
	method := strings.ToLower(strings.TrimSpace(req.Method))
	switch method {
	case "", ophicleide.Analogy3CosAdd, ophicleide.Analogy3CosMul:
	default:
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "method",
			Message: fmt.Sprintf("method must be %s or %s", ophicleide.Analogy3CosAdd, ophicleide.Analogy3CosMul)}
	}
	if len(req.Positive) == 0 {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "positive", Message: "give at least one positive word (for example positive=king,woman&negative=man)"}
	}
	if len(req.Positive)+len(req.Negative) > ophicleide.MaxListWords {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "positive", Message: fmt.Sprintf("an analogy takes at most %d words", ophicleide.MaxListWords)}
	}
	m, set, err := s.readyModel(ctx, req.ModelID)
	if err != nil {
		return nil, err
	}
	vpos, vneg := vocabWords(m, set, req.Positive), vocabWords(m, set, req.Negative)
	for i, w := range vneg {
		if slices.Contains(vpos, w) {
			return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "negative",
				Message: fmt.Sprintf("the word %q is both positive and negative: an analogy needs different words (for example positive=king,woman&negative=man)", req.Negative[i])}
		}
	}
	var ns []vectors.Neighbor
	opt := vectors.SearchOptions{Restrict: req.Restrict, Exact: req.Exact}
	exact := method == ophicleide.Analogy3CosMul || !set.Approximate(opt)
	if method == ophicleide.Analogy3CosMul {
		ns, err = set.AnalogyCosMul(vpos, vneg, req.Count, req.Restrict) // its own scan: exact
	} else {
		ns, err = set.AnalogyWith(vpos, vneg, req.Count, opt)
	}
	if err != nil {
		field := "positive"
		if uw := (*vectors.UnknownWordError)(nil); errors.As(err, &uw) && !slices.Contains(vpos, uw.Word) {
			field = "negative"
		}
		return nil, wordError(m, set, field, err)
	}
	return &ophicleide.Neighbours{Results: results(ns),
		OOV: oovWords(set, slices.Concat(req.Positive, req.Negative), slices.Concat(vpos, vneg)), Exact: exact}, nil
}

// DoesntMatch implements ophicleide.QueryService: a word repeated (as
// given or in the model's form) counts once.
func (s *Queries) DoesntMatch(ctx context.Context, modelID string, words []string) (*ophicleide.OddOneOut, error) {
	if err := checkWords(words); err != nil {
		return nil, err
	}
	m, set, err := s.readyModel(ctx, modelID)
	if err != nil {
		return nil, err
	}
	out := &ophicleide.OddOneOut{Words: []ophicleide.WordScore{}, Unknown: []string{}, OOV: []string{}}
	var given, known []string
	for _, w := range words {
		w = strings.TrimSpace(w)
		v := vocabWord(m, set, w)
		switch _, ok := set.Index(v); {
		case !ok && !hasVector(set, v):
			if !slices.Contains(out.Unknown, w) {
				out.Unknown = append(out.Unknown, w)
			}
		case !slices.Contains(known, v):
			given, known = append(given, w), append(known, v)
		}
	}
	if len(known) < 3 {
		msg := fmt.Sprintf("the odd one out needs at least 3 different words of model %q, got %d", m.Name, len(known))
		if len(out.Unknown) > 0 {
			msg += fmt.Sprintf(" (not in its vocabulary: %s)", strings.Join(out.Unknown, ", "))
		}
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "words", Message: msg}
	}
	odd, scores, err := set.OddOneOut(known)
	if err != nil {
		return nil, wordError(m, set, "words", err)
	}
	out.Word = given[odd]
	for i, w := range given {
		out.Words = append(out.Words, ophicleide.WordScore{Word: w, Score: float64(scores[i])})
	}
	if o := oovWords(set, given, known); o != nil {
		out.OOV = o
	}
	return out, nil
}

// Vectors implements ophicleide.QueryService.
func (s *Queries) Vectors(ctx context.Context, modelID string, words []string) (*ophicleide.VectorBatch, error) {
	if err := checkWords(words); err != nil {
		return nil, err
	}
	m, set, err := s.readyModel(ctx, modelID)
	if err != nil {
		return nil, err
	}
	out := &ophicleide.VectorBatch{Dim: set.Dim(), Vectors: map[string][]float32{}, Unknown: []string{}, OOV: []string{}}
	for _, w := range words {
		if _, done := out.Vectors[w]; done || slices.Contains(out.Unknown, w) {
			continue
		}
		vw := vocabWord(m, set, strings.TrimSpace(w))
		v, err := set.Vector(vw)
		if err != nil {
			out.Unknown = append(out.Unknown, w)
			continue
		}
		out.Vectors[w] = v
		if set.IsOOV(vw) {
			out.OOV = append(out.OOV, w)
		}
	}
	return out, nil
}

// Map implements ophicleide.QueryService: the MaxMapWords most frequent
// words are projected once per model (vectors.PCA2, fitted on them) and
// kept in the cache; a count is a prefix of them, so a word has the same
// place whatever the count.
func (s *Queries) Map(ctx context.Context, modelID string, count int) (*ophicleide.WordMap, error) {
	if count < 1 || count > ophicleide.MaxMapWords {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "count",
			Message: fmt.Sprintf("count must be between 1 and %d", ophicleide.MaxMapWords)}
	}
	m, set, err := s.readyModel(ctx, modelID)
	if err != nil {
		return nil, err
	}
	full, err := s.cache.maps.get(m.ID, func() (*ophicleide.WordMap, error) {
		rows := min(ophicleide.MaxMapWords, set.Len())
		pts, _, err := set.PCA2(rows)
		if err != nil {
			return nil, fmt.Errorf("map of model %s: %w", m.ID, err)
		}
		// The words are copied: a map outlives the vectors, which a
		// byte-bounded cache may evict, and their words' storage.
		wm := &ophicleide.WordMap{Method: "pca", Words: make([]string, rows), Points: make([][2]float32, rows)}
		for i := range wm.Points {
			wm.Words[i] = strings.Clone(set.Word(i))
			wm.Points[i] = [2]float32{pts[2*i], pts[2*i+1]}
		}
		return wm, nil
	})
	if err != nil {
		return nil, err
	}
	n := min(count, len(full.Words))
	return &ophicleide.WordMap{Method: full.Method, Words: full.Words[:n:n], Points: full.Points[:n:n]}, nil
}

// Compare implements ophicleide.QueryService.
func (s *Queries) Compare(ctx context.Context, req ophicleide.CompareRequest) (*ophicleide.Comparison, error) {
	switch {
	case strings.TrimSpace(req.A) == "":
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "a", Message: "a (the id of the first model) is required"}
	case strings.TrimSpace(req.B) == "":
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "b", Message: "b (the id of the second model) is required"}
	case req.Moved < 1 || req.Moved > ophicleide.MaxMoved:
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "moved", Message: fmt.Sprintf("moved must be between 1 and %d", ophicleide.MaxMoved)}
	}
	if err := checkCount(req.Count); err != nil {
		return nil, err
	}
	ma, sa, err := s.readyModel(ctx, req.A)
	if err != nil {
		return nil, err
	}
	mb, sb, err := s.readyModel(ctx, req.B)
	if err != nil {
		return nil, err
	}
	if sa.Dim() != sb.Dim() {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "b",
			Message: fmt.Sprintf("model %q has dimension %d and model %q %d: comparing aligns the two, which needs the same dimension", mb.Name, sb.Dim(), ma.Name, sa.Dim())}
	}
	out := &ophicleide.Comparison{A: ophicleide.ModelRef{ID: ma.ID, Name: ma.Name}, B: ophicleide.ModelRef{ID: mb.ID, Name: mb.Name}, Moved: []ophicleide.MovedWord{}}
	if word := strings.TrimSpace(req.Word); word != "" {
		na, err := sa.Nearest(vocabWord(ma, sa, word), req.Count)
		if err != nil {
			return nil, wordError(ma, sa, "word", err)
		}
		nb, err := sb.Nearest(vocabWord(mb, sb, word), req.Count)
		if err != nil {
			return nil, wordError(mb, sb, "word", err)
		}
		out.Word = word
		out.Neighbours = neighbourOverlap(results(na), results(nb))
	}
	// The alignment is kept (cachemap.go): the same pair asked about
	// another word or more moved words aligns once.
	al, err := s.cache.align.get(ma.ID, mb.ID, func() (*vectors.Alignment, error) {
		return vectors.Align(sa, sb, vectors.CompareOptions{Align: ophicleide.CompareAligned, Scan: ophicleide.CompareScanned})
	})
	if err != nil {
		return nil, err
	}
	out.Shared, out.Aligned = al.Shared, al.Aligned
	for _, mw := range al.Moved(sa, sb, req.Moved, ophicleide.CompareTop) {
		out.Moved = append(out.Moved, ophicleide.MovedWord{Word: mw.Word, Distance: float64(mw.Distance), A: mw.A, B: mw.B})
	}
	return out, nil
}

// neighbourOverlap is a and b with the words both have (in a's order)
// and their Jaccard index.
func neighbourOverlap(a, b []ophicleide.Result) *ophicleide.CompareNeighbours {
	out := &ophicleide.CompareNeighbours{A: a, B: b, Overlap: []string{}}
	union := map[string]bool{}
	for _, r := range b {
		union[r.Word] = true
	}
	for _, r := range a {
		if union[r.Word] {
			out.Overlap = append(out.Overlap, r.Word)
		}
		union[r.Word] = true
	}
	if len(union) > 0 {
		out.Jaccard = float64(len(out.Overlap)) / float64(len(union))
	}
	return out
}

// tsvExport is Export in the Embedding Projector's formats:
// ExportTSV (vectors.tsv) or ExportTSVMetadata (metadata.tsv).
func tsvExport(m *ophicleide.Model, set *vectors.Set, format string) *ophicleide.Export {
	write := func(w io.Writer) error { return vectors.WriteTSV(w, set) }
	if format == ophicleide.ExportTSVMetadata {
		write = func(w io.Writer) error { return vectors.WriteTSVMetadata(w, set) }
	}
	return &ophicleide.Export{Model: m, Format: format, Write: write}
}

// hasVector reports whether word, not in set's vocabulary, has a vector
// from its n-grams (a set with subwords, a word with an n-gram).
func hasVector(set *vectors.Set, word string) bool {
	if set.Subwords() == nil {
		return false
	}
	_, _, err := set.WordVector(word)
	return err == nil
}
