package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// QueryStore is what Queries needs of a store.
type QueryStore interface {
	ophicleide.QueryStore
	FindModel(ctx context.Context, id string) (*ophicleide.Model, error)
}

// Queries implements ophicleide.QueryService.
type Queries struct {
	store QueryStore
	cache *Cache
}

var _ ophicleide.QueryService = (*Queries)(nil)

// NewQueries returns the query service over store, reading vectors through
// cache.
func NewQueries(store QueryStore, cache *Cache) *Queries {
	return &Queries{store: store, cache: cache}
}

// readyModel returns a ready model and its vectors. The state is read from
// the store first, so a model deleted elsewhere (another replica) is never
// served from the cache.
func (s *Queries) readyModel(ctx context.Context, id string) (*ophicleide.Model, *vectors.Set, error) {
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
	set, err := s.cache.sets.Get(ctx, m.ID)
	if err != nil {
		return nil, nil, err
	}
	return m, set, nil
}

// checkCount refuses a count out of 1..MaxCount.
func checkCount(count int) error {
	if count < 1 || count > ophicleide.MaxCount {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "count", Message: fmt.Sprintf("count must be between 1 and %d", ophicleide.MaxCount)}
	}
	return nil
}

// Query implements ophicleide.QueryService.
func (s *Queries) Query(ctx context.Context, req ophicleide.QueryRequest) (*ophicleide.Query, error) {
	word := strings.TrimSpace(req.Word)
	switch {
	case req.ModelID == "":
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "model", Message: "model (a model id) is required"}
	case word == "":
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "word", Message: "word is required"}
	}
	if err := checkCount(req.Count); err != nil {
		return nil, err
	}
	m, set, err := s.readyModel(ctx, req.ModelID)
	if err != nil {
		return nil, err
	}
	vw := vocabWord(m, set, word)
	ns, err := set.Nearest(vw, req.Count)
	if err != nil {
		return nil, wordError(m, set, "word", err)
	}
	q := &ophicleide.Query{ID: uuid.NewString(), Word: word, ModelID: m.ID, ModelName: m.Name,
		Results: results(ns), OOV: set.IsOOV(vw), Owner: ownerName(ophicleide.PrincipalFrom(ctx)), Created: time.Now().UTC()}
	if err := s.store.CreateQuery(ctx, q); err != nil {
		return nil, err
	}
	return q, nil
}

// FindQuery implements ophicleide.QueryService: a query the principal
// may not see (access.go) is ENOTFOUND.
func (s *Queries) FindQuery(ctx context.Context, id string) (*ophicleide.Query, error) {
	q, err := s.store.FindQuery(ctx, id)
	if err != nil {
		return nil, err
	}
	if f := queryFilter(ophicleide.PrincipalFrom(ctx)); f.ByOwner && q.Owner != f.Owner {
		return nil, ophicleide.Errorf(ophicleide.ENOTFOUND, "query %q not found", id)
	}
	return q, nil
}

// PageQueries implements ophicleide.QueryService: the principal's part
// of the history (access.go), a seek in the store's owner index.
func (s *Queries) PageQueries(ctx context.Context, modelID string, p ophicleide.Page) (*ophicleide.QueryPage, error) {
	f := queryFilter(ophicleide.PrincipalFrom(ctx))
	f.Model = modelID
	return s.store.PageQueries(ctx, f, p)
}

// Nearest implements ophicleide.QueryService.
func (s *Queries) Nearest(ctx context.Context, modelID, word string, count int) ([]ophicleide.Result, error) {
	if err := checkCount(count); err != nil {
		return nil, err
	}
	m, set, err := s.readyModel(ctx, modelID)
	if err != nil {
		return nil, err
	}
	ns, err := set.Nearest(vocabWord(m, set, word), count)
	if err != nil {
		return nil, wordError(m, set, "word", err)
	}
	return results(ns), nil
}

// Analogy implements ophicleide.QueryService.
func (s *Queries) Analogy(ctx context.Context, modelID string, positive, negative []string, count int) ([]ophicleide.Result, error) {
	if err := checkCount(count); err != nil {
		return nil, err
	}
	m, set, err := s.readyModel(ctx, modelID)
	if err != nil {
		return nil, err
	}
	vpos, vneg := vocabWords(m, set, positive), vocabWords(m, set, negative)
	for i, w := range vneg {
		if slices.Contains(vpos, w) {
			return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "negative",
				Message: fmt.Sprintf("the word %q is both positive and negative: an analogy needs different words (for example positive=king,woman&negative=man)", negative[i])}
		}
	}
	ns, err := set.Analogy(vpos, vneg, count)
	if err != nil {
		field := "positive"
		if uw := (*vectors.UnknownWordError)(nil); errors.As(err, &uw) && !slices.Contains(vpos, uw.Word) {
			field = "negative"
		}
		return nil, wordError(m, set, field, err)
	}
	return results(ns), nil
}

// Similarity implements ophicleide.QueryService.
func (s *Queries) Similarity(ctx context.Context, modelID, a, b string) (float32, []string, error) {
	m, set, err := s.readyModel(ctx, modelID)
	if err != nil {
		return 0, nil, err
	}
	va, vb := vocabWord(m, set, a), vocabWord(m, set, b)
	sim, err := set.Similarity(va, vb)
	if err != nil {
		field := "a"
		if uw := (*vectors.UnknownWordError)(nil); errors.As(err, &uw) && uw.Word != va {
			field = "b"
		}
		return 0, nil, wordError(m, set, field, err)
	}
	return sim, oovWords(set, []string{a, b}, []string{va, vb}), nil
}

// Vector implements ophicleide.QueryService.
func (s *Queries) Vector(ctx context.Context, modelID, word string) ([]float32, bool, error) {
	m, set, err := s.readyModel(ctx, modelID)
	if err != nil {
		return nil, false, err
	}
	vw := vocabWord(m, set, word)
	v, err := set.Vector(vw)
	if err != nil {
		return nil, false, wordError(m, set, "word", err)
	}
	return v, set.IsOOV(vw), nil
}

// Words implements ophicleide.QueryService.
func (s *Queries) Words(ctx context.Context, modelID, prefix string, limit int) ([]ophicleide.WordRank, error) {
	if limit < 1 || limit > ophicleide.MaxWords {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "limit", Message: fmt.Sprintf("limit must be between 1 and %d", ophicleide.MaxWords)}
	}
	prefix = strings.ToLower(strings.TrimSpace(prefix))
	_, set, err := s.readyModel(ctx, modelID)
	if err != nil {
		return nil, err
	}
	out := []ophicleide.WordRank{}
	// Rows are in descending frequency, so the first matches are the most
	// frequent ones.
	for i, wd := range set.Words() {
		if strings.HasPrefix(wd, prefix) {
			out = append(out, ophicleide.WordRank{Word: wd, Rank: i + 1})
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

// Export implements ophicleide.QueryService: an admin exports any model,
// a writer its own (access.go).
func (s *Queries) Export(ctx context.Context, modelID, format string) (*ophicleide.Export, error) {
	p := ophicleide.PrincipalFrom(ctx)
	if err := mayWrite(p, "exporting a model"); err != nil {
		return nil, err
	}
	f := vectors.Binary
	tsv := "" // the Embedding Projector's formats (analysis.go)
	switch lf := strings.ToLower(strings.TrimSpace(format)); lf {
	case ophicleide.ExportTSV, ophicleide.ExportTSVMetadata:
		tsv = lf
	case "":
	default:
		var err error
		if f, err = vectors.ParseFormat(format); err != nil {
			return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "format", Message: "format must be binary or text (word2vec), or tsv or tsv-metadata (the Embedding Projector's vectors and words)"}
		}
	}
	// Ownership before the vectors are loaded.
	if m, err := s.store.FindModel(ctx, modelID); err == nil {
		if err := mayChange(p, m, "export"); err != nil {
			return nil, err
		}
	}
	m, set, err := s.readyModel(ctx, modelID)
	if err != nil {
		return nil, err
	}
	if err := mayChange(p, m, "export"); err != nil {
		return nil, err
	}
	if tsv != "" {
		return tsvExport(m, set, tsv), nil
	}
	name := ophicleide.ExportBinary
	if f == vectors.Text {
		name = ophicleide.ExportText
	}
	return &ophicleide.Export{Model: m, Format: name, Write: func(w io.Writer) error {
		return vectors.Write(w, set, f)
	}}, nil
}

// wordError turns an unknown word into EINVALID naming it and the model,
// with field and the words of set nearest to it by spelling
// (vectors.Set.Suggest: a few ms at most, and only on this error path).
func wordError(m *ophicleide.Model, set *vectors.Set, field string, err error) error {
	var uw *vectors.UnknownWordError
	if errors.As(err, &uw) {
		msg := fmt.Sprintf("the word %q is not in the vocabulary of model %q", uw.Word, m.Name)
		if sw := set.Subwords(); sw != nil {
			msg += fmt.Sprintf(" and has no character n-gram of %d to %d characters", sw.Config.MinN, sw.Config.MaxN)
		}
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field, Message: msg,
			Suggestions: set.Suggest(modelForm(m, uw.Word), vectors.MaxSuggestions)}
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
	n := modelForm(m, word)
	if n != word {
		if _, ok := set.Index(n); ok {
			return n
		}
	}
	if set.Subwords() != nil && n != "" {
		// Unknown either way: the n-grams of the form training saw
		// ("Darcys" is "darcys" to a unicode model).
		return n
	}
	return word
}

// modelForm is word as the model's tokenizer writes it (imported models
// have none: unicode).
func modelForm(m *ophicleide.Model, word string) string {
	mode, err := tokenize.ParseMode(m.Params.Tokenizer)
	if err != nil {
		mode = tokenize.Unicode
	}
	return tokenize.NormalizeWord(mode, word)
}

// oovWords are those of given whose model form (vocab, in the same
// order) a subword set answers from n-grams, each once (nil: none, and
// always for a set without subwords).
func oovWords(set *vectors.Set, given, vocab []string) []string {
	if set.Subwords() == nil {
		return nil
	}
	var out []string
	for i, w := range vocab {
		if set.IsOOV(w) && !slices.Contains(out, given[i]) {
			out = append(out, given[i])
		}
	}
	return out
}

// vocabWords is vocabWord for each of words, in a new slice.
func vocabWords(m *ophicleide.Model, set *vectors.Set, words []string) []string {
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = vocabWord(m, set, w)
	}
	return out
}

func results(ns []vectors.Neighbor) []ophicleide.Result {
	out := make([]ophicleide.Result, len(ns))
	for i, n := range ns {
		out[i] = ophicleide.Result{Word: n.Word, Score: float64(n.Score)}
	}
	return out
}
