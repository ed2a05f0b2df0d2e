package ophicleide

import (
	"context"
	"io"
)

// The services: the use cases the adapters call (the HTTP API), in domain
// terms. internal/service implements them over a Store and the vector
// engine; an adapter holds these interfaces, never a store or an engine.
// Their errors are *Error values (codes and user-safe messages, Field
// naming the request field at fault) or, for anything unexpected, any
// other error, which adapters show as an internal error.
//
// Every method acts for the principal in ctx (PrincipalFrom; none is
// the process, an admin) and enforces what it may do whatever the
// adapter checked: models record their owner; changing a model (Delete,
// Export) needs its owner or an admin (EFORBIDDEN), creating one the
// write role and the owner's quotas (ELIMITED for jobs, EFULL for
// bytes); to others a model shows no owner, source URLs ("urls": []),
// callback or per-source stats; the query history shows a principal
// only its own queries (anonymous callers: those without an owner),
// admins all. internal/service/access.go has the details.

// Bounds of the services' requests.
const (
	// DefaultCount and MaxCount: the neighbours a query or a search
	// returns when not told, and at most.
	DefaultCount = 5
	MaxCount     = 100
	// DefaultWords and MaxWords: the words QueryService.Words returns when
	// not told, and at most.
	DefaultWords = 20
	MaxWords     = 1000
	// MaxNameLen is the longest name of a model (characters); MaxURLs
	// the most URLs of a ModelRequest.
	MaxNameLen = 200
	MaxURLs    = 100
)

// Export formats (QueryService.Export): the word2vec formats.
const (
	ExportBinary = "binary"
	ExportText   = "text"
)

// ModelService creates, imports, reads and deletes models.
type ModelService interface {
	// Create validates req (name, URLs, the training parameters), may
	// check a model trained from uploads alone before taking it (its
	// memory estimate), then stores it queued with its training job and
	// returns it. Errors: EINVALID with Field for a bad request, those of
	// ModelStore.CreateModel.
	Create(ctx context.Context, req ModelRequest) (*Model, error)
	// Import stores a ready model named name from a word2vec file (text or
	// binary, detected) read from src as it streams. EINVALID (Field
	// "name" or "file") for a bad name or file; errors of reading src are
	// returned wrapped, so the caller can tell its own (a body too large).
	Import(ctx context.Context, name string, src io.Reader) (*Model, error)
	// FindModel returns the model, or ENOTFOUND.
	FindModel(ctx context.Context, id string) (*Model, error)
	// PageModels returns one page of the models, newest first (EINVALID
	// for a bad Page).
	PageModels(ctx context.Context, p Page) (*ModelPage, error)
	// Delete removes the model with its job, files and queries, and
	// forgets its loaded vectors; ENOTFOUND if there is none, EFORBIDDEN
	// unless the principal is an admin or a writer that owns it.
	Delete(ctx context.Context, id string) error
	// CountModels counts the models by status (ModelStore.CountModels).
	CountModels(ctx context.Context) (*ModelCounts, error)
	// QueueLength counts the training jobs not yet finished.
	QueueLength(ctx context.Context) (int, error)
	// Limits are the bounds Create enforces and the workers apply, for
	// clients to read before sending a request.
	Limits() Limits
}

// ModelRequest asks for a model to be trained.
type ModelRequest struct {
	Name     string
	URLs     []string // http or https; blank ones are skipped
	Callback string
	Params   Params
	// ZeroParam names (by its API field) a parameter that must be above 0
	// which the request gave as 0: Params cannot tell it from one left
	// out (the default), the decoder can. Create refuses it.
	ZeroParam string
	// Uploads are texts to train on besides the URLs, in order. Create
	// may read them twice (a check, then the store): each must then be an
	// io.Seeker. The caller closes them.
	Uploads []Upload
}

// Upload is a text file sent with a ModelRequest.
type Upload struct {
	Name string // unique in the request, safe as a file name
	Text io.Reader
}

// QueryService answers questions about the vectors of ready models. A
// model that is not ready is ENOTFOUND; a word not in its vocabulary is
// EINVALID with Field naming the argument. Words are looked up as given,
// else as the model's tokenizer writes them ("Darcy" is "darcy" to a
// unicode model).
type QueryService interface {
	// Query answers req with the nearest neighbours of its word and keeps
	// it in the query history.
	Query(ctx context.Context, req QueryRequest) (*Query, error)
	// FindQuery returns a stored query, or ENOTFOUND (also for one the
	// principal may not see).
	FindQuery(ctx context.Context, id string) (*Query, error)
	// PageQueries returns one page of the history the principal may see
	// (its own queries; an admin's: all), of model modelID only unless it
	// is "".
	PageQueries(ctx context.Context, modelID string, p Page) (*QueryPage, error)
	// Nearest returns the count (1 to MaxCount) nearest neighbours of word.
	Nearest(ctx context.Context, modelID, word string, count int) ([]Result, error)
	// Analogy returns the count words nearest to the sum of positive
	// minus the sum of negative (Field "positive" or "negative").
	Analogy(ctx context.Context, modelID string, positive, negative []string, count int) ([]Result, error)
	// Similarity returns the cosine similarity of a and b (Field "a" or "b").
	Similarity(ctx context.Context, modelID, a, b string) (float32, error)
	// Vector returns the vector of word; the slice is the caller's.
	Vector(ctx context.Context, modelID, word string) ([]float32, error)
	// Words returns at most limit (1 to MaxWords) words of the vocabulary
	// starting with prefix (case-folded), most frequent first.
	Words(ctx context.Context, modelID, prefix string, limit int) ([]WordRank, error)
	// Export returns the model's vectors as a file in format
	// (ExportBinary, ExportText, "" for binary; EINVALID Field "format"
	// for any other), to be written by the caller. EFORBIDDEN unless
	// the principal is an admin or a writer that owns the model.
	Export(ctx context.Context, modelID, format string) (*Export, error)
	// Evaluate scores the model on the user's evaluation file (an analogy
	// or word-pair file, EvaluateRequest) and returns the one result;
	// nothing is stored. Needs the write role (EFORBIDDEN). EINVALID
	// Field "kind" for a kind not analogy, similarity or ""; Field "file"
	// for a file with nothing of its kind in it (empty, not text, the
	// wrong kind); ETOOLARGE beyond MaxEvaluateBytes. A file of words the
	// model does not know scores 0 with coverage 0.
	Evaluate(ctx context.Context, req EvaluateRequest) (*Evaluation, error)

}

// MaxEvaluateBytes is the largest evaluation file QueryService.Evaluate
// reads (the Google set is 0.6 MB).
const MaxEvaluateBytes = 16 << 20

// EvaluateRequest asks for a model to be scored on a user's file.
type EvaluateRequest struct {
	ModelID string
	// Name names the result ("upload" when ""); Kind is "analogy" (the
	// word2vec questions-words.txt format, ": section" lines), "similarity"
	// (lines "word word score", tab or space separated) or "" to detect.
	Name, Kind string
	// File is read to its end or MaxEvaluateBytes; the caller closes it.
	File io.Reader
}

// QueryRequest asks for the neighbours of a word, to be kept in the
// history.
type QueryRequest struct {
	ModelID string
	Word    string
	Count   int // 1 to MaxCount
}

// WordRank is a word of a model's vocabulary and its rank by frequency
// (1: the most frequent).
type WordRank struct {
	Word string `json:"word"`
	Rank int    `json:"rank"`
}

// Export is a model's vectors ready to be written as a file.
type Export struct {
	Model  *Model
	Format string // ExportBinary or ExportText
	// Write writes the file to w as it goes (nothing is buffered whole).
	Write func(w io.Writer) error
}

// Limits are what a server accepts and enforces, published at GET /limits
// and in GET /'s info so clients can check a request before sending it.
// The training parameters are checked when a model is created; the others
// are enforced by the workers and the fetcher and are shown here because a
// request that exceeds them fails.
type Limits struct {
	Params ParamLimits `json:"params"`
	// MaxJobMemoryBytes is the memory one training job may use (0: none).
	MaxJobMemoryBytes int64 `json:"maxJobMemoryBytes"`
	// MaxURLBytes is the text accepted per URL or upload, after
	// decompression; MaxModelBytes all of a model's inputs together.
	MaxURLBytes   int64 `json:"maxURLBytes"`
	MaxModelBytes int64 `json:"maxModelBytes"`
	// MaxUploadBytes is the largest multipart POST /models body (0: the
	// HTTP adapter's own limit).
	MaxUploadBytes int64 `json:"maxUploadBytes"`
	// MaxJobSeconds is a job's wall-clock limit, fetching included (0: none).
	MaxJobSeconds float64 `json:"maxJobSeconds"`
	// MaxAttempts is how many times a job is claimed before it fails.
	MaxAttempts int `json:"maxAttempts"`
	// MaxJobsPerKey is the most models one key may have queued or
	// training (0: no limit; more is ELIMITED); MaxBytesPerKey the most
	// bytes of uploads and vectors its models may store (0: no limit;
	// more is EFULL). Admin keys are exempt.
	MaxJobsPerKey  int   `json:"maxJobsPerKey"`
	MaxBytesPerKey int64 `json:"maxBytesPerKey"`
	// Engines are the training engines this server has (params.engine),
	// default first; SparkSchemes the URL schemes the spark engine reads
	// itself.
	Engines      []string `json:"engines,omitempty"`
	SparkSchemes []string `json:"sparkSchemes,omitempty"`
}

// ParamLimits are a server's bounds on the training parameters a request
// may ask for (the engine's own, published; the engine checks them).
type ParamLimits struct {
	MaxDim      int     `json:"maxDim"`
	MaxWindow   int     `json:"maxWindow"`
	MaxNegative int     `json:"maxNegative"`
	MaxEpochs   int     `json:"maxEpochs"`
	MaxAlpha    float64 `json:"maxAlpha"`
}
