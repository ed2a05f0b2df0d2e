package vectors

import (
	"fmt"
	"math"
	"runtime"

	"github.com/ophicleide/ophicleide/internal/subword"
	"github.com/ophicleide/ophicleide/internal/vecmath"
)

// Subwords are the character n-gram vectors of a model trained with
// subwords (internal/subword; Bojanowski et al., 2017): Config.Bucket
// rows of the set's dimension. The set's own rows are then the composed
// word vectors (the mean of a word's input row and its n-grams' rows, as
// fastText's get_word_vector computes them), so that searches over known
// words cost what they cost without subwords; a word outside the
// vocabulary gets the mean of its n-grams' rows.
type Subwords struct {
	Config subword.Config
	Rows   []float32 // Config.Bucket x dim, row-major
}

// SetSubwords attaches sw to s (nil detaches).
func (s *Set) SetSubwords(sw *Subwords) error {
	if sw != nil {
		if !sw.Config.Enabled() || sw.Config.MinN < 1 || sw.Config.MinN > sw.Config.MaxN {
			return fmt.Errorf("vectors: subword settings minn %d, maxn %d, bucket %d", sw.Config.MinN, sw.Config.MaxN, sw.Config.Bucket)
		}
		if len(sw.Rows) != sw.Config.Bucket*s.dim {
			return fmt.Errorf("vectors: %d subword values for %d rows of dimension %d", len(sw.Rows), sw.Config.Bucket, s.dim)
		}
	}
	s.subwords = sw
	return nil
}

// Subwords are s's n-gram vectors, nil for a model without.
func (s *Set) Subwords() *Subwords { return s.subwords }

// WordVector is word's vector: its row when it is in the vocabulary
// (oov false), else, for a set with subwords, the mean of its n-grams'
// rows (oov true; a new slice). An *UnknownWordError when it has
// neither (no subwords, or no n-gram: a word shorter than minn-2
// characters).
func (s *Set) WordVector(word string) (vec []float32, oov bool, err error) {
	if i, ok := s.Index(word); ok {
		return s.Row(i), false, nil
	}
	sw := s.subwords
	if sw == nil {
		return nil, false, &UnknownWordError{Word: word}
	}
	rows, _ := sw.Config.Rows(nil, []byte(word), nil)
	if len(rows) == 0 {
		return nil, false, &UnknownWordError{Word: word}
	}
	vec = make([]float32, s.dim)
	for _, r := range rows {
		row := sw.Rows[int(r)*s.dim : (int(r)+1)*s.dim]
		for k, v := range row {
			vec[k] += v
		}
	}
	inv := 1 / float32(len(rows))
	for k := range vec {
		vec[k] *= inv
	}
	runtime.KeepAlive(s) // the rows may be a mapping (see Set)
	if hasNonFinite(vec) {
		// A mapped file's rows are not checked when loaded (reading
		// every page); a corrupt one shows here.
		return nil, true, fmt.Errorf("%w: the n-gram vector of %q is not finite", ErrMalformed, word)
	}
	return vec, true, nil
}

// oovUnit is the unit vector of word, which is not in the vocabulary:
// its n-grams' mean scaled to unit length (zero stays zero), or an
// *UnknownWordError for a set without subwords or a word without
// n-grams. Searches call it only once the word is not found, so known
// words cost what they cost before.
func (s *Set) oovUnit(word string) ([]float32, error) {
	v, _, err := s.WordVector(word)
	if err != nil {
		return nil, err
	}
	if norm := math.Sqrt(float64(vecmath.Dot(v, v))); norm > 0 {
		vecmath.Scale(float32(1/norm), v)
	}
	return v, nil
}

// IsOOV reports whether word is answered from its n-grams: s has
// subwords and word is not in its vocabulary (always false for a set
// without subwords).
func (s *Set) IsOOV(word string) bool {
	if s.subwords == nil {
		return false
	}
	_, ok := s.index[word]
	return !ok
}

// SubwordBytes is the memory of s's n-gram rows (0 without subwords),
// for caches that bound what they hold (a mapping when Load mapped the
// file, else the heap).
func (s *Set) SubwordBytes() int64 {
	if s.subwords == nil {
		return 0
	}
	return 4 * int64(len(s.subwords.Rows))
}
