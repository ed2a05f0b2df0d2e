//go:build amd64 && !purego

package vecmath

import "golang.org/x/sys/cpu"

var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

var (
	dot  = DotGeneric
	axpy = AxpyGeneric
)

func init() {
	if hasAVX2FMA {
		dot = dotAVX2
		axpy = axpyAVX2
	}
}

// Accelerated reports whether assembly kernels are in use.
func Accelerated() bool { return hasAVX2FMA }

// dotAVX2 is Dot with 8-wide FMA and four accumulators. Reference:
//
//	var s float32
//	for i := range x { s += x[i] * y[i] }
//	return s
//
//go:noescape
func dotAVX2(x, y []float32) float32

// axpyAVX2 is Axpy with 8-wide FMA. Reference:
//
//	for i := range x { y[i] += a * x[i] }
//
//go:noescape
func axpyAVX2(a float32, x, y []float32)
