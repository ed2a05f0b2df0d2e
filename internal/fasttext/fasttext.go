// Package fasttext reads and writes fastText's .bin model format (the
// files `fasttext skipgram`/`cbow` save and `fasttext.load_model`, gensim's
// load_facebook_model and `fasttext print-word-vectors` load), turning a
// model into a *vectors.Set with subwords and back. It owns the layout of
// the file, learnt from fastText's sources (fasttext.cc saveModel and
// loadModel, args.cc, dictionary.cc, densematrix.cc), written here from
// that description:
//
//	int32 magic 793712314, int32 version (12; 11 is read too)
//	args: int32 dim, ws, epoch, minCount, neg, wordNgrams, loss, model,
//	      bucket, minn, maxn, lrUpdateRate; float64 t
//	dictionary: int32 size, nwords, nlabels; int64 ntokens, pruneidx_size;
//	      size entries (word bytes, NUL, int64 count, int8 type: 0 word,
//	      1 label; words first); pruneidx_size pairs of int32
//	bool quant; input matrix: int64 rows (nwords+bucket), int64 cols (dim),
//	      rows*cols float32
//	bool qout; output matrix: int64 rows, int64 cols, rows*cols float32
//
// everything little-endian (fastText writes its host's order; every
// platform it ships on is little-endian). Quantized models (.ftz, from
// `fasttext quantize`) are refused with ErrUnsupported: their input
// matrix is product-quantized codes, not vectors.
//
// A Set read here holds, in its ordinary rows, the composed word vectors
// fastText's get_word_vector returns (the mean of a word's own input row
// and the rows of its character n-grams, hashed as internal/subword does),
// and the bucket rows as its Subwords, so that a word outside the
// vocabulary gets the vector fastText gives it. The end-of-sentence token
// "</s>" that fastText puts in every dictionary is kept as a word: it is a
// row of the model (fastText's own .vec export and word2vec.c's files
// carry it too), and keeping it keeps row i of the Set row i of the file;
// as in fastText it has no n-grams, its vector is its own row.
//
// The reader treats its input as untrusted: every count and length is
// bounded by Limits before anything is allocated, matrices grow only as
// their data actually arrives (or are allocated at once when the input is
// a file large enough to hold them), and a malformed file is an error
// wrapping ErrMalformed, never a panic. It knows nothing of HTTP or stores.
package fasttext

import (
	"errors"
	"fmt"
)

// Magic and Version begin every fastText model file
// (FASTTEXT_FILEFORMAT_MAGIC_INT32 and FASTTEXT_VERSION).
const (
	Magic   = 793712314
	Version = 12
)

// EOS is fastText's end-of-sentence token, one per input line.
const EOS = "</s>"

// ModelName is fastText's -model (args.h model_name).
type ModelName int32

const (
	CBOW       ModelName = 1
	SkipGram   ModelName = 2
	Supervised ModelName = 3
)

func (m ModelName) String() string {
	switch m {
	case CBOW:
		return "cbow"
	case SkipGram:
		return "sg"
	case Supervised:
		return "sup"
	}
	return fmt.Sprintf("model(%d)", int32(m))
}

// LossName is fastText's -loss (args.h loss_name).
type LossName int32

const (
	HS      LossName = 1
	NS      LossName = 2
	Softmax LossName = 3
	OVA     LossName = 4
)

func (l LossName) String() string {
	switch l {
	case HS:
		return "hs"
	case NS:
		return "ns"
	case Softmax:
		return "softmax"
	case OVA:
		return "ova"
	}
	return fmt.Sprintf("loss(%d)", int32(l))
}

// Args are the training arguments a .bin file records, with fastText's
// names (args.h).
type Args struct {
	Dim, WS, Epoch, MinCount, Neg, WordNgrams int32
	Loss                                      LossName
	Model                                     ModelName
	Bucket, MinN, MaxN, LRUpdateRate          int32
	T                                         float64 // sampling threshold
}

// DefaultArgs are fastText's skipgram defaults for a set of dimension
// dim (bucket, minn and maxn are the set's, see Write).
func DefaultArgs(dim int) Args {
	return Args{
		Dim: int32(dim), WS: 5, Epoch: 5, MinCount: 5, Neg: 5, WordNgrams: 1,
		Loss: NS, Model: SkipGram, Bucket: 2000000, MinN: 3, MaxN: 6,
		LRUpdateRate: 100, T: 1e-4,
	}
}

// Meta is what a .bin file says besides the vectors.
type Meta struct {
	Args    Args
	Version int32 // of the file read; Write always writes Version
	// NTokens is the number of tokens of the training corpus. Write
	// computes it from Counts (their sum).
	NTokens int64
	// Counts are the corpus counts of the set's words, in its order. Read
	// fills them from the file. Write uses them when they are given (one
	// per word, each >= 1); when nil it synthesises counts (see Write).
	Counts []int64
	// Labels is the number of labels (entries "__label__...") of a
	// supervised model, skipped by Read.
	Labels int
}

// Limits bound what Read accepts; a file beyond them is malformed.
type Limits struct {
	MaxDim     int   // largest dimension
	MaxWords   int   // most dictionary entries (words and labels)
	MaxWordLen int   // longest entry, in bytes
	MaxBucket  int   // most n-gram rows
	MaxN       int   // largest maxn
	MaxValues  int64 // most float32 values of the input matrix, and of the output matrix
}

// DefaultLimits admit the pretrained models fastText publishes (2M words
// and 2M buckets of dimension 300: 1.2e9 values, 4.8 GB of input matrix)
// and bound everything else: dimension 10,000, 20M entries of at most
// 10,000 bytes, 10M buckets, maxn 100, 2^31 values (8 GiB) per matrix.
func DefaultLimits() Limits {
	return Limits{
		MaxDim:     10_000,
		MaxWords:   20_000_000,
		MaxWordLen: 10_000,
		MaxBucket:  10_000_000,
		MaxN:       100,
		MaxValues:  1 << 31,
	}
}

// ErrMalformed is wrapped by every error Read returns about the content of
// its input (as opposed to the reader's own errors).
var ErrMalformed = errors.New("malformed fastText model")

// ErrUnsupported is wrapped by the errors about valid files Read does not
// take: quantized models (.ftz), supervised models without words.
var ErrUnsupported = errors.New("unsupported fastText model")

// ErrInvalid is wrapped by Write's errors about its arguments.
var ErrInvalid = errors.New("invalid fastText model")

// Error reports where Read failed: the section of the file ("header",
// "args", "dictionary", "input matrix", "output matrix") and the byte
// offset at which it started reading the failing field.
type Error struct {
	Section string
	Offset  int64
	Err     error
}

func (e *Error) Error() string {
	return fmt.Sprintf("fasttext: %s at byte %d: %v", e.Section, e.Offset, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// IsModel reports whether p (the first 8 bytes of a file, or more) begins
// as a fastText model does: the magic and a version Read takes.
func IsModel(p []byte) bool {
	if len(p) < 8 {
		return false
	}
	magic := int32(uint32(p[0]) | uint32(p[1])<<8 | uint32(p[2])<<16 | uint32(p[3])<<24)
	v := int32(uint32(p[4]) | uint32(p[5])<<8 | uint32(p[6])<<16 | uint32(p[7])<<24)
	return magic == Magic && v >= 11 && v <= Version
}
