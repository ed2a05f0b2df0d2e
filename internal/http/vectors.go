package http

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// handle adapts a handler that returns its error: the error is written
// with fail.
func (s *Server) handle(f func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			s.fail(w, r, err)
		}
	}
}

// readyModel returns a ready model and its vectors. The state is read from
// the store first, so a model deleted elsewhere is never served from the
// cache.
func (s *Server) readyModel(ctx context.Context, id string) (*ophicleide.Model, *vectors.Set, error) {
	if _, err := uuid.Parse(id); err != nil {
		return nil, nil, ophicleide.Errorf(ophicleide.ENOTFOUND, "model %q not found", id)
	}
	m, err := s.store.FindModel(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if m.Status != ophicleide.StatusReady {
		return nil, nil, ophicleide.Errorf(ophicleide.ENOTFOUND, "model %q is not ready (status %s)", m.Name, m.Status)
	}
	set, err := s.cache.Get(ctx, m.ID)
	if err != nil {
		return nil, nil, err
	}
	return m, set, nil
}

// wordError turns an unknown word into a 400 naming it and the model.
func wordError(m *ophicleide.Model, field string, err error) error {
	var uw *vectors.UnknownWordError
	if errors.As(err, &uw) {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field,
			Message: fmt.Sprintf("the word %q is not in the vocabulary of model %q", uw.Word, m.Name)}
	}
	if errors.Is(err, vectors.ErrInvalid) {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field, Message: err.Error()}
	}
	return err
}

// vocabWord returns the form of word that the model knows: word itself if
// it is in the vocabulary (imported models may be case-sensitive), else
// word as the model's tokenizer writes it (tokenize.NormalizeWord: "Darcy"
// is "darcy" to a unicode model) if that is, else word, which the lookup
// then reports as unknown. Imported models have no tokenizer: unicode.
func vocabWord(m *ophicleide.Model, set *vectors.Set, word string) string {
	if _, ok := set.Index(word); ok {
		return word
	}
	mode, err := tokenize.ParseMode(m.Params.Tokenizer)
	if err != nil {
		mode = tokenize.Unicode
	}
	if n := tokenize.NormalizeWord(mode, word); n != word {
		if _, ok := set.Index(n); ok {
			return n
		}
	}
	return word
}

// vocabWords is vocabWord for each of words, in a new slice.
func vocabWords(m *ophicleide.Model, set *vectors.Set, words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = vocabWord(m, set, w)
	}
	return out
}

// countParam reads ?count= (default 5, 1..100).
func countParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("count")
	if v == "" {
		return defaultCount, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxCount {
		return 0, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "count", Message: fmt.Sprintf("count must be a whole number between 1 and %d", maxCount)}
	}
	return n, nil
}

func results(ns []vectors.Neighbor) []ophicleide.Result {
	out := make([]ophicleide.Result, len(ns))
	for i, n := range ns {
		out[i] = ophicleide.Result{Word: n.Word, Score: float64(n.Score)}
	}
	return out
}

func required(r *http.Request, name string) (string, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return "", &ophicleide.Error{Code: ophicleide.EINVALID, Field: name, Message: fmt.Sprintf("the query parameter %q is required", name)}
	}
	return v, nil
}

func (s *Server) similar(w http.ResponseWriter, r *http.Request) error {
	word, err := required(r, "word")
	if err != nil {
		return err
	}
	count, err := countParam(r)
	if err != nil {
		return err
	}
	m, set, err := s.readyModel(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	ns, err := set.Nearest(vocabWord(m, set, word), count)
	if err != nil {
		return wordError(m, "word", err)
	}
	s.json(w, http.StatusOK, map[string]any{"word": word, "results": results(ns)})
	return nil
}

func splitList(v string) []string {
	out := []string{}
	for _, w := range strings.Split(v, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
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
	m, set, err := s.readyModel(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	vpos, vneg := vocabWords(m, set, pos), vocabWords(m, set, neg)
	for i, w := range vneg {
		if slices.Contains(vpos, w) {
			return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "negative",
				Message: fmt.Sprintf("the word %q is both positive and negative: an analogy needs different words (for example positive=king,woman&negative=man)", neg[i])}
		}
	}
	ns, err := set.Analogy(vpos, vneg, count)
	if err != nil {
		field := "positive"
		if uw := (*vectors.UnknownWordError)(nil); errors.As(err, &uw) && !slices.Contains(vpos, uw.Word) {
			field = "negative"
		}
		return wordError(m, field, err)
	}
	s.json(w, http.StatusOK, map[string]any{"positive": pos, "negative": neg, "results": results(ns)})
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
	m, set, err := s.readyModel(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	va, vb := vocabWord(m, set, a), vocabWord(m, set, b)
	sim, err := set.Similarity(va, vb)
	if err != nil {
		field := "a"
		if _, ok := set.Index(va); ok {
			field = "b"
		}
		return wordError(m, field, err)
	}
	s.json(w, http.StatusOK, map[string]any{"a": a, "b": b, "similarity": sim})
	return nil
}

func (s *Server) vector(w http.ResponseWriter, r *http.Request) error {
	word := r.PathValue("word")
	m, set, err := s.readyModel(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	v, err := set.Vector(vocabWord(m, set, word))
	if err != nil {
		return wordError(m, "word", err)
	}
	s.json(w, http.StatusOK, map[string]any{"word": word, "vector": v})
	return nil
}

func (s *Server) export(w http.ResponseWriter, r *http.Request) {
	f := vectors.Binary
	if v := r.URL.Query().Get("format"); v != "" {
		var err error
		if f, err = vectors.ParseFormat(v); err != nil {
			s.fail(w, r, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "format", Message: "format must be binary or text"})
			return
		}
	}
	m, set, err := s.readyModel(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ext, ctype := "bin", "application/octet-stream"
	if f == vectors.Text {
		ext, ctype = "txt", "text/plain; charset=utf-8"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", safeName(m.Name)+"."+ext))
	bw := bufio.NewWriterSize(w, 1<<20)
	err = vectors.Write(bw, set, f)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		// The status is sent; a broken download is the client's to see.
		s.log.Info("export interrupted", "model", m.ID, "err", err)
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

// maxWords limits GET /models/{id}/words.
const maxWords = 1000

func (s *Server) words(w http.ResponseWriter, r *http.Request) error {
	prefix := strings.ToLower(strings.TrimSpace(r.URL.Query().Get("prefix")))
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxWords {
			return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "limit", Message: fmt.Sprintf("limit must be a whole number between 1 and %d", maxWords)}
		}
		limit = n
	}
	_, set, err := s.readyModel(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	type word struct {
		Word string `json:"word"`
		Rank int    `json:"rank"`
	}
	out := []word{}
	// Rows are in descending frequency, so the first matches are the most
	// frequent ones.
	for i, wd := range set.Words() {
		if strings.HasPrefix(wd, prefix) {
			out = append(out, word{wd, i + 1})
			if len(out) == limit {
				break
			}
		}
	}
	s.json(w, http.StatusOK, map[string]any{"words": out})
	return nil
}
