package vectors

import (
	"fmt"
	"runtime"
	"slices"

	"github.com/ophicleide/ophicleide/internal/vecmath"
)

// cosMulEpsilon keeps 3CosMul's division finite, gensim's 0.000001.
const cosMulEpsilon = 1e-6

// AnalogyCosMul answers "positive[0] - negative[0] + positive[1] ..." by
// 3CosMul (Levy and Goldberg, "Linguistic Regularities in Sparse and
// Explicit Word Representations", 2014, equation 4), exactly as gensim's
// most_similar_cosmul(positive, negative, topn=n, restrict_vocab=restrict):
// each candidate row r scores
//
//	prod_p (1+cos(r,p))/2 / (prod_q (1+cos(r,q))/2 + 1e-6)
//
// over the positive words p and the negative words q (cosines shifted to
// 0..1, the paper's footnote 7), the input words excluded, best first,
// ties to the lower row. The scores are these ratios, not cosines (a word
// close to every positive word and far from every negative one scores
// above 1). Candidates are the first restrict rows (<= 0 or > Len: all).
//
// It returns an error wrapping ErrInvalid without a positive word (as
// gensim), and an *UnknownWordError naming the first unknown word
// (positive before negative). Cost: one Dot per row and input word.
func (s *Set) AnalogyCosMul(positive, negative []string, n, restrict int) ([]Neighbor, error) {
	defer runtime.KeepAlive(s)
	if len(positive) == 0 {
		return nil, fmt.Errorf("%w: a 3CosMul analogy needs at least one positive word", ErrInvalid)
	}
	exclude := make([]int, 0, len(positive)+len(negative))
	units := func(words []string) ([][]float32, error) {
		out := make([][]float32, len(words))
		for k, w := range words {
			i, ok := s.index[w]
			if !ok {
				u, err := s.oovUnit(w) // a subword set's unseen word
				if err != nil {
					return nil, err
				}
				out[k] = u
				continue
			}
			out[k] = s.UnitRow(i)
			exclude = append(exclude, i)
		}
		return out, nil
	}
	pos, err := units(positive)
	if err != nil {
		return nil, err
	}
	neg, err := units(negative)
	if err != nil {
		return nil, err
	}
	rows := len(s.words)
	if restrict > 0 && restrict < rows {
		rows = restrict
	}
	if n <= 0 || rows == 0 {
		return nil, nil
	}
	k := min(n+len(exclude), rows)
	h := make([]hit, 0, k)
	var num, den, sc [scanBlock]float32
	for lo := 0; lo < rows; lo += scanBlock {
		nb := min(scanBlock, rows-lo)
		block := s.vecs[lo*s.dim : (lo+nb)*s.dim]
		inv := s.invNorm[lo : lo+nb]
		for j := range nb {
			num[j], den[j] = 1, 1
		}
		for _, u := range pos {
			vecmath.DotRows(u, block, sc[:nb])
			for j := range nb {
				num[j] *= (1 + sc[j]*inv[j]) / 2
			}
		}
		for _, u := range neg {
			vecmath.DotRows(u, block, sc[:nb])
			for j := range nb {
				den[j] *= (1 + sc[j]*inv[j]) / 2
			}
		}
		for j := range nb {
			h = offer(h, k, hit{num[j] / (den[j] + cosMulEpsilon), lo + j})
		}
	}
	return s.neighbors(sortHits(h), n, exclude), nil
}

// neighbors returns the first n of hits (best first) whose rows are not
// in exclude, as Neighbors.
func (s *Set) neighbors(hits []hit, n int, exclude []int) []Neighbor {
	out := make([]Neighbor, 0, min(n, len(hits)))
	for _, h := range hits {
		if len(out) == n {
			break
		}
		if slices.Contains(exclude, h.row) {
			continue
		}
		out = append(out, Neighbor{Word: s.words[h.row], Score: h.score})
	}
	return out
}
