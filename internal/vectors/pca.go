package vectors

import (
	"errors"
	"math"
	"runtime"

	"gonum.org/v1/gonum/mat"
)

// PCA2 projects the unit vectors of the first rows rows (the most frequent
// words; rows is capped at Len) onto their first two principal components:
// the rows are centred on their mean and the components are the
// eigenvectors of the largest two eigenvalues of their covariance
// (gonum's EigenSym). points holds x and y of each row in turn
// (len 2*rows); explained is the fraction of the variance each component
// carries. Each component's sign is fixed so that its largest loading (in
// absolute value) is positive, so the same set always gives the same
// picture. A set of dimension 1 has y = 0; one row is at the origin.
// Cost: O(rows*Dim^2 + Dim^3).
func (s *Set) PCA2(rows int) (points []float32, explained [2]float64, err error) {
	defer runtime.KeepAlive(s)
	rows = min(rows, len(s.words))
	points = make([]float32, 2*rows)
	if rows == 0 {
		return points, explained, nil
	}
	d := s.dim
	x := mat.NewDense(rows, d, nil)
	mean := make([]float64, d)
	for i := range rows {
		inv := float64(s.invNorm[i])
		r := x.RawRowView(i)
		for j, v := range s.Row(i) {
			r[j] = float64(v) * inv
			mean[j] += r[j]
		}
	}
	for j := range mean {
		mean[j] /= float64(rows)
	}
	for i := range rows {
		r := x.RawRowView(i)
		for j := range r {
			r[j] -= mean[j]
		}
	}
	var cov mat.SymDense
	cov.SymOuterK(1, x.T()) // X^T X: d x d
	var eig mat.EigenSym
	if !eig.Factorize(&cov, true) {
		return nil, explained, errors.New("vectors: PCA: the eigendecomposition did not converge")
	}
	values := eig.Values(nil) // ascending
	var vecs mat.Dense
	eig.VectorsTo(&vecs)
	total := 0.0
	for _, v := range values {
		total += max(v, 0)
	}
	comps := min(2, d)
	for c := range comps {
		col := d - 1 - c
		comp := mat.Col(nil, col, &vecs)
		big := 0
		for j, v := range comp {
			if math.Abs(v) > math.Abs(comp[big]) {
				big = j
			}
		}
		if comp[big] < 0 {
			for j := range comp {
				comp[j] = -comp[j]
			}
		}
		if total > 0 {
			explained[c] = max(values[col], 0) / total
		}
		for i := range rows {
			points[2*i+c] = float32(mat.Dot(mat.NewVecDense(d, x.RawRowView(i)), mat.NewVecDense(d, comp)))
		}
	}
	return points, explained, nil
}
