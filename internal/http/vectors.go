package http

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/ophicleide/ophicleide"
)

// The endpoints of a ready model's vectors: GET /models/{id}/similar,
// analogy, similarity, vectors/{word}, words and export. The query
// service answers them; unknown words are its EINVALID errors naming the
// parameter (with suggestions, errors.go). A word a subword model
// answers from its character n-grams is marked: "oov": true on similar
// and vectors/{word}, "oov": [words] on analogy and similarity (absent
// when none). similar and analogy take exact=true for the exact scan
// whatever index the model has; their "exact" says which answered.

func (s *Server) similar(w http.ResponseWriter, r *http.Request) error {
	word, err := required(r, "word")
	if err != nil {
		return err
	}
	count, err := countParam(r)
	if err != nil {
		return err
	}
	restrict, err := restrictParam(r) // (analysis.go)
	if err != nil {
		return err
	}
	exact, err := exactParam(r) // (analysis.go)
	if err != nil {
		return err
	}
	ns, err := s.queries.SimilarWords(r.Context(), ophicleide.SimilarRequest{ModelID: r.PathValue("id"), Word: word, Count: count, Restrict: restrict, Exact: exact})
	if err != nil {
		return err
	}
	out := map[string]any{"word": word, "results": ns.Results, "exact": ns.Exact}
	if len(ns.OOV) > 0 {
		out["oov"] = true
	}
	s.json(w, http.StatusOK, out)
	return nil
}

func (s *Server) analogy(w http.ResponseWriter, r *http.Request) error {
	pos := splitList(r.URL.Query().Get("positive"))
	neg := splitList(r.URL.Query().Get("negative"))
	if len(pos) == 0 {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "positive", Message: "give at least one positive word (for example positive=king,woman&negative=man)"}
	}
	count, err := countParam(r)
	if err != nil {
		return err
	}
	restrict, err := restrictParam(r) // (analysis.go)
	if err != nil {
		return err
	}
	exact, err := exactParam(r) // (analysis.go)
	if err != nil {
		return err
	}
	ns, err := s.queries.SolveAnalogy(r.Context(), ophicleide.AnalogyRequest{ModelID: r.PathValue("id"), Positive: pos, Negative: neg,
		Count: count, Restrict: restrict, Method: r.URL.Query().Get("method"), Exact: exact})
	if err != nil {
		return err
	}
	out := map[string]any{"positive": pos, "negative": neg, "results": ns.Results, "exact": ns.Exact}
	if len(ns.OOV) > 0 {
		out["oov"] = ns.OOV
	}
	s.json(w, http.StatusOK, out)
	return nil
}

func (s *Server) similarity(w http.ResponseWriter, r *http.Request) error {
	a, err := required(r, "a")
	if err != nil {
		return err
	}
	b, err := required(r, "b")
	if err != nil {
		return err
	}
	sim, oov, err := s.queries.Similarity(r.Context(), r.PathValue("id"), a, b)
	if err != nil {
		return err
	}
	out := map[string]any{"a": a, "b": b, "similarity": sim}
	if len(oov) > 0 {
		out["oov"] = oov
	}
	s.json(w, http.StatusOK, out)
	return nil
}

func (s *Server) vector(w http.ResponseWriter, r *http.Request) error {
	word := r.PathValue("word")
	v, oov, err := s.queries.Vector(r.Context(), r.PathValue("id"), word)
	if err != nil {
		return err
	}
	out := map[string]any{"word": word, "vector": v}
	if oov {
		out["oov"] = true
	}
	s.json(w, http.StatusOK, out)
	return nil
}

func (s *Server) words(w http.ResponseWriter, r *http.Request) error {
	limit := ophicleide.DefaultWords
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > ophicleide.MaxWords {
			return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "limit", Message: fmt.Sprintf("limit must be a whole number between 1 and %d", ophicleide.MaxWords)}
		}
		limit = n
	}
	out, err := s.queries.Words(r.Context(), r.PathValue("id"), r.URL.Query().Get("prefix"), limit)
	if err != nil {
		return err
	}
	s.json(w, http.StatusOK, map[string]any{"words": out})
	return nil
}

// export serves the vectors as a word2vec file, streamed: the status and
// headers are sent first, so a failure later is logged, not answered.
func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	ex, err := s.queries.Export(r.Context(), r.PathValue("id"), r.URL.Query().Get("format"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ext, ctype := "bin", "application/octet-stream"
	switch ex.Format {
	case ophicleide.ExportText:
		ext, ctype = "txt", "text/plain; charset=utf-8"
	case ophicleide.ExportTSV: // the Embedding Projector's vectors.tsv
		ext, ctype = "tsv", "text/tab-separated-values; charset=utf-8"
	case ophicleide.ExportTSVMetadata: // and its metadata.tsv
		ext, ctype = "metadata.tsv", "text/tab-separated-values; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", safeName(ex.Model.Name)+"."+ext))
	bw := bufio.NewWriterSize(w, 1<<20)
	err = ex.Write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		// The status is sent; a broken download is the client's to see.
		s.log.Info("export interrupted", "model", ex.Model.ID, "err", err)
	}
}

// safeName keeps letters, digits, '-' and '_' of a model name for a file name.
func safeName(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "vectors"
	}
	return b.String()
}
