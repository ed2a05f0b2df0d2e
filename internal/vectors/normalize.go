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
