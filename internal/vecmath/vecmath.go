// Package vecmath holds the float32 vector kernels the trainer and the
// nearest-neighbour search spend their time in: dot products and axpy
// updates on short dense vectors (dimension ~50-300).
//
// Every kernel has a pure-Go reference (the *Generic functions) and, on
// amd64 machines with AVX2 and FMA, an assembly version selected at start.
// Callers guarantee equal lengths; the kernels panic on mismatched lengths
// (a programmer error, never an input error).
package vecmath

// Dot returns sum(x[i]*y[i]). len(x) must equal len(y).
func Dot(x, y []float32) float32 {
	if len(x) != len(y) {
		panic("vecmath: Dot length mismatch")
	}
	return dot(x, y)
}

// Axpy sets y[i] += a*x[i]. len(x) must equal len(y).
func Axpy(a float32, x, y []float32) {
	if len(x) != len(y) {
		panic("vecmath: Axpy length mismatch")
	}
	axpy(a, x, y)
}

// Scale sets x[i] *= a.
func Scale(a float32, x []float32) {
	for i := range x {
		x[i] *= a
	}
}

// DotGeneric is the reference implementation of Dot.
func DotGeneric(x, y []float32) float32 {
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// AxpyGeneric is the reference implementation of Axpy.
func AxpyGeneric(a float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += a * v
	}
}

// DotRows sets out[i] to the dot product of q with row i of the row-major
// matrix m (rows of len(q) values): out[i] = Dot(q, m[i*len(q):(i+1)*len(q)]).
// len(m) must be len(out)*len(q). It is several times faster than calling
// Dot per row: four rows share each load of q, with independent
// accumulators. A row's result does not depend on where it sits in m, but
// may differ from Dot's in the last bits (another summation order).
func DotRows(q, m, out []float32) {
	d := len(q)
	if len(m) != len(out)*d {
		panic("vecmath: DotRows matrix size mismatch")
	}
	dotRows(q, m, out)
}

// dotRowsGeneric is the reference implementation of DotRows.
func dotRowsGeneric(q, m, out []float32) {
	d := len(q)
	for i := range out {
		out[i] = dot(q, m[i*d:i*d+d])
	}
}

// Prefetch asks the CPU to bring x into cache ahead of use (a hint; it
// reads nothing the caller can observe and never faults).
func Prefetch(x []float32) { prefetch(x) }
