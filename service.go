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

// Export formats (QueryService.Export): the word2vec formats, and the
// Embedding Projector's vectors.tsv and metadata.tsv.
const (
	ExportBinary      = "binary"
	ExportText        = "text"
	ExportTSV         = "tsv"
	ExportTSVMetadata = "tsv-metadata"
)

// Bounds of the analysis requests (QueryService.SimilarWords through
// Compare).
const (
	// MaxRestrict is the largest restrict (the most frequent words a
	// search considers; above a model's vocabulary, all of it).
	MaxRestrict = 100_000_000
	// MaxListWords: the most words of a DoesntMatch or Vectors request.
	MaxListWords = 1000
	// DefaultMapWords and MaxMapWords: the words of a Map when not told,
	// and at most.
	DefaultMapWords = 2000
	MaxMapWords     = 5000
	// DefaultMoved and MaxMoved: the moved words of a Compare when not
	// told, and at most; DefaultCompareCount the neighbours of its word.
	DefaultMoved        = 20
	MaxMoved            = 100
	DefaultCompareCount = 10
	// CompareAligned: Compare aligns on the shared words among this many
	// most frequent of both models; CompareScanned: it measures the
	// first this many shared words; CompareTop: the neighbours
	// shown of each moved word in each model.
	CompareAligned = 5000
	CompareScanned = 20000
	CompareTop     = 3
)

// Analogy methods (AnalogyRequest.Method).
const (
	Analogy3CosAdd = "3cosadd" // the default: gensim's most_similar
	Analogy3CosMul = "3cosmul" // gensim's most_similar_cosmul
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
// EINVALID with Field naming the argument and Suggestions (words of the
// vocabulary nearest by spelling). Words are looked up as given, else as
// the model's tokenizer writes them ("Darcy" is "darcy" to a unicode
// model). A model trained with subwords answers for any word with at
// least one character n-gram: one outside its vocabulary gets the mean of
// its n-grams' vectors, and the answers say so (OOV).
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
	// Similarity returns the cosine similarity of a and b (Field "a" or
	// "b") and which of them were answered from their n-grams (OOV).
	Similarity(ctx context.Context, modelID, a, b string) (sim float32, oov []string, err error)
	// Vector returns the vector of word, the caller's, and whether it is
	// built from its n-grams (oov).
	Vector(ctx context.Context, modelID, word string) (vec []float32, oov bool, err error)
	// Words returns at most limit (1 to MaxWords) words of the vocabulary
	// starting with prefix (case-folded), most frequent first.
	Words(ctx context.Context, modelID, prefix string, limit int) ([]WordRank, error)
	// Export returns the model's vectors as a file in format
	// (ExportBinary, ExportText, "" for binary, ExportTSV,
	// ExportTSVMetadata; EINVALID Field "format" for any other), to be
	// written by the caller. EFORBIDDEN unless the principal is an admin
	// or a writer that owns the model.
	Export(ctx context.Context, modelID, format string) (*Export, error)
	// Evaluate scores the model on the user's evaluation file (an analogy
	// or word-pair file, EvaluateRequest) and returns the one result;
	// nothing is stored. Needs the write role (EFORBIDDEN). EINVALID
	// Field "kind" for a kind not analogy, similarity or ""; Field "file"
	// for a file with nothing of its kind in it (empty, not text, the
	// wrong kind); ETOOLARGE beyond MaxEvaluateBytes. A file of words the
	// model does not know scores 0 with coverage 0.
	Evaluate(ctx context.Context, req EvaluateRequest) (*Evaluation, error)

	// SimilarWords is Nearest with options (Restrict), saying which word
	// was answered from its n-grams (Neighbours.OOV).
	SimilarWords(ctx context.Context, req SimilarRequest) (*Neighbours, error)
	// SolveAnalogy is Analogy with options (Restrict, Method: "" or
	// Analogy3CosAdd, Analogy3CosMul; EINVALID Field "method" for others).
	SolveAnalogy(ctx context.Context, req AnalogyRequest) (*Neighbours, error)
	// DoesntMatch finds the odd one out of words (at most MaxListWords;
	// Field "words"): each known word scores the cosine of its unit
	// vector with the mean of the others' unit vectors, the lowest is the
	// odd one. Unknown words are listed, not refused; fewer than 3
	// distinct known words is EINVALID.
	DoesntMatch(ctx context.Context, modelID string, words []string) (*OddOneOut, error)
	// Vectors returns the raw vectors of words (1 to MaxListWords; Field
	// "words"), unknown words listed apart.
	Vectors(ctx context.Context, modelID string, words []string) (*VectorBatch, error)
	// Map returns the count (1 to MaxMapWords) most frequent words of the
	// model projected to 2-D, computed once per model and kept until the
	// model is deleted. The slices are shared: read only.
	Map(ctx context.Context, modelID string, count int) (*WordMap, error)
	// Compare aligns model B onto model A (orthogonal Procrustes) and
	// lists the words that moved most, with the neighbours of Word in
	// both when it is given. A model of another dimension than A's is
	// EINVALID Field "b".
	Compare(ctx context.Context, req CompareRequest) (*Comparison, error)
	// Search answers many neighbour queries of one model in one call
	// (SearchRequest: words, vectors, analogies), each as SimilarWords,
	// a search by vector, or SolveAnalogy would. A malformed request is
	// EINVALID with Field naming the query ("queries[3].vector": not of
	// the model's dimension, zero); what depends on the vocabulary (an
	// unknown word) fails only its own query (SearchAnswer.Err).
	Search(ctx context.Context, req SearchRequest) ([]SearchAnswer, error)
}

// MaxSearchQueries is the most queries of one SearchRequest.
const MaxSearchQueries = 1000

// SearchRequest asks for the neighbours of many words, vectors or
// analogies of one model (QueryService.Search).
type SearchRequest struct {
	ModelID string
	Queries []SearchQuery // 1 to MaxSearchQueries
	Count   int           // 1 to MaxCount, for every query
	// Restrict: only the Restrict most frequent words are candidates (0:
	// all; at most MaxRestrict).
	Restrict int
	// Method of the analogy queries ("" or Analogy3CosAdd, Analogy3CosMul).
	Method string
	// Exact asks for the exact scan whatever index a model has (a model
	// of ann.Worth's size searched without a restrict uses its index once
	// built; see SearchAnswer.Exact).
	Exact bool
}

// SearchQuery is one query of a SearchRequest: exactly one of Word, Vector
// (of the model's dimension, finite, not zero: searched by its direction)
// or Positive with Negative (an analogy, as AnalogyRequest's). The
// caller owns the slices; Search only reads them.
type SearchQuery struct {
	Word               string
	Vector             []float32
	Positive, Negative []string
}

// SearchAnswer is one query's answer, in the order of the request: its
// neighbours best first and the words of it answered from their
// n-grams (OOV, as Neighbours'), or Err, an *Error (an unknown word: its
// Field "word", "positive" or "negative", with Suggestions).
type SearchAnswer struct {
	Results []Result
	OOV     []string
	// Exact: the exact scan answered (no index attached yet, a
	// restricted query, or Exact asked); false: the approximate index.
	Exact bool
	Err   error
}

// Neighbours are the answer of SimilarWords and SolveAnalogy.
type Neighbours struct {
	Results []Result
	// OOV lists the words of the request that are not in the vocabulary
	// of a model trained with subwords, answered by the vectors of their
	// character n-grams, as given (none: nil).
	OOV []string
	// Exact: as SearchAnswer's.
	Exact bool `json:"-"`
}

// SimilarRequest asks for the neighbours of a word.
type SimilarRequest struct {
	ModelID string
	Word    string
	Count   int // 1 to MaxCount
	// Restrict: only the Restrict most frequent words are candidates (0:
	// all; at most MaxRestrict).
	Restrict int
	// Exact asks for the exact scan whatever index the model has.
	Exact bool
}

// AnalogyRequest asks for the answers of an analogy.
type AnalogyRequest struct {
	ModelID            string
	Positive, Negative []string
	Count              int // 1 to MaxCount
	Restrict           int // as SimilarRequest's
	Method             string
	// Exact asks for the exact scan whatever index the model has.
	Exact bool
}

// OddOneOut is DoesntMatch's answer.
type OddOneOut struct {
	Word    string      `json:"word"`    // the odd one, as given
	Words   []WordScore `json:"words"`   // the known words, in the order given
	Unknown []string    `json:"unknown"` // the words not in the vocabulary
	// OOV: the words of Words outside the vocabulary of a model trained
	// with subwords, scored by the vectors of their n-grams.
	OOV []string `json:"oov"`
}

// WordScore is a word and a score.
type WordScore struct {
	Word  string  `json:"word"`
	Score float64 `json:"score"`
}

// VectorBatch is Vectors' answer: the vectors by word as given.
type VectorBatch struct {
	Dim     int                  `json:"dim"`
	Vectors map[string][]float32 `json:"vectors"`
	Unknown []string             `json:"unknown"`
	// OOV: the words of Vectors outside the vocabulary of a model
	// trained with subwords, built from their n-grams.
	OOV []string `json:"oov"`
}

// WordMap is a model's most frequent words projected to 2-D: Points[i]
// is Words[i]'s place.
type WordMap struct {
	Method string       `json:"method"` // "pca"
	Words  []string     `json:"words"`
	Points [][2]float32 `json:"points"`
}

// CompareRequest asks to compare model B with model A.
type CompareRequest struct {
	A, B  string // model ids
	Word  string // optional: show its neighbours in both
	Count int    // Word's neighbours, 1 to MaxCount
	Moved int    // 1 to MaxMoved
}

// Comparison is Compare's answer.
type Comparison struct {
	A ModelRef `json:"a"`
	B ModelRef `json:"b"`
	// Shared: the words of both vocabularies; Aligned: those the
	// alignment used.
	Shared     int                `json:"shared"`
	Aligned    int                `json:"aligned"`
	Word       string             `json:"word,omitempty"`
	Neighbours *CompareNeighbours `json:"neighbours,omitempty"`
	Moved      []MovedWord        `json:"moved"`
}

// ModelRef names a model.
type ModelRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// CompareNeighbours are a word's neighbours in two models.
type CompareNeighbours struct {
	A       []Result `json:"a"`
	B       []Result `json:"b"`
	Overlap []string `json:"overlap"` // in A's order
	Jaccard float64  `json:"jaccard"` // |A and B| / |A or B|
}

// MovedWord is a word whose vectors differ most between two models once
// aligned: Distance is 1 - cosine (0 to 2); A and B its nearest words in
// each model.
type MovedWord struct {
	Word     string   `json:"word"`
	Distance float64  `json:"distance"`
	A        []string `json:"a"`
	B        []string `json:"b"`
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
	// MaxImportBytes is the largest POST /models/import body (0: the
	// HTTP adapter's own default).
	MaxImportBytes int64 `json:"maxImportBytes"`
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
