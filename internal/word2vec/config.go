package word2vec

import (
	"fmt"
	"runtime"
	"time"

	"github.com/ophicleide/ophicleide/internal/subword"
)

// Arch is the network architecture.
type Arch string

// Architectures.
const (
	SkipGram Arch = "skipgram"
	CBOW     Arch = "cbow"
)

// Loss is the output layer.
type Loss string

// Output layers.
const (
	NegativeSampling    Loss = "ns"
	HierarchicalSoftmax Loss = "hs"
)

// Limits on parameters, to turn absurd requests into clear errors.
const (
	MaxDim      = 10000
	MaxWindow   = 1000
	MaxNegative = 1000
	MaxEpochs   = 10000
	// MaxNGram is the longest n-gram (in characters) MaxN may ask for;
	// MaxBucket the most n-gram rows.
	MaxNGram  = 10
	MaxBucket = 10000000
	// MaxSentence is the longest sentence the trainer keeps whole; longer
	// ones are cut (word2vec.c cuts at 1,000).
	MaxSentence = 10000
)

// Config holds the training parameters. The zero value of a field means its
// default (given with each field); Validate reports out-of-range values.
type Config struct {
	Arch     Arch    // SkipGram (default) or CBOW
	Loss     Loss    // NegativeSampling (default) or HierarchicalSoftmax
	Dim      int     // vector dimension, default 100
	Window   int     // maximum distance between a word and its context, default 5
	Negative int     // negative samples per target, default 5 (ns only)
	MinCount int     // words seen fewer times are dropped, default 5
	Sample   float64 // subsampling threshold, default 1e-3; negative disables it
	Epochs   int     // passes over the corpus, default 5
	Alpha    float64 // start learning rate, default 0.025 (skip-gram) or 0.05 (CBOW)
	Threads  int     // training goroutines, default runtime.GOMAXPROCS(0)
	Seed     uint64  // random seed; with Threads = 1 the output is a function of (corpus, config)
	MaxVocab int     // keep at most this many most frequent words; 0 means no cap

	// MinN, MaxN and Bucket are fastText's subword settings (subword.go):
	// with MaxN > 0 a word's input vector is the mean of its own row and
	// the rows of its character n-grams of MinN to MaxN characters, hashed
	// into Bucket rows (default 2,000,000). MaxN 0 (the default) trains
	// plain Word2Vec.
	MinN, MaxN int
	Bucket     int

	// MemoryLimit, when positive, is the most memory in bytes training may
	// use: the weight matrices, and the stored corpus while it is in
	// memory. When the corpus would not fit beside the weights it moves to
	// a file in TempDir (and no longer counts); when the weights alone do
	// not fit, training fails with a *MemoryError before allocating them.
	// It also bounds the count table (CountLimit).
	MemoryLimit int64

	// CountLimit bounds the memory of counting: when more than this many
	// distinct words are being counted, the rarest are pruned while
	// counting goes on (word2vec.c's ReduceVocab, gensim's
	// max_vocab_size): every word seen at most T times so far is dropped,
	// T rising by one each time, until 7/8 of the limit is left. A pruned
	// word seen again starts from a count of one and its earlier
	// occurrences are not trained on, so words whose total count reaches
	// MinCount can be missing from the vocabulary and the counts of words
	// pruned and seen again are low; words pruned later are the ones the
	// earlier prunes' T was raised past. 0 derives the limit from
	// MemoryLimit (as many words as fit in half of it, at about 100 bytes
	// a word beyond its letters, and at least 1,000), or means no limit
	// without one. Unlike MaxVocab, which keeps the most frequent words of
	// the exact counts, it changes which words are counted at all; a
	// limit well above the vocabulary's distinct words loses none.
	CountLimit int

	// TempDir is the directory of the temporary file that holds the
	// corpus as word ids when it would not fit in MemoryLimit beside the
	// weights, or always with DiskCorpus; "" is os.TempDir(). It needs
	// room for 4 bytes per word of the corpus (and per sentence). The file
	// is unlinked as soon as it is created: nothing is left behind, even
	// by a crash, and its space is freed when Train returns. Training
	// reads it through a memory mapping: as fast as memory when it is in
	// the page cache, which does not count against MemoryLimit (the
	// kernel reclaims it rather than failing).
	TempDir    string
	DiskCorpus bool // keep the corpus in TempDir from the start (tests, benchmarks, known huge inputs)

	// Progress, when set, is called from one goroutine every
	// ProgressInterval (default 1s) and once at the end of each phase.
	Progress         func(Progress)
	ProgressInterval time.Duration
	// InputBytes, when positive, is the size of the input; with a source
	// that reports bytes read it gives the counting phase a fraction.
	InputBytes int64
}

// subwords returns c's n-gram settings (disabled when MaxN is 0).
func (c Config) subwords() subword.Config {
	return subword.Config{MinN: c.MinN, MaxN: c.MaxN, Bucket: c.Bucket}
}

// ConfigError names a parameter and why its value is not accepted.
type ConfigError struct {
	Field   string
	Message string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Message) }

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Arch == "" {
		c.Arch = SkipGram
	}
	if c.Loss == "" {
		c.Loss = NegativeSampling
	}
	if c.Dim == 0 {
		c.Dim = 100
	}
	if c.Window == 0 {
		c.Window = 5
	}
	if c.Negative == 0 && c.Loss == NegativeSampling {
		c.Negative = 5
	}
	if c.MinCount == 0 {
		c.MinCount = 5
	}
	if c.Sample == 0 {
		c.Sample = 1e-3
	}
	if c.Epochs == 0 {
		c.Epochs = 5
	}
	if c.Alpha == 0 {
		c.Alpha = 0.025
		if c.Arch == CBOW {
			c.Alpha = 0.05
		}
	}
	if c.Threads == 0 {
		c.Threads = runtime.GOMAXPROCS(0)
	}
	if c.MaxN > 0 && c.Bucket == 0 {
		c.Bucket = subword.DefaultBucket
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = time.Second
	}
	return c
}

// Validate fills defaults and reports the first invalid field as a
// *ConfigError.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(field, format string, args ...any) error {
		return &ConfigError{Field: field, Message: fmt.Sprintf(format, args...)}
	}
	switch {
	case c.Arch != SkipGram && c.Arch != CBOW:
		return bad("model", "%q is not skipgram or cbow", c.Arch)
	case c.Loss != NegativeSampling && c.Loss != HierarchicalSoftmax:
		return bad("loss", "%q is not ns or hs", c.Loss)
	case c.Dim < 1 || c.Dim > MaxDim:
		return bad("dim", "%d is not between 1 and %d", c.Dim, MaxDim)
	case c.Window < 1 || c.Window > MaxWindow:
		return bad("window", "%d is not between 1 and %d", c.Window, MaxWindow)
	case c.Loss == NegativeSampling && (c.Negative < 1 || c.Negative > MaxNegative):
		return bad("negative", "%d is not between 1 and %d", c.Negative, MaxNegative)
	case c.Negative < 0:
		return bad("negative", "%d is negative", c.Negative)
	case c.MinCount < 1:
		return bad("min-count", "%d is less than 1", c.MinCount)
	case c.Sample != c.Sample || c.Sample >= 1:
		return bad("sample", "%g is not below 1 (use a negative value to disable subsampling)", c.Sample)
	case c.Epochs < 1 || c.Epochs > MaxEpochs:
		return bad("epochs", "%d is not between 1 and %d", c.Epochs, MaxEpochs)
	case !(c.Alpha > 0 && c.Alpha <= 10):
		return bad("alpha", "%g is not in (0, 10]", c.Alpha)
	case c.Threads < 1 || c.Threads > 4096:
		return bad("threads", "%d is not between 1 and 4096", c.Threads)
	case c.MaxVocab < 0:
		return bad("max-vocab", "%d is negative", c.MaxVocab)
	case c.MaxN < 0 || c.MaxN > MaxNGram:
		return bad("maxn", "%d is not between 0 (no subwords) and %d", c.MaxN, MaxNGram)
	case c.MaxN == 0 && c.MinN != 0:
		return bad("minn", "%d is set but maxn is 0 (no subwords); set maxn too", c.MinN)
	case c.MaxN == 0 && c.Bucket != 0:
		return bad("bucket", "%d is set but maxn is 0 (no subwords); set minn and maxn too", c.Bucket)
	case c.MaxN > 0 && (c.MinN < 1 || c.MinN > c.MaxN):
		return bad("minn", "%d is not between 1 and maxn (%d)", c.MinN, c.MaxN)
	case c.MaxN > 0 && (c.Bucket < 1 || c.Bucket > MaxBucket):
		return bad("bucket", "%d is not between 1 and %d", c.Bucket, MaxBucket)
	case c.CountLimit < 0:
		return bad("count-limit", "%d is negative", c.CountLimit)
	case c.MemoryLimit < 0:
		return bad("memory-limit", "%d is negative", c.MemoryLimit)
	}
	return nil
}
