// Package vectors owns a trained set of word vectors: the words (in
// descending corpus frequency, as word2vec.c and gensim write them), their
// float32 vectors in one flat row-major matrix, the inverse norm of each
// row for cosine search, exact nearest-neighbour queries (nearest words, analogies,
// similarity) and the word2vec text and binary file formats.
//
// Search scans every row with vecmath.Dot, keeping the best n in a bounded
// heap; large sets first scan int8 images of their rows and score exactly
// only the rows that can still make the top n (quant.go). Its results are
// exact and deterministic (ties go to the lower row) and rank as gensim's
// most_similar does. The readers (ReadText, ReadBinary, Read) accept what
// word2vec.c and gensim write, treat their input as untrusted (errors, not
// panics; memory bounded by MaxDim, MaxWordLen, MaxValues and by the data
// actually present) and report the line or row of a malformed file in a
// *ParseError. StreamCompact converts a word2vec file to the Compact
// format stores keep with the same parsing, row by row, never holding the
// matrix (imports of any size).
//
// It knows nothing of HTTP, jobs or stores.
package vectors

import (
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ophicleide/ophicleide/internal/vecmath"
)

// Set is an immutable set of word vectors. Build one with New; the zero
// value is not usable. A Set is safe for concurrent reads.
//
// The matrix of a set from Load may be a file mapped into memory, released
// when the set becomes unreachable: every method that reads it keeps the
// set alive until it returns (runtime.KeepAlive), and only Row hands out
// a view of it.
type Set struct {
	words []string
	dim   int
	vecs  []float32 // len(words)*dim, row-major, as trained
	// invNorm[i] is 1/|row i| (0 for a zero row): cosine scores are raw
	// dot products scaled by it, as gensim does with its norms, so a set
	// holds one matrix, not a normalised copy too.
	invNorm []float32
	index   map[string]int
	// subwords: the n-gram vectors of a model trained with them (subwords.go)
	subwords *Subwords

	// int8 images of the unit rows for search, built in the background
	// after the first search of a large set (quant.go)
	mapped bool // vecs is a file mapping (Load)

	quantOnce    sync.Once
	quantStarted atomic.Bool
	quant        atomic.Pointer[quantIndex]
	approx       atomic.Pointer[approxBox] // an approximate index (approx.go)
}

// Neighbor is one result of a similarity search.
type Neighbor struct {
	Word  string
	Score float32 // cosine similarity
}

// UnknownWordError reports a word that is not in the vocabulary.
type UnknownWordError struct {
	Word string
}

func (e *UnknownWordError) Error() string {
	return fmt.Sprintf("word %q is not in the vocabulary", e.Word)
}

// ErrInvalid is wrapped by errors about malformed arguments (bad
// dimension, duplicate words, empty lists).
var ErrInvalid = errors.New("invalid vector set")

// New builds a Set. It takes ownership of words and vecs; len(vecs) must be
// len(words)*dim, dim > 0 and words unique and non-empty strings without
// (ASCII) white space, or New returns an error wrapping ErrInvalid. Words
// should be in descending frequency order (the file formats and the
// evaluators rely on it).
func New(words []string, dim int, vecs []float32) (*Set, error) {
	return newWithNorms(words, dim, vecs, nil)
}

// newWithNorms is New with the inverse norms already computed, or nil to
// compute them.
func newWithNorms(words []string, dim int, vecs, invNorm []float32) (*Set, error) {
	if dim <= 0 {
		return nil, fmt.Errorf("%w: dimension %d", ErrInvalid, dim)
	}
	if len(vecs) != len(words)*dim {
		return nil, fmt.Errorf("%w: %d values for %d words of dimension %d", ErrInvalid, len(vecs), len(words), dim)
	}
	index := make(map[string]int, len(words))
	for i, w := range words {
		if w == "" {
			return nil, fmt.Errorf("%w: empty word at row %d", ErrInvalid, i)
		}
		if hasSpace(w) {
			return nil, fmt.Errorf("%w: word %q at row %d contains white space", ErrInvalid, w, i)
		}
		if _, dup := index[w]; dup {
			return nil, fmt.Errorf("%w: duplicate word %q at row %d", ErrInvalid, w, i)
		}
		index[w] = i
	}
	if invNorm == nil {
		invNorm = inverseNorms(vecs, dim)
	}
	return &Set{words: words, dim: dim, vecs: vecs, index: index, invNorm: invNorm}, nil
}

// Len is the number of words.
func (s *Set) Len() int { return len(s.words) }

// Dim is the vector dimension.
func (s *Set) Dim() int { return s.dim }

// Words returns the vocabulary in row order. The caller must not modify it.
func (s *Set) Words() []string { return s.words }

// Word returns the word at row i.
func (s *Set) Word(i int) string { return s.words[i] }

// Index returns the row of word.
func (s *Set) Index(word string) (int, bool) {
	i, ok := s.index[word]
	return i, ok
}

// Row returns the raw (as trained) vector at row i: a view into the set,
// which the caller must not modify and must keep reachable while using it
// (see Set; Vector returns a copy).
func (s *Set) Row(i int) []float32 { return s.vecs[i*s.dim : (i+1)*s.dim] }

// UnitRow returns a new unit-length copy of the vector at row i (zero
// rows stay zero). The caller owns it.
func (s *Set) UnitRow(i int) []float32 {
	defer runtime.KeepAlive(s)
	u := make([]float32, s.dim)
	copy(u, s.Row(i))
	vecmath.Scale(s.invNorm[i], u)
	return u
}

// UnitMatrix returns a new row-major copy of the first rows rows, each
// scaled to unit length, for batch work such as evaluation. rows is capped
// at Len.
func (s *Set) UnitMatrix(rows int) []float32 {
	defer runtime.KeepAlive(s)
	rows = min(rows, len(s.words))
	return normalize(s.vecs[:rows*s.dim], s.dim)
}

// Vector returns a copy of the raw vector of word, or an
// *UnknownWordError.
func (s *Set) Vector(word string) ([]float32, error) {
	defer runtime.KeepAlive(s)
	i, ok := s.index[word]
	if !ok {
		v, _, err := s.WordVector(word) // a subword set's unseen word
		return v, err
	}
	return slices.Clone(s.Row(i)), nil
}
