//go:build amd64 && !purego

package vecmath

import "golang.org/x/sys/cpu"

var hasAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

var (
	dot         = DotGeneric
	axpy        = AxpyGeneric
	dotRows     = dotRowsGeneric
	dotRowsInt8 = dotRowsInt8Generic
	prefetch    = func([]float32) {}
	dotGather   = dotGatherGeneric
	axpyGather  = axpyGatherGeneric
	axpyScatter = axpyScatterGeneric
)

func init() {
	if hasAVX2FMA {
		dot = dotAVX2
		axpy = axpyAVX2
		dotRows = dotRowsAVX2
		dotRowsInt8 = dotRowsInt8AVX2
		prefetch = prefetchAVX2
		dotGather = dotGatherAVX2
		axpyGather = axpyGatherAVX2
		axpyScatter = axpyScatterAVX2
	}
}

// tailMasks[8-t:16-t] selects the first t of 8 lanes for VMASKMOVPS.
var tailMasks = [16]int32{-1, -1, -1, -1, -1, -1, -1, -1}

// tailMask selects the d%8 values of the last partial block of 8 of a
// row of d values.
func tailMask(d int) []int32 {
	t := d & 7
	return tailMasks[8-t : 16-t]
}

// dotRowsAVX2 runs the four-row kernel over whole groups of four rows, and
// over each remaining row with a zero stride (the row four times), so that
// every row's result has the same bits wherever it sits in m.
func dotRowsAVX2(q, m, out []float32) {
	d := len(q)
	if d == 0 {
		clear(out)
		return
	}
	mask := tailMask(d)
	n4 := len(out) &^ 3
	if n4 > 0 {
		dotRows4AVX2(q, m[:n4*d], d*4, out[:n4], mask)
	}
	var one [4]float32
	for i := n4; i < len(out); i++ {
		dotRows4AVX2(q, m[i*d:i*d+d], 0, one[:], mask)
		out[i] = one[0]
	}
}

// dotRows4AVX2 computes out[i] = q·m[i*stride/4 : i*stride/4+d] for
// len(out) rows, a multiple of four, four rows at a time (stride in bytes;
// 0 repeats row 0). mask selects the d%8 values of the last partial block
// of 8, loaded with VMASKMOVPS so nothing past a row is read. Reference:
// dotRowsGeneric.
//
//go:noescape
func dotRows4AVX2(q, m []float32, stride int, out []float32, mask []int32)

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

// prefetchAVX2 issues PREFETCHT0 for every cache line of x.
//
//go:noescape
func prefetchAVX2(x []float32)

// dotRowsInt8AVX2 runs the four-row integer kernel over whole groups of
// four rows and the reference over the rest.
func dotRowsInt8AVX2(q []int16, m []int8, scale, out []float32) {
	d := len(q)
	n4 := len(out) &^ 3
	if n4 > 0 {
		dotRowsInt8x4AVX2(q, m[:n4*d], scale[:n4], out[:n4])
	}
	if n4 < len(out) {
		dotRowsInt8Generic(q, m[n4*d:], scale[n4:], out[n4:])
	}
}

// dotRowsInt8x4AVX2 is DotRowsInt8 for a multiple of four rows and len(q)
// a multiple of 16: per 16 values, VPMOVSXBW widens a row's int8 to int16,
// VPMADDWD multiplies by q and adds pairs into int32, VPADDD accumulates;
// four rows share each load of q; VCVTDQ2PS and VMULPS apply the scales
// (rounding as Go's float32 conversion and product do). Reference:
// dotRowsInt8Generic.
//
//go:noescape
func dotRowsInt8x4AVX2(q []int16, m []int8, scale, out []float32)

// dotGatherAVX2 runs the four-row kernel over whole groups of four
// indices, and over the last one to three with the last index repeated
// (its extra results dropped), so that a row's result has the same bits
// wherever it sits in idx.
func dotGatherAVX2(q, m []float32, idx []int32, out []float32) {
	d := len(q)
	if d == 0 {
		clear(out)
		return
	}
	mask := tailMask(d)
	n4 := len(idx) &^ 3
	if n4 > 0 {
		dotGather4AVX2(q, m, idx[:n4], out[:n4], mask)
	}
	if r := len(idx) - n4; r > 0 {
		var pad [4]int32
		var res [4]float32
		for i := range pad {
			pad[i] = idx[n4+min(i, r-1)]
		}
		dotGather4AVX2(q, m, pad[:], res[:], mask)
		copy(out[n4:], res[:r])
	}
}

// dotGather4AVX2 sets out[i] = q·(row idx[i] of m) for len(idx), a
// multiple of four, rows, four at a time: per 16 values two loads of q
// serve four rows, into two sets of four accumulators; mask selects the
// d%8 values of the last partial block of 8 (VMASKMOVPS). Reference:
// dotGatherGeneric.
//
//go:noescape
func dotGather4AVX2(q, m []float32, idx []int32, out []float32, mask []int32)

// axpyGatherAVX2 is AxpyGather: per block of 8 values of y, one load and
// one store for up to four rows' fused multiply-adds (four coefficients
// broadcast once per group). Reference: axpyGatherGeneric.
//
//go:noescape
func axpyGatherAVX2(a, m []float32, idx []int32, y []float32)

// axpyScatterAVX2 is AxpyScatter: per block of 8 values, one load of x
// for up to four rows, each row loaded, updated and stored before the
// next (so a repeated index sees its earlier update). Reference:
// axpyScatterGeneric.
//
//go:noescape
func axpyScatterAVX2(a, x, m []float32, idx []int32)
