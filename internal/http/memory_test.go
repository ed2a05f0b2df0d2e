package http

import (
	"context"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/ophicleide/ophicleide"
)

// memService is an in-memory implementation of the domain services
// (ophicleide.ModelService and ophicleide.QueryService), the fake issue 11
// allows ("handlers against an in-memory domain service"): the handlers'
// tests run without a store or a trainer. Models live in a map; a ready
// model's vocabulary is a fixed list of words whose vectors are their
// positions. It keeps the requests it was given, so tests see what the
// transport decoded.
type memService struct {
	mu       sync.Mutex
	models   map[string]*ophicleide.Model
	order    []string // model IDs, oldest first
	queries  map[string]*ophicleide.Query
	words    map[string][]string // a ready model's vocabulary, most frequent first
	limits   ophicleide.Limits
	queue    int
	err      error // if set, returned by every call that reads or writes
	requests []ophicleide.ModelRequest
	uploads  map[string]string // text of the uploads of the last Create
	imports  map[string]string // name -> file of each Import
	pages    []ophicleide.Page
	asked    []string // the arguments of the query calls, formatted
	export   func(w io.Writer) error
}

var (
	_ ophicleide.ModelService = (*memService)(nil)
	_ ophicleide.QueryService = (*memService)(nil)
)

func newMemService() *memService {
	return &memService{models: map[string]*ophicleide.Model{}, queries: map[string]*ophicleide.Query{},
		words: map[string][]string{}, imports: map[string]string{},
		limits: ophicleide.Limits{Params: ophicleide.ParamLimits{MaxDim: 300, MaxWindow: 10, MaxNegative: 20, MaxEpochs: 10, MaxAlpha: 0.5}, MaxAttempts: 3}}
}

// get calls f under the service's lock (the handlers run in the server's
// goroutines).
func (m *memService) get(f func()) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f()
}

// addReady stores a ready model with words and returns it.
func (m *memService) addReady(name string, words ...string) *ophicleide.Model {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := time.Now().UTC()
	md := &ophicleide.Model{ID: uuid.NewString(), Name: name, Status: ophicleide.StatusReady, URLs: []string{}, Created: now, Updated: now}
	m.models[md.ID] = md
	m.order = append(m.order, md.ID)
	m.words[md.ID] = words
	return md
}

func (m *memService) Create(ctx context.Context, req ophicleide.ModelRequest) (*ophicleide.Model, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests = append(m.requests, req)
	if m.err != nil {
		return nil, m.err
	}
	if req.ZeroParam != "" {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: req.ZeroParam, Message: req.ZeroParam + " must be above 0"}
	}
	m.uploads = map[string]string{}
	var names []string
	for _, u := range req.Uploads {
		b, err := io.ReadAll(u.Text)
		if err != nil {
			return nil, err
		}
		m.uploads[u.Name] = string(b)
		names = append(names, u.Name)
	}
	now := time.Now().UTC()
	urls := req.URLs
	if urls == nil {
		urls = []string{}
	}
	md := &ophicleide.Model{ID: uuid.NewString(), Name: req.Name, Status: ophicleide.StatusQueued, URLs: urls, Uploads: names,
		Params: req.Params, Progress: &ophicleide.Progress{Phase: "queued"}, Created: now, Updated: now}
	m.models[md.ID] = md
	m.order = append(m.order, md.ID)
	return md, nil
}

func (m *memService) Import(ctx context.Context, name string, src io.Reader) (*ophicleide.Model, error) {
	b, err := io.ReadAll(src)
	if err != nil {
		return nil, fmt.Errorf("reading the file: %w", err)
	}
	m.mu.Lock()
	m.imports[name] = string(b)
	m.mu.Unlock()
	md := m.addReady(name, "a")
	return md, nil
}

func (m *memService) FindModel(ctx context.Context, id string) (*ophicleide.Model, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return nil, m.err
	}
	md, ok := m.models[id]
	if !ok {
		return nil, ophicleide.Errorf(ophicleide.ENOTFOUND, "model %q not found", id)
	}
	return md, nil
}

func (m *memService) PageModels(ctx context.Context, p ophicleide.Page) (*ophicleide.ModelPage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pages = append(m.pages, p)
	if m.err != nil {
		return nil, m.err
	}
	out := &ophicleide.ModelPage{Models: []*ophicleide.Model{}}
	for _, id := range slices.Backward(m.order) {
		out.Models = append(out.Models, m.models[id])
	}
	if p.Limit > 0 && len(out.Models) > p.Limit {
		out.Models, out.Next = out.Models[:p.Limit], "more"
	}
	return out, nil
}

func (m *memService) Delete(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if _, ok := m.models[id]; !ok {
		return ophicleide.Errorf(ophicleide.ENOTFOUND, "model %q not found", id)
	}
	delete(m.models, id)
	m.order = slices.DeleteFunc(m.order, func(s string) bool { return s == id })
	return nil
}

func (m *memService) CountModels(ctx context.Context) (*ophicleide.ModelCounts, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := &ophicleide.ModelCounts{ByStatus: map[ophicleide.Status]int{}}
	for _, md := range m.models {
		c.ByStatus[md.Status]++
	}
	return c, m.err
}

func (m *memService) QueueLength(ctx context.Context) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.queue, m.err
}

func (m *memService) Limits() ophicleide.Limits { return m.limits }

// ready returns a ready model's vocabulary, or the service's errors.
func (m *memService) ready(id string) (*ophicleide.Model, []string, error) {
	md, err := m.FindModel(context.Background(), id)
	if err != nil {
		return nil, nil, err
	}
	if md.Status != ophicleide.StatusReady {
		return nil, nil, ophicleide.Errorf(ophicleide.ENOTFOUND, "model %q is not ready (status %s)", md.Name, md.Status)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return md, m.words[id], nil
}

func (m *memService) note(format string, args ...any) {
	m.mu.Lock()
	m.asked = append(m.asked, fmt.Sprintf(format, args...))
	m.mu.Unlock()
}

// unknown is the service's error for a word not in the vocabulary.
func unknown(md *ophicleide.Model, field, word string) error {
	return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field,
		Message: fmt.Sprintf("the word %q is not in the vocabulary of model %q", word, md.Name)}
}

// neighbours are the other words of words, in order, as results.
func neighbours(words []string, but []string, count int) []ophicleide.Result {
	out := []ophicleide.Result{}
	for i, w := range words {
		if !slices.Contains(but, w) && len(out) < count {
			out = append(out, ophicleide.Result{Word: w, Score: 1 / float64(i+1)})
		}
	}
	return out
}

func (m *memService) Query(ctx context.Context, req ophicleide.QueryRequest) (*ophicleide.Query, error) {
	m.note("query %s %q %d", req.ModelID, req.Word, req.Count)
	if req.Count < 1 || req.Count > ophicleide.MaxCount {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "count", Message: "count out of range"}
	}
	rs, err := m.Nearest(ctx, req.ModelID, req.Word, req.Count)
	if err != nil {
		return nil, err
	}
	md, _, _ := m.ready(req.ModelID)
	q := &ophicleide.Query{ID: uuid.NewString(), Word: req.Word, ModelID: md.ID, ModelName: md.Name, Results: rs, Created: time.Now().UTC()}
	m.mu.Lock()
	m.queries[q.ID] = q
	m.mu.Unlock()
	return q, nil
}

func (m *memService) FindQuery(ctx context.Context, id string) (*ophicleide.Query, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	q, ok := m.queries[id]
	if !ok {
		return nil, ophicleide.Errorf(ophicleide.ENOTFOUND, "query %q not found", id)
	}
	return q, nil
}

func (m *memService) PageQueries(ctx context.Context, modelID string, p ophicleide.Page) (*ophicleide.QueryPage, error) {
	m.note("queries %q %d %q", modelID, p.Limit, p.After)
	m.mu.Lock()
	defer m.mu.Unlock()
	out := &ophicleide.QueryPage{Queries: []*ophicleide.Query{}}
	for _, q := range m.queries {
		if modelID == "" || q.ModelID == modelID {
			out.Queries = append(out.Queries, q)
		}
	}
	return out, nil
}

func (m *memService) Nearest(ctx context.Context, modelID, word string, count int) ([]ophicleide.Result, error) {
	m.note("nearest %q %d", word, count)
	md, words, err := m.ready(modelID)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(words, word) {
		return nil, unknown(md, "word", word)
	}
	return neighbours(words, []string{word}, count), nil
}

func (m *memService) Analogy(ctx context.Context, modelID string, positive, negative []string, count int) ([]ophicleide.Result, error) {
	m.note("analogy %q %q %d", positive, negative, count)
	md, words, err := m.ready(modelID)
	if err != nil {
		return nil, err
	}
	for _, w := range positive {
		if !slices.Contains(words, w) {
			return nil, unknown(md, "positive", w)
		}
	}
	for _, w := range negative {
		if !slices.Contains(words, w) {
			return nil, unknown(md, "negative", w)
		}
	}
	return neighbours(words, append(slices.Clone(positive), negative...), count), nil
}

func (m *memService) Similarity(ctx context.Context, modelID, a, b string) (float32, []string, error) {
	md, words, err := m.ready(modelID)
	if err != nil {
		return 0, nil, err
	}
	ia, ib := slices.Index(words, a), slices.Index(words, b)
	switch {
	case ia < 0:
		return 0, nil, unknown(md, "a", a)
	case ib < 0:
		return 0, nil, unknown(md, "b", b)
	}
	return 1 / float32(1+ia+ib), nil, nil
}

func (m *memService) Vector(ctx context.Context, modelID, word string) ([]float32, bool, error) {
	md, words, err := m.ready(modelID)
	if err != nil {
		return nil, false, err
	}
	i := slices.Index(words, word)
	if i < 0 {
		return nil, false, unknown(md, "word", word)
	}
	return []float32{float32(i), 1}, false, nil
}

func (m *memService) Words(ctx context.Context, modelID, prefix string, limit int) ([]ophicleide.WordRank, error) {
	m.note("words %q %d", prefix, limit)
	_, words, err := m.ready(modelID)
	if err != nil {
		return nil, err
	}
	out := []ophicleide.WordRank{}
	for i, w := range words {
		if len(out) < limit {
			out = append(out, ophicleide.WordRank{Word: w, Rank: i + 1})
		}
	}
	return out, nil
}

func (m *memService) Export(ctx context.Context, modelID, format string) (*ophicleide.Export, error) {
	switch format {
	case "", "binary":
		format = ophicleide.ExportBinary
	case "text":
	default:
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "format", Message: "format must be binary or text"}
	}
	md, words, err := m.ready(modelID)
	if err != nil {
		return nil, err
	}
	write := m.export
	if write == nil {
		write = func(w io.Writer) error {
			_, err := fmt.Fprintf(w, "%d 2\n", len(words))
			return err
		}
	}
	return &ophicleide.Export{Model: md, Format: format, Write: write}, nil
}

// The analysis operations (issue 14): restricted search and analogy go
// to Nearest and Analogy (restrict and method noted); the others answer
// from the word list.

func (m *memService) SimilarWords(ctx context.Context, req ophicleide.SimilarRequest) (*ophicleide.Neighbours, error) {
	m.note("restrict %d", req.Restrict)
	rs, err := m.Nearest(ctx, req.ModelID, req.Word, req.Count)
	if err != nil {
		return nil, err
	}
	return &ophicleide.Neighbours{Results: rs}, nil
}

func (m *memService) SolveAnalogy(ctx context.Context, req ophicleide.AnalogyRequest) (*ophicleide.Neighbours, error) {
	m.note("restrict %d method %q", req.Restrict, req.Method)
	rs, err := m.Analogy(ctx, req.ModelID, req.Positive, req.Negative, req.Count)
	if err != nil {
		return nil, err
	}
	return &ophicleide.Neighbours{Results: rs}, nil
}

func (m *memService) DoesntMatch(ctx context.Context, modelID string, words []string) (*ophicleide.OddOneOut, error) {
	m.note("doesntmatch %q", words)
	_, vocab, err := m.ready(modelID)
	if err != nil {
		return nil, err
	}
	out := &ophicleide.OddOneOut{Words: []ophicleide.WordScore{}, Unknown: []string{}}
	for _, w := range words {
		if i := slices.Index(vocab, w); i >= 0 {
			out.Words = append(out.Words, ophicleide.WordScore{Word: w, Score: 1 / float64(i+1)})
			out.Word = w
		} else {
			out.Unknown = append(out.Unknown, w)
		}
	}
	return out, nil
}

func (m *memService) Vectors(ctx context.Context, modelID string, words []string) (*ophicleide.VectorBatch, error) {
	m.note("vectors %q", words)
	_, vocab, err := m.ready(modelID)
	if err != nil {
		return nil, err
	}
	out := &ophicleide.VectorBatch{Dim: 2, Vectors: map[string][]float32{}, Unknown: []string{}}
	for _, w := range words {
		if i := slices.Index(vocab, w); i >= 0 {
			out.Vectors[w] = []float32{float32(i), 1}
		} else {
			out.Unknown = append(out.Unknown, w)
		}
	}
	return out, nil
}

func (m *memService) Map(ctx context.Context, modelID string, count int) (*ophicleide.WordMap, error) {
	m.note("map %d", count)
	_, vocab, err := m.ready(modelID)
	if err != nil {
		return nil, err
	}
	out := &ophicleide.WordMap{Method: "pca", Words: vocab[:min(count, len(vocab))]}
	for i := range out.Words {
		out.Points = append(out.Points, [2]float32{float32(i), 0})
	}
	return out, nil
}

func (m *memService) Compare(ctx context.Context, req ophicleide.CompareRequest) (*ophicleide.Comparison, error) {
	m.note("compare %s %s %q %d %d", req.A, req.B, req.Word, req.Count, req.Moved)
	a, _, err := m.ready(req.A)
	if err != nil {
		return nil, err
	}
	b, _, err := m.ready(req.B)
	if err != nil {
		return nil, err
	}
	return &ophicleide.Comparison{A: ophicleide.ModelRef{ID: a.ID, Name: a.Name}, B: ophicleide.ModelRef{ID: b.ID, Name: b.Name}, Moved: []ophicleide.MovedWord{}}, nil
}

// Evaluate reads the file and answers one fixed score: the handlers'
// tests check the transport (kind, name, file), the service's tests the
// scores.
func (m *memService) Evaluate(ctx context.Context, req ophicleide.EvaluateRequest) (*ophicleide.Evaluation, error) {
	m.note("evaluate %s %q %q", req.ModelID, req.Kind, req.Name)
	if _, _, err := m.ready(req.ModelID); err != nil {
		return nil, err
	}
	b, err := io.ReadAll(req.File)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: "the evaluation file is empty"}
	}
	return &ophicleide.Evaluation{Seconds: 0.01, Analogies: []ophicleide.AnalogyScore{}, Similarities: []ophicleide.SimilarityScore{{Name: req.Name, Pairs: len(b)}}}, nil
}
