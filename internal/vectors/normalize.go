package vectors

import (
	"math"

	"github.com/ophicleide/ophicleide/internal/vecmath"
)

// normalize returns a copy of vecs with each row of length dim scaled to
// unit Euclidean length; all-zero rows stay zero.
func normalize(vecs []float32, dim int) []float32 {
	out := make([]float32, len(vecs))
	copy(out, vecs)
	for off := 0; off < len(out); off += dim {
		row := out[off : off+dim]
		n := math.Sqrt(float64(vecmath.Dot(row, row)))
		if n > 0 {
			vecmath.Scale(float32(1/n), row)
		}
	}
	return out
}

// inverseNorms returns 1/|row| for every row of length dim (0 for a zero
// row), in float32 as the scores that use it.
func inverseNorms(vecs []float32, dim int) []float32 {
	out := make([]float32, len(vecs)/dim)
	for i := range out {
		row := vecs[i*dim : (i+1)*dim]
		if n := math.Sqrt(float64(vecmath.Dot(row, row))); n > 0 {
			out[i] = float32(1 / n)
		}
	}
	return out
}
