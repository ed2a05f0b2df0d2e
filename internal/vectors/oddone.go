package vectors

import (
	"fmt"
	"math"
	"runtime"
)

// OddOneOut finds the word of words that does not match the others
// (gensim's doesnt_match): each word scores the cosine of its unit vector
// with the mean of the other words' unit vectors, and the odd one is the
// lowest (ties: the first listed). scores are in the order of words.
// Unlike gensim, which compares each word with the mean of all of them
// (itself included), a word is compared with the others only, so one word
// cannot pull the mean towards itself.
//
// words must be at least 3 distinct words of the set: fewer, or a repeated
// word, is an error wrapping ErrInvalid; an unknown word is an
// *UnknownWordError. Cost: O(len(words)*Dim).
func (s *Set) OddOneOut(words []string) (odd int, scores []float32, err error) {
	defer runtime.KeepAlive(s)
	if len(words) < 3 {
		return 0, nil, fmt.Errorf("%w: the odd one out needs at least 3 words, got %d", ErrInvalid, len(words))
	}
	// Each word's unit vector in float64: a row scaled by its inverse
	// norm, or, outside the vocabulary of a set with subwords, its
	// n-grams' unit vector.
	units := make([][]float64, len(words))
	seen := make(map[string]bool, len(words))
	for k, w := range words {
		i, ok := s.index[w]
		u := make([]float64, s.dim)
		if ok {
			inv := float64(s.invNorm[i])
			for j, v := range s.Row(i) {
				u[j] = float64(v) * inv
			}
		} else {
			o, err := s.oovUnit(w)
			if err != nil {
				return 0, nil, err
			}
			for j, v := range o {
				u[j] = float64(v)
			}
		}
		if seen[w] {
			return 0, nil, fmt.Errorf("%w: the word %q is listed twice", ErrInvalid, w)
		}
		seen[w] = true
		units[k] = u
	}
	// float64 sums: the mean of the others is the sum less the word.
	sum := make([]float64, s.dim)
	for _, u := range units {
		for j, v := range u {
			sum[j] += v
		}
	}
	scores = make([]float32, len(words))
	for k, u := range units {
		var dot, norm2 float64
		for j, v := range u {
			o := sum[j] - v
			dot += v * o
			norm2 += o * o
		}
		if norm2 > 0 {
			scores[k] = float32(dot / math.Sqrt(norm2))
		}
		if scores[k] < scores[odd] {
			odd = k
		}
	}
	return odd, scores, nil
}
