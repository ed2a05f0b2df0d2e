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

// Compare is Align, then the opt.Moved words that moved most, each with
// its opt.Neighbours nearest words in each set.
func Compare(a, b *Set, opt CompareOptions) (*Comparison, error) {
	al, err := Align(a, b, opt)
	if err != nil {
		return nil, err
	}
	return &Comparison{Shared: al.Shared, Aligned: al.Aligned, Scanned: len(al.ranked), Rotation: al.Rotation,
		Moved: al.Moved(a, b, opt.Moved, opt.Neighbours)}, nil
}

// Alignment is set b aligned onto set a, with the distances of the
// shared words measured: what Compare computes once for a pair, to keep
// and answer more questions (Moved). It holds rows, not the sets (about
// 12 bytes per scanned word and 8*Dim^2 for the rotation).
type Alignment struct {
	Shared   int       // words in both sets
	Aligned  int       // words the alignment used
	Rotation []float64 // b's alignment onto a (row-major Dim x Dim)
	ranked   []moved   // the scanned words, the largest distance first
}

// moved is a shared word's rows and distance.
type moved struct {
	ia, ib int
	d      float32
}

// Align aligns b onto a by orthogonal Procrustes over the unit vectors of
// the shared words among the opt.Align most frequent of both, then
// measures, for the first opt.Scan shared words (in a's order), the
// cosine distance between a's unit vector and b's aligned one, and ranks
// them, the largest first (ties to the more frequent in a). Sets of
// different dimensions are an error wrapping ErrInvalid. A set aligned
// with itself has every distance 0 (to rounding).
func Align(a, b *Set, opt CompareOptions) (*Alignment, error) {
	defer runtime.KeepAlive(a)
	defer runtime.KeepAlive(b)
	if a.dim != b.dim {
		return nil, fmt.Errorf("%w: the sets have dimensions %d and %d; aligning them needs equal dimensions", ErrInvalid, a.dim, b.dim)
	}
	d := a.dim
	out := &Alignment{}
	var scan, align []moved
	for ia, w := range a.words {
		ib, ok := b.index[w]
		if !ok {
			continue
		}
		out.Shared++
		if len(scan) < opt.Scan {
			scan = append(scan, moved{ia: ia, ib: ib})
		}
		if ia < opt.Align && ib < opt.Align {
			align = append(align, moved{ia: ia, ib: ib})
		}
	}
	out.Aligned = len(align)
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
	turned := make([]float32, d)
	ua, ub := make([]float32, d), make([]float32, d)
	for k, p := range scan {
		copy(ua, a.Row(p.ia))
		vecmath.Scale(a.invNorm[p.ia], ua)
		copy(ub, b.Row(p.ib))
		vecmath.Scale(b.invNorm[p.ib], ub)
		vecmath.DotRows(ub, rt, turned)
		c := float64(vecmath.Dot(ua, turned))
		if n := math.Sqrt(float64(vecmath.Dot(turned, turned))); n > 0 {
			c /= n
		}
		scan[k].d = float32(max(0, 1-c))
	}
	slices.SortStableFunc(scan, func(x, y moved) int { return cmp.Compare(y.d, x.d) })
	out.ranked = scan
	return out, nil
}

// Moved returns the n words that moved most, the largest distance first,
// each with its k nearest words in each set; a and b are the sets al
// aligned (or equal ones: it panics on others' rows out of range).
func (al *Alignment) Moved(a, b *Set, n, k int) []MovedWord {
	defer runtime.KeepAlive(a)
	defer runtime.KeepAlive(b)
	out := make([]MovedWord, 0, min(max(n, 0), len(al.ranked)))
	for _, x := range al.ranked[:min(max(n, 0), len(al.ranked))] {
		mw := MovedWord{Word: a.words[x.ia], Distance: x.d, A: []string{}, B: []string{}}
		for _, nb := range a.search(a.UnitRow(x.ia), k, 0, []int{x.ia}) {
			mw.A = append(mw.A, nb.Word)
		}
		for _, nb := range b.search(b.UnitRow(x.ib), k, 0, []int{x.ib}) {
			mw.B = append(mw.B, nb.Word)
		}
		out = append(out, mw)
	}
	return out
}

// unit64 writes the unit vector of row i of s to dst as float64.
func unit64(s *Set, i int, dst []float64) {
	inv := float64(s.invNorm[i])
	for j, v := range s.Row(i) {
		dst[j] = float64(v) * inv
	}
}
