// Package ophicleide holds the domain of the Ophicleide service: models,
// queries, training jobs and their leases, the one application error type,
// and the interfaces a store implements. It imports nothing of this module;
// every adapter (stores, the HTTP API, the worker, the web page) speaks in
// these terms, and only cmd/ophicleide wires concrete types together.
package ophicleide

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// Status is a model's place in its life.
type Status string

// Statuses. The 2016 original knew training and ready; its web page prints
// any status verbatim, so the others are safe for old clients.
const (
	StatusQueued   Status = "queued"
	StatusTraining Status = "training"
	StatusReady    Status = "ready"
	StatusFailed   Status = "failed"
)

// Params are the training parameters of a model. Zero values mean the
// engine's defaults; the API validates them before a model is stored.
type Params struct {
	Model     string  `json:"model,omitempty"` // skipgram | cbow
	Loss      string  `json:"loss,omitempty"`  // ns | hs
	Dim       int     `json:"dim,omitempty"`
	Window    int     `json:"window,omitempty"`
	Negative  int     `json:"negative,omitempty"`
	MinCount  int     `json:"minCount,omitempty"`
	Sample    float64 `json:"sample,omitempty"`
	Epochs    int     `json:"epochs,omitempty"`
	Alpha     float64 `json:"alpha,omitempty"`
	Seed      uint64  `json:"seed,omitempty"`
	MaxVocab  int     `json:"maxVocab,omitempty"`
	Tokenizer string  `json:"tokenizer,omitempty"` // unicode | classic | whitespace
}

// Progress of a model's job.
type Progress struct {
	Phase          string  `json:"phase"` // queued, fetching, counting, training, saving
	Fraction       float64 `json:"fraction"`
	WordsPerSecond float64 `json:"wordsPerSecond"`
	EtaSeconds     float64 `json:"etaSeconds"`
}

// SourceStats describes one input of a trained model.
type SourceStats struct {
	URL   string `json:"url"` // or "upload:NAME"
	Bytes int64  `json:"bytes"`
	Words int64  `json:"words"`
}

// Stats describes a trained model.
type Stats struct {
	CorpusWords     int64         `json:"corpusWords"`
	VocabSize       int           `json:"vocabSize"`
	TrainingSeconds float64       `json:"trainingSeconds"`
	Sources         []SourceStats `json:"sources,omitempty"`
}

// Model is a named Word2Vec model trained from URLs and uploads.
type Model struct {
	ID       string    `json:"id"` // a UUID string
	Name     string    `json:"name"`
	Status   Status    `json:"status"`
	URLs     []string  `json:"urls"`
	Uploads  []string  `json:"uploads,omitempty"` // names of uploaded corpus files
	Callback string    `json:"callback,omitempty"`
	Params   Params    `json:"params"`
	Progress *Progress `json:"progress,omitempty"`
	Stats    *Stats    `json:"stats,omitempty"`
	Error    string    `json:"error,omitempty"` // why it failed
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// Result is one neighbour of a query word.
type Result struct {
	Word  string
	Score float64
}

// Query is a stored similarity query and its answer.
type Query struct {
	ID        string    `json:"id"`
	Word      string    `json:"word"`
	ModelID   string    `json:"model"`
	ModelName string    `json:"modelName"`
	Results   []Result  `json:"results"`
	Created   time.Time `json:"created"`
}

// Lease is a worker's claim on a model's training job. Only the holder of
// the current lease (same Token) may renew it, report progress, store
// vectors or end the job: a lease that lapsed and was claimed again has a
// new Token, which fences the old holder out.
type Lease struct {
	ModelID string
	Owner   string
	Token   int64 // increases with every claim of the job
	Attempt int   // 1 for the first claim
	Expires time.Time
}

// ModelStore keeps models.
type ModelStore interface {
	// CreateModel stores m (with ID, Created and Updated set by the caller)
	// with status queued, and its uploads, and enqueues its training job,
	// all or nothing. uploads maps upload names (m.Uploads) to their data.
	// ECONFLICT if the ID exists.
	CreateModel(ctx context.Context, m *Model, uploads map[string]io.Reader) error
	// FindModel returns the model, or ENOTFOUND.
	FindModel(ctx context.Context, id string) (*Model, error)
	// ListModels returns every model, newest first.
	//
	// Deprecated: it reads every model. Use PageModels for lists and
	// CountModels for figures; it goes once /metrics uses CountModels.
	ListModels(ctx context.Context) ([]*Model, error)
	// PageModels returns one page of the models, newest first (ties by
	// descending ID), without reading the others. EINVALID (Field "limit"
	// or "after") for a bad Page.
	PageModels(ctx context.Context, p Page) (*ModelPage, error)
	// CountModels counts the models by status and sums the words per
	// second of the ones training, without reading every model.
	CountModels(ctx context.Context) (*ModelCounts, error)
	// DeleteModel removes the model, its job, uploads, vectors and
	// queries, or returns ENOTFOUND. A worker holding its lease loses it.
	DeleteModel(ctx context.Context, id string) error
	// OpenUpload reads an uploaded corpus file of a model while its job
	// is unfinished (a retry reads it again); once the model is ready or
	// failed its uploads are removed (m.Uploads keeps their names, its
	// Stats their sizes) and OpenUpload returns ENOTFOUND.
	OpenUpload(ctx context.Context, modelID, name string) (io.ReadCloser, error)
	// ImportModel stores m as a ready model (no job) with the vectors that
	// write writes (the bytes are the caller's: vectors.Compact), all or
	// nothing: nothing is stored when write fails. m is stored after write
	// returns, so write may fill in what it learns (dimension, vocabulary
	// size). ECONFLICT if the ID exists.
	ImportModel(ctx context.Context, m *Model, write func(io.Writer) error) error
}

// QueryStore keeps the query history, at most a configured number of
// queries (DefaultMaxQueries unless the store is told otherwise): the
// oldest go first.
type QueryStore interface {
	// CreateQuery stores q. ECONFLICT if its ID exists, ENOTFOUND if
	// q.ModelID names no model (queries go with their model).
	CreateQuery(ctx context.Context, q *Query) error
	FindQuery(ctx context.Context, id string) (*Query, error) // ENOTFOUND
	// PageQueries returns one page of the queries, newest first (ties by
	// descending ID), those of model modelID only unless it is "",
	// without reading the others. EINVALID (Field "limit" or "after")
	// for a bad Page.
	PageQueries(ctx context.Context, modelID string, p Page) (*QueryPage, error)
	// TrimQueries removes the oldest queries until at most keep (>= 0)
	// are left, and returns how many it removed.
	TrimQueries(ctx context.Context, keep int) (int, error)
}

// DefaultMaxQueries is how many queries a store keeps unless it is
// configured otherwise (~0.5 KB each: ~50 MB).
const DefaultMaxQueries = 100_000

// Page sizes of PageModels and PageQueries.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// Page selects one page of a list.
type Page struct {
	// Limit is the most items returned: 1 to MaxPageLimit, 0 for
	// DefaultPageLimit.
	Limit int
	// After is the Next of the previous page, "" for the first page.
	After string
}

// ModelPage is one page of models; its JSON is the body of GET /models.
type ModelPage struct {
	Models []*Model `json:"models"`
	// Next is the cursor of the next page, "" on the last one.
	Next string `json:"next,omitempty"`
}

// QueryPage is one page of queries; its JSON is the body of GET /queries.
type QueryPage struct {
	Queries []*Query `json:"queries"`
	// Next is the cursor of the next page, "" on the last one.
	Next string `json:"next,omitempty"`
}

// ModelCounts are figures about all models.
type ModelCounts struct {
	ByStatus map[Status]int // every Status is present, 0 when none
	// WordsPerSecond is summed over the models training now.
	WordsPerSecond float64
}

// Cursor is a decoded Page.After: the position (creation time, ID) of the
// last item of the previous page. Lists are ordered by (Created, ID)
// descending, so the next page starts strictly below it.
type Cursor struct {
	Created time.Time
	ID      string
}

// CheckLimit returns the effective limit of p, or EINVALID naming the field.
func (p Page) CheckLimit() (int, error) {
	switch {
	case p.Limit == 0:
		return DefaultPageLimit, nil
	case p.Limit < 0 || p.Limit > MaxPageLimit:
		return 0, &Error{Code: EINVALID, Field: "limit", Message: fmt.Sprintf("limit must be between 1 and %d", MaxPageLimit)}
	}
	return p.Limit, nil
}

// Cursor decodes p.After: nil for "", EINVALID (Field "after") for a
// string no store returned.
func (p Page) Cursor() (*Cursor, error) {
	if p.After == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(p.After)
	if err != nil || len(b) < 12 {
		return nil, &Error{Code: EINVALID, Field: "after", Message: "after is not a cursor this server returned (use the next of the previous page)"}
	}
	sec := int64(binary.BigEndian.Uint64(b) ^ 1<<63)
	nsec := binary.BigEndian.Uint32(b[8:])
	if nsec >= 1e9 {
		return nil, &Error{Code: EINVALID, Field: "after", Message: "after is not a cursor this server returned (use the next of the previous page)"}
	}
	return &Cursor{Created: time.Unix(sec, int64(nsec)).UTC(), ID: string(b[12:])}, nil
}

// String encodes c as an opaque Page.After.
func (c Cursor) String() string {
	return base64.RawURLEncoding.EncodeToString(c.Key())
}

// Key is c as bytes whose order is (Created, ID) order: seconds with the
// sign bit flipped, nanoseconds, both big-endian, then the ID.
func (c Cursor) Key() []byte {
	k := make([]byte, 12, 12+len(c.ID))
	binary.BigEndian.PutUint64(k, uint64(c.Created.Unix())^(1<<63))
	binary.BigEndian.PutUint32(k[8:], uint32(c.Created.Nanosecond()))
	return append(k, c.ID...)
}

// JobQueue hands training jobs to workers. Every method that takes a
// *Lease returns an error with code ECONFLICT (ErrLeaseLost) when the
// lease is no longer the current one.
type JobQueue interface {
	// ClaimJob takes the oldest queued job, or one whose lease has lapsed,
	// for owner until now+d, and marks its model training. It returns
	// (nil, nil) when there is none. Safe under concurrent callers: a job
	// is held by one lease at a time.
	ClaimJob(ctx context.Context, owner string, d time.Duration) (*Lease, error)
	RenewLease(ctx context.Context, l *Lease, d time.Duration) error
	UpdateProgress(ctx context.Context, l *Lease, p Progress) error
	// PutVectors stores the model's vectors, written by write, replacing
	// any earlier ones. Nothing is visible unless write returns nil.
	PutVectors(ctx context.Context, l *Lease, write func(io.Writer) error) error
	// CompleteJob marks the model ready with stats and removes its job
	// and its uploads; repeating it with the same lease is a no-op.
	CompleteJob(ctx context.Context, l *Lease, stats Stats) error
	// FailJob marks the model failed with a reason a user understands,
	// and removes its job and its uploads.
	FailJob(ctx context.Context, l *Lease, reason string) error
	// ReleaseJob puts the job back in the queue (a worker shutting down).
	ReleaseJob(ctx context.Context, l *Lease) error
	// QueueLength counts jobs not yet finished: queued or leased.
	QueueLength(ctx context.Context) (int, error)
}

// VectorReader reads stored vectors.
type VectorReader interface {
	// OpenVectors reads the vectors of a ready model, the bytes PutVectors
	// or ImportModel wrote (vectors.Compact; older stores hold word2vec
	// binary), or ENOTFOUND.
	OpenVectors(ctx context.Context, modelID string) (io.ReadCloser, error)
}

// Store is everything the service keeps. Implementations pass the
// conformance suite in internal/storetest.
type Store interface {
	ModelStore
	QueryStore
	JobQueue
	VectorReader
	Close() error
}

// MarshalJSON writes a result as the original's two-element array
// [score, "word"] (its web page reads result[1] and result[0]).
func (r Result) MarshalJSON() ([]byte, error) {
	return json.Marshal([2]any{r.Score, r.Word})
}

// UnmarshalJSON reads [score, "word"].
func (r *Result) UnmarshalJSON(b []byte) error {
	var pair []json.RawMessage
	if err := json.Unmarshal(b, &pair); err != nil {
		return err
	}
	if len(pair) != 2 {
		return fmt.Errorf("a result is [score, \"word\"], got %d elements", len(pair))
	}
	if err := json.Unmarshal(pair[0], &r.Score); err != nil {
		return fmt.Errorf("result score: %w", err)
	}
	if err := json.Unmarshal(pair[1], &r.Word); err != nil {
		return fmt.Errorf("result word: %w", err)
	}
	return nil
}
