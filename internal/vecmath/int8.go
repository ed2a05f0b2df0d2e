package vecmath

import "fmt"

// Int8Block is the number of values DotRowsInt8 handles per step: the
// length of q (and of every row) must be a multiple of it.
const Int8Block = 16

// DotRowsInt8 sets out[i] to the integer dot product of q with row i of
// the row-major int8 matrix m (rows of len(q) values), times scale[i]:
//
//	out[i] = float32(sum(int32(q[j]) * int32(m[i*len(q)+j]))) * scale[i]
//
// It is the first, approximate pass of a quantized nearest-neighbour
// search: an int8 matrix is a quarter of the float32 one, so a scan reads
// a quarter of the memory. len(q) must be a positive multiple of
// Int8Block, len(m) must be len(out)*len(q) and len(scale) len(out); it
// panics otherwise (a programmer error). The sums are exact as long as they fit in int32,
// which the caller guarantees by keeping |q[j]| <= (2^31-1)/(128*len(q)).
func DotRowsInt8(q []int16, m []int8, scale, out []float32) {
	if len(q) == 0 || len(q)%Int8Block != 0 || len(m) != len(out)*len(q) || len(scale) != len(out) {
		panic(fmt.Sprintf("vecmath: DotRowsInt8 with %d query values, %d matrix values, %d scales, %d rows", len(q), len(m), len(scale), len(out)))
	}
	dotRowsInt8(q, m, scale, out)
}

// dotRowsInt8Generic is the reference implementation of DotRowsInt8.
func dotRowsInt8Generic(q []int16, m []int8, scale, out []float32) {
	d := len(q)
	for i := range out {
		row := m[i*d : (i+1)*d]
		var s int32
		for j, v := range row {
			s += int32(q[j]) * int32(v)
		}
		out[i] = float32(s) * scale[i]
	}
}
