package vectors

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"

	"gonum.org/v1/gonum/mat"

	"github.com/ophicleide/ophicleide/internal/vecmath"
)

// Procrustes solves the orthogonal Procrustes problem: the orthogonal
// d x d matrix R that minimises |B R - A| (Frobenius) for the n x d
// row-major matrices a and b (row i of each is one word), R = U V^T from
// the singular value decomposition U S V^T of B^T A (Schönemann 1966). R
// is returned row-major. With n = 0 it is the identity. It panics if the
// lengths are not n*d (a programmer error).
func Procrustes(a, b []float64, n, d int) ([]float64, error) {
	if len(a) != n*d || len(b) != n*d || d <= 0 {
		panic(fmt.Sprintf("vectors: Procrustes of %d and %d values, want %d x %d", len(a), len(b), n, d))
	}
	r := mat.NewDense(d, d, nil)
	if n == 0 {
		for i := range d {
			r.Set(i, i, 1)
		}
		return r.RawMatrix().Data, nil
	}
	am, bm := mat.NewDense(n, d, a), mat.NewDense(n, d, b)
	var m mat.Dense
	m.Mul(bm.T(), am)
	var svd mat.SVD
	if !svd.Factorize(&m, mat.SVDFull) {
		return nil, errors.New("vectors: Procrustes: the singular value decomposition did not converge")
	}
	var u, v mat.Dense
	svd.UTo(&u)
	svd.VTo(&v)
	r.Mul(&u, v.T())
	return r.RawMatrix().Data, nil
}

// CompareOptions bound a Compare.
type CompareOptions struct {
	// Align: the words used to align b onto a are those among the Align
	// most frequent of both sets.
	Align int
	// Scan: the distances are measured for the first Scan shared words,
	// in a's frequency order.
	Scan int
	// Moved: how many words of the largest distances to return, each
	// with its Neighbours nearest words in each set.
	Moved, Neighbours int
}

// Comparison is what Compare measured.
type Comparison struct {
	Shared  int // words in both sets
	Aligned int // words the alignment used
	Scanned int // words whose distance was measured
	Moved   []MovedWord
	// Rotation is b's alignment onto a (row-major Dim x Dim).
	Rotation []float64
}

// MovedWord is a word whose aligned vectors differ most between two sets.
type MovedWord struct {
	Word string
	// Distance is 1 - cos(a's vector, b's aligned vector), 0 to 2.
	Distance float32
	A, B     []string // its nearest words in each set, best first
}

// Compare aligns b onto a by orthogonal Procrustes over the unit vectors
// of the shared words among the opt.Align most frequent of both, then
// measures, for the first opt.Scan shared words (in a's order), the
// cosine distance between a's unit vector and b's aligned one, and
// returns the opt.Moved largest (ties to the more frequent in a). Sets of
// different dimensions are an error wrapping ErrInvalid. Comparing a set
// with itself finds every distance 0 (to rounding).
func Compare(a, b *Set, opt CompareOptions) (*Comparison, error) {
	defer runtime.KeepAlive(a)
	defer runtime.KeepAlive(b)
	if a.dim != b.dim {
		return nil, fmt.Errorf("%w: the sets have dimensions %d and %d; aligning them needs equal dimensions", ErrInvalid, a.dim, b.dim)
	}
	d := a.dim
	type pair struct{ ia, ib int }
	var shared, align []pair
	for ia, w := range a.words {
		ib, ok := b.index[w]
		if !ok {
			continue
		}
		if len(shared) < opt.Scan {
			shared = append(shared, pair{ia, ib})
		}
		if ia < opt.Align && ib < opt.Align {
			align = append(align, pair{ia, ib})
		}
	}
	out := &Comparison{Aligned: len(align), Scanned: len(shared)}
	for _, w := range a.words {
		if _, ok := b.index[w]; ok {
			out.Shared++
		}
	}
	am := make([]float64, len(align)*d)
	bm := make([]float64, len(align)*d)
	for k, p := range align {
		unit64(a, p.ia, am[k*d:(k+1)*d])
		unit64(b, p.ib, bm[k*d:(k+1)*d])
	}
	rot, err := Procrustes(am, bm, len(align), d)
	if err != nil {
		return nil, err
	}
	out.Rotation = rot
	// b's aligned row is bu R: its j-th value is bu · (column j of R),
	// one DotRows against R^T.
	rt := make([]float32, d*d)
	for i := range d {
		for j := range d {
			rt[j*d+i] = float32(rot[i*d+j])
		}
	}
	type dist struct {
		p pair
		d float32
	}
	dists := make([]dist, len(shared))
	turned := make([]float32, d)
	for k, p := range shared {
		ua, ub := a.UnitRow(p.ia), b.UnitRow(p.ib)
		vecmath.DotRows(ub, rt, turned)
		c := float64(vecmath.Dot(ua, turned))
		if n := math.Sqrt(float64(vecmath.Dot(turned, turned))); n > 0 {
			c /= n
		}
		dists[k] = dist{p, float32(max(0, 1-c))}
	}
	slices.SortStableFunc(dists, func(x, y dist) int { return cmp.Compare(y.d, x.d) })
	for _, x := range dists[:min(opt.Moved, len(dists))] {
		w := a.words[x.p.ia]
		mw := MovedWord{Word: w, Distance: x.d, A: []string{}, B: []string{}}
		for _, n := range a.search(a.UnitRow(x.p.ia), opt.Neighbours, 0, []int{x.p.ia}) {
			mw.A = append(mw.A, n.Word)
		}
		for _, n := range b.search(b.UnitRow(x.p.ib), opt.Neighbours, 0, []int{x.p.ib}) {
			mw.B = append(mw.B, n.Word)
		}
		out.Moved = append(out.Moved, mw)
	}
	return out, nil
}

// unit64 writes the unit vector of row i of s to dst as float64.
func unit64(s *Set, i int, dst []float64) {
	inv := float64(s.invNorm[i])
	for j, v := range s.Row(i) {
		dst[j] = float64(v) * inv
	}
}
