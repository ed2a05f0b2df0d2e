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
	// StatusImporting: POST /models/import is streaming the model's
	// vectors in (no job); it ends ready or failed like a trained model.
	StatusImporting Status = "importing"
)

// Params are the training parameters of a model. Zero values mean the
// engine's defaults; the API validates them before a model is stored.
// Once the model is trained they are the effective ones, every default
// made explicit by the engine (Seed included: DefaultSeed when asked 0).
type Params struct {
	// Engine trains the model: native (the default: this project's
	// trainer, in the worker) or spark (Spark MLlib on the server's Spark
	// Connect endpoint). Each refuses what it cannot train.
	Engine    string  `json:"engine,omitempty"`
	Model     string  `json:"model,omitempty"` // skipgram | cbow
	Loss      string  `json:"loss,omitempty"`  // ns | hs
	Dim       int     `json:"dim,omitempty"`
	Window    int     `json:"window,omitempty"`
	Negative  int     `json:"negative,omitempty"`
	MinCount  int     `json:"minCount,omitempty"`
	Sample    float64 `json:"sample,omitempty"`
	Epochs    int     `json:"epochs,omitempty"`
	Alpha     float64 `json:"alpha,omitempty"`
	Seed      uint64  `json:"seed,omitempty"` // 0: DefaultSeed
	MaxVocab  int     `json:"maxVocab,omitempty"`
	Tokenizer string  `json:"tokenizer,omitempty"` // unicode | classic | whitespace
	// Subwords (native engine only; fastText's names): character n-grams
	// of MinN to MaxN characters hashed into Bucket rows. MaxN 0 (the
	// default) trains without subwords.
	MinN   int `json:"minn,omitempty"`
	MaxN   int `json:"maxn,omitempty"`
	Bucket int `json:"bucket,omitempty"`
	// Spark engine only: partitions of the training data (Spark's
	// numPartitions, 1 by default) and the longest sentence before it is
	// split (maxSentenceLength, 1000 by default).
	Partitions        int `json:"partitions,omitempty"`
	MaxSentenceLength int `json:"maxSentenceLength,omitempty"`
}

// DefaultSeed is the random seed of a model whose Params give none (0),
// the CLI's --seed default: the same text and parameters train the same
// model.
const DefaultSeed = 1

// Progress of a model's job.
type Progress struct {
	Phase          string  `json:"phase"` // queued, fetching, counting, training, evaluating, saving
	Fraction       float64 `json:"fraction"`
	WordsPerSecond float64 `json:"wordsPerSecond"`
	EtaSeconds     float64 `json:"etaSeconds"`
	// Words is how many rows an import has read so far (phase importing).
	Words int64 `json:"words,omitempty"`
}

// SourceStats describes one input of a trained model.
type SourceStats struct {
	URL   string `json:"url"` // or "upload:NAME"
	Bytes int64  `json:"bytes"`
	Words int64  `json:"words"`
}

// Stats describes a trained model.
type Stats struct {
	CorpusWords     int64   `json:"corpusWords"`
	VocabSize       int     `json:"vocabSize"`
	TrainingSeconds float64 `json:"trainingSeconds"`
	// WordsPerSecond is the training speed: corpus words times epochs
	// over TrainingSeconds (0 for imported models).
	WordsPerSecond float64       `json:"wordsPerSecond"`
	Sources        []SourceStats `json:"sources,omitempty"`
}

// Evaluation is a model's scores on evaluation sets: the bundled ones
// (the Google analogies over the 30,000 most frequent words,
// WordSim-353, SimLex-999, MEN, Stanford Rare Words) when it became
// ready, or a user's file (QueryService.Evaluate). Every figure is a
// finite number; a set none of whose words the model knows scores 0 with
// coverage 0.
type Evaluation struct {
	Seconds      float64           `json:"seconds"` // time the scoring took
	Analogies    []AnalogyScore    `json:"analogies"`
	Similarities []SimilarityScore `json:"similarities"`
}

// AnalogyScore is the score of a model on an analogy file (3CosAdd).
type AnalogyScore struct {
	Name      string  `json:"name"`      // google for the bundled set
	Accuracy  float64 `json:"accuracy"`  // correct / answered
	Semantic  float64 `json:"semantic"`  // accuracy on the sections not named gram*
	Syntactic float64 `json:"syntactic"` // accuracy on the gram* sections
	Questions int     `json:"questions"` // questions in the file
	Answered  int     `json:"answered"`  // questions whose four words the model knows
	Coverage  float64 `json:"coverage"`  // answered / questions
}

// SimilarityScore is the score of a model on a word-pair file.
type SimilarityScore struct {
	Name     string  `json:"name"`     // wordsim353, simlex999, men, rw for the bundled sets
	Spearman float64 `json:"spearman"` // rank correlation of cosines and human scores
	Pairs    int     `json:"pairs"`    // pairs in the file
	Covered  int     `json:"covered"`  // pairs whose two words the model knows
	Coverage float64 `json:"coverage"` // covered / pairs
}

// MarshalJSON writes e with its lists as arrays, never null.
func (e Evaluation) MarshalJSON() ([]byte, error) {
	type plain Evaluation
	if e.Analogies == nil {
		e.Analogies = []AnalogyScore{}
	}
	if e.Similarities == nil {
		e.Similarities = []SimilarityScore{}
	}
	return json.Marshal(plain(e))
}

// Completion is what a worker records when its job ends well
// (JobQueue.CompleteJob).
type Completion struct {
	Stats Stats
	// Params, if not nil, replace the model's: the effective parameters
	// the engine trained with.
	Params *Params
	// Evaluation, if not nil, is stored with the model.
	Evaluation *Evaluation
}

// Model is a named Word2Vec model trained from URLs and uploads.
type Model struct {
	ID       string    `json:"id"` // a UUID string
	Name     string    `json:"name"`
	Owner    string    `json:"owner,omitempty"` // the name of the key that created it ("" on a server without keys)
	Status   Status    `json:"status"`
	URLs     []string  `json:"urls"`
	Uploads  []string  `json:"uploads,omitempty"` // names of uploaded corpus files
	Callback string    `json:"callback,omitempty"`
	Params   Params    `json:"params"`
	Progress *Progress `json:"progress,omitempty"`
	Stats    *Stats    `json:"stats,omitempty"`
	// Evaluation is the model's scores on the bundled sets, computed when
	// it became ready; absent until then, and when scoring failed.
	Evaluation *Evaluation `json:"evaluation,omitempty"`
	Error      string      `json:"error,omitempty"` // why it failed
	// Index is the model's approximate nearest-neighbour index as the
	// answering process knows it; absent for a model too small to be
	// worth one, or not yet loaded by that process. Never stored.
	Index   *IndexState `json:"index,omitempty" bson:"-"`
	Created time.Time   `json:"created"`
	Updated time.Time   `json:"updated"`
}

// Result is one neighbour of a query word.
type Result struct {
	Word  string
	Score float64
}

// Query is a stored similarity query and its answer.
type Query struct {
	ID        string   `json:"id"`
	Word      string   `json:"word"`
	ModelID   string   `json:"model"`
	ModelName string   `json:"modelName"`
	Results   []Result `json:"results"`
	// OOV: Word is not in the vocabulary of the model, which was trained
	// with subwords: its vector is built from its character n-grams.
	OOV     bool      `json:"oov,omitempty"`
	Owner   string    `json:"owner,omitempty"` // the name of the key that asked it
	Created time.Time `json:"created"`
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

// ModelStore keeps models. Every store keeps the same contract, pinned
// by the conformance suite (internal/storetest); the methods copy the
// models they are given and keep neither them nor the readers.
type ModelStore interface {
	// CreateModel stores m (with ID, Created and Updated set by the caller)
	// with status queued, and its uploads, and enqueues its training job,
	// all or nothing. uploads maps upload names (m.Uploads) to their data.
	// EINVALID (Field "id") for an ID CheckModelID refuses, EINVALID
	// (Field "uploads") for uploads CheckUploads refuses, both before
	// anything is read or stored; ECONFLICT if the ID exists (the existing
	// model and its uploads are untouched).
	CreateModel(ctx context.Context, m *Model, uploads map[string]io.Reader) error
	// FindModel returns the model, or ENOTFOUND.
	FindModel(ctx context.Context, id string) (*Model, error)
	// PageModels returns one page of the models, newest first (ties by
	// descending ID), without reading the others. EINVALID (Field "limit"
	// or "after") for a bad Page. Models is never nil; Next is "" on the
	// last page, even a full one. A cursor stays valid when its model is
	// deleted (it is a position, not a model).
	PageModels(ctx context.Context, p Page) (*ModelPage, error)
	// CountModels counts the models by status and sums the words per
	// second of the ones training, without reading every model. A model
	// whose lease lapsed and was not claimed again is still training.
	CountModels(ctx context.Context) (*ModelCounts, error)
	// DeleteModel removes the model, its job, uploads, vectors and
	// queries, or returns ENOTFOUND, in any state: the worker holding its
	// lease loses it (every lease method then returns ErrLeaseLost, and a
	// model created again with the same ID does not give it back).
	DeleteModel(ctx context.Context, id string) error
	// OpenUpload reads an uploaded corpus file of a model while its job
	// is unfinished (a retry reads it again); once the model is ready or
	// failed its uploads are removed (m.Uploads keeps their names, its
	// Stats their sizes) and OpenUpload returns ENOTFOUND, as it does for
	// a name the model does not have. The caller closes it.
	OpenUpload(ctx context.Context, modelID, name string) (io.ReadCloser, error)
	// ImportModel stores m as a ready model (no job) with the vectors that
	// write writes (the bytes are the caller's: vectors.Compact), all or
	// nothing: nothing is stored when write fails, and the error wraps
	// write's. m is stored after write returns, so write may fill in what
	// it learns (dimension, vocabulary size). EINVALID (Field "id") for an
	// ID CheckModelID refuses; ECONFLICT if the ID exists, checked before
	// write is called (write is not called) and again when m is stored.
	ImportModel(ctx context.Context, m *Model, write func(io.Writer) error) error
	// BeginImport stores m (ID, Created and Updated set by the caller)
	// with status importing, no job and no vectors, so that other clients
	// see a long import (FindModel, PageModels, CountModels) before
	// EndImport ends it. EINVALID (Field "id") for an ID CheckModelID
	// refuses; ECONFLICT if the ID exists.
	BeginImport(ctx context.Context, m *Model) error
	// SetImportProgress stores p as the progress of the importing model
	// id and the time as its Updated: the heartbeat FailStaleImports
	// reads. ENOTFOUND if there is no such model (it was deleted: the
	// import should stop); ECONFLICT if it is not importing.
	SetImportProgress(ctx context.Context, id string, p Progress) error
	// EndImport ends the import BeginImport began. When write (the bytes
	// are the caller's: vectors.Compact) returns nil they are stored as
	// the model's vectors and m as it is then (dimension, vocabulary
	// size) with status ready and no progress; when write fails no
	// vectors are kept, the model is stored failed with ErrorMessage(err)
	// as its Error, and EndImport returns an error wrapping write's.
	// ENOTFOUND if the model was deleted meanwhile, ECONFLICT if it is no
	// longer importing (FailStaleImports ended it): nothing is stored.
	EndImport(ctx context.Context, m *Model, write func(io.Writer) error) error
	// FailStaleImports fails every model importing whose Updated is
	// before before (its importer stopped sending progress: a process
	// killed mid-import) with the Error ImportInterrupted, and
	// returns how many it failed.
	FailStaleImports(ctx context.Context, before time.Time) (int, error)
	// SetEvaluation stores e as the Evaluation of the ready model id
	// (replacing any earlier one; nil removes it), changing nothing else
	// but Updated. ENOTFOUND if there is no such model; ECONFLICT if it is
	// not ready.
	SetEvaluation(ctx context.Context, id string, e *Evaluation) error
	// Usage counts what the models of owner (Model.Owner, "" included)
	// hold: how many are queued or training, and the bytes stored for
	// them (uploads still kept plus vectors), for the per-key quotas. It
	// reads the owner's models only (models are few; no index of bytes is
	// kept), and an owner with no model is a zero Usage, not an error.
	Usage(ctx context.Context, owner string) (Usage, error)
}

// Usage is what one owner's models hold (ModelStore.Usage).
type Usage struct {
	Active int   // models queued or training
	Bytes  int64 // uploads still kept plus vectors stored
}

// CheckModelID returns EINVALID (Field "id") unless id can name a model
// in every store: 1 to 128 ASCII letters, digits, '-' or '_' (the
// embedded store makes it a file name). The API's IDs are UUIDs.
func CheckModelID(id string) error {
	ok := id != "" && len(id) <= 128
	for _, c := range id {
		ok = ok && (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_')
	}
	if !ok {
		return &Error{Code: EINVALID, Field: "id", Message: "a model ID is 1 to 128 letters, digits, '-' or '_'"}
	}
	return nil
}

// CheckUploads returns EINVALID (Field "uploads") unless uploads holds a
// non-nil reader for every name in names, no other name, and no name is
// given twice. It reads nothing.
func CheckUploads(names []string, uploads map[string]io.Reader) error {
	invalid := func(format string, args ...any) error {
		return &Error{Code: EINVALID, Field: "uploads", Message: fmt.Sprintf(format, args...)}
	}
	seen := make(map[string]bool, len(names))
	for _, name := range names {
		if seen[name] {
			return invalid("upload %q is named twice", name)
		}
		seen[name] = true
		if uploads[name] == nil {
			return invalid("upload %q has no data", name)
		}
	}
	for name := range uploads {
		if !seen[name] {
			return invalid("upload %q is not among the model's uploads", name)
		}
	}
	return nil
}

// QueryStore keeps the query history, at most a configured number of
// queries (DefaultMaxQueries unless the store is told otherwise): the
// oldest go first.
type QueryStore interface {
	// CreateQuery stores a copy of q. EINVALID (Field "id") if q.ID is "";
	// ECONFLICT if its ID exists (checked first); ENOTFOUND if q.ModelID
	// names no model (queries go with their model), and then nothing is
	// stored.
	CreateQuery(ctx context.Context, q *Query) error
	FindQuery(ctx context.Context, id string) (*Query, error) // ENOTFOUND
	// PageQueries returns one page of the queries that f selects, newest
	// first (ties by descending ID), without reading the others (a seek
	// in an index: by time, by model, by owner, by owner and model). A
	// filter that selects nothing (a model or an owner with no queries)
	// gives an empty page. EINVALID (Field "limit" or "after") for a bad
	// Page. Queries is never nil; Next is "" on the last page. A cursor
	// is only meaningful with the filter it was returned with.
	PageQueries(ctx context.Context, f QueryFilter, p Page) (*QueryPage, error)
	// TrimQueries removes the oldest queries (by Created, then ID) until
	// at most keep are left, and returns how many it removed: 0 when
	// there were no more than keep. EINVALID (Field "keep") if keep < 0.
	TrimQueries(ctx context.Context, keep int) (int, error)
}

// QueryFilter selects queries for QueryStore.PageQueries. The zero value
// selects every query.
type QueryFilter struct {
	// Model, if not "", selects the queries of that model only.
	Model string
	// ByOwner selects the queries whose Owner is Owner only; Owner ""
	// then means the queries asked without a key's name (an open server,
	// anonymous --public-read callers, data written before owners). Any
	// string is a valid Owner (key names are arbitrary).
	ByOwner bool
	Owner   string
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
	bad := &Error{Code: EINVALID, Field: "after", Message: "after is not a cursor this server returned (use the next of the previous page)"}
	b, err := base64.RawURLEncoding.DecodeString(p.After)
	if err != nil || len(b) < 12 {
		return nil, bad
	}
	sec := int64(binary.BigEndian.Uint64(b) ^ 1<<63)
	nsec := binary.BigEndian.Uint32(b[8:])
	if nsec >= 1e9 {
		return nil, bad
	}
	return &Cursor{Created: time.Unix(sec, int64(nsec)).UTC(), ID: string(b[12:])}, nil
}

// Parse is what a store reads of p: the limit (CheckLimit) and the cursor
// to continue after (Cursor), or the first of their errors.
func (p Page) Parse() (limit int, after *Cursor, err error) {
	if limit, err = p.CheckLimit(); err != nil {
		return 0, nil, err
	}
	after, err = p.Cursor()
	return limit, after, err
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
// lease is no longer the current one: its job was claimed again (after
// the lease lapsed), released, ended, or its model deleted. A lease that
// lapsed but was not claimed again is still current: its holder may go on
// (renew, report, store, end) until someone else claims the job. None of
// them changes *l, so one lease may be used by several goroutines (the
// worker renews it while it trains).
//
// What a lease may do after its job ended (CompleteJob or FailJob):
// repeating the same end is a no-op that returns nil and changes nothing
// (the first stats or reason stay), so a worker that did not hear the
// answer may retry; every other method (the other end, RenewLease,
// UpdateProgress, PutVectors, ReleaseJob) returns ErrLeaseLost and changes
// nothing.
type JobQueue interface {
	// ClaimJob takes the oldest job (by its model's Created, then ID)
	// that is queued or whose lease has lapsed, for owner until now+d (d
	// <= 0 gives a lease that has lapsed already), and marks its model
	// training with no Progress (an earlier attempt's is gone). It returns
	// (nil, nil) when there is none. Safe under concurrent callers: a job
	// is held by one lease at a time. Attempt counts the claims of the
	// job, a released one excepted.
	ClaimJob(ctx context.Context, owner string, d time.Duration) (*Lease, error)
	// RenewLease extends the lease to now+d (d <= 0 lets it lapse now).
	RenewLease(ctx context.Context, l *Lease, d time.Duration) error
	// UpdateProgress sets the model's Progress.
	UpdateProgress(ctx context.Context, l *Lease, p Progress) error
	// PutVectors stores the model's vectors, written by write, replacing
	// any earlier ones. Nothing is visible unless write returns nil, and
	// then only once the model is ready; an error of write is wrapped. A
	// lease already lost is ErrLeaseLost before write is called.
	PutVectors(ctx context.Context, l *Lease, write func(io.Writer) error) error
	// CompleteJob marks the model ready with c's Stats, Params (when
	// not nil) and Evaluation (no Progress, no Error) and removes its job
	// and its uploads. The vectors are those of the last PutVectors;
	// without any, OpenVectors returns ENOTFOUND.
	CompleteJob(ctx context.Context, l *Lease, c Completion) error
	// FailJob marks the model failed with a reason a user understands (no
	// Progress), and removes its job and its uploads; OpenVectors of a
	// failed model returns ENOTFOUND.
	FailJob(ctx context.Context, l *Lease, reason string) error
	// ReleaseJob puts the job back in the queue, claimable at once, and
	// its model back to queued with no Progress (a worker shutting down).
	// The next claim has the same Attempt.
	ReleaseJob(ctx context.Context, l *Lease) error
	// QueueLength counts jobs not yet finished: queued or leased.
	QueueLength(ctx context.Context) (int, error)
}

// VectorReader reads stored vectors.
type VectorReader interface {
	// OpenVectors reads the vectors of a ready model, the bytes PutVectors
	// or ImportModel wrote (vectors.Compact; older stores hold word2vec
	// binary), or ENOTFOUND (no such model, not ready, or no vectors).
	// The caller closes it.
	OpenVectors(ctx context.Context, modelID string) (io.ReadCloser, error)
}

// VectorVersioner is what a store may add to VectorReader: the version of
// a model's stored vectors without reading them, so a copy of them kept
// elsewhere (internal/vectorcache, a replica's disk) is known to be
// current. Version names the bytes OpenVectors returns now (another
// version once PutVectors or an import replaced them), size is their
// length; ENOTFOUND as OpenVectors'.
type VectorVersioner interface {
	VectorVersion(ctx context.Context, modelID string) (version string, size int64, err error)
}

// Index statuses (IndexState.Status).
const (
	IndexBuilding = "building" // being built by this process: queries use the exact scan
	IndexReady    = "ready"    // attached: queries without exact or restrict use it
	IndexNone     = "none"     // none yet (waiting for another build, or its build failed): the exact scan
)

// IndexState is where a model's approximate index stands in the process
// that answers: Fraction of the rows inserted while building, Bytes of
// the graph once ready.
type IndexState struct {
	Status   string  `json:"status"`
	Fraction float64 `json:"fraction"`
	Bytes    int64   `json:"bytes,omitempty"`
}

// IndexStore keeps a model's approximate nearest-neighbour index
// (internal/ann's file) beside its vectors. The index is derived data: a
// store may lose it, and whoever opens one checks it against the vectors
// (ann.Load's fingerprint) and builds it again when refused.
type IndexStore interface {
	// PutIndex stores the bytes write writes as the index of a ready
	// model, replacing an earlier one, all or nothing. ENOTFOUND (nothing
	// kept) if the model does not exist or is not ready, also when it is
	// deleted while write runs; write's error is returned wrapped.
	PutIndex(ctx context.Context, modelID string, write func(io.Writer) error) error
	// OpenIndex reads the stored index of a ready model (from the
	// embedded store an *os.File, which ann.Load maps), or ENOTFOUND
	// when there is none. DeleteModel removes it. The caller closes it.
	OpenIndex(ctx context.Context, modelID string) (io.ReadCloser, error)
}

// Store is everything the service keeps. Implementations pass the
// conformance suite in internal/storetest. Close releases the store;
// calling it again is a no-op that returns nil.
type Store interface {
	ModelStore
	QueryStore
	JobQueue
	VectorReader
	IndexStore
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
