package vecmath

// Kernels over rows picked by index from a row-major matrix: the trainer's
// inner loops, where one window touches a handful of scattered rows (the
// centre word's target and its negatives, the context words) and calling
// Dot or Axpy once per pair of rows spent more time in calls, reductions
// and loads of the same vector than in arithmetic. Each takes the rows as
// indices into m, whose rows have the length of the vector argument.
// Callers guarantee the indices are rows of m; the kernels panic otherwise
// (a programmer error, never an input error).

// DotGather sets out[i] to the dot product of q with row idx[i] of m.
// Four rows share each load of q, with independent accumulators; a
// result may differ from Dot's in the last bits (another summation order)
// but not with the row's position in idx.
func DotGather(q, m []float32, idx []int32, out []float32) {
	if len(out) != len(idx) {
		panic("vecmath: DotGather output length mismatch")
	}
	checkRows(m, len(q), idx)
	dotGather(q, m, idx, out)
}

// AxpyGather sets y += a[i] * row idx[i] of m for each i in order. Its
// result is bit for bit that of calling Axpy once per row in that order:
// it only saves the calls and the loads and stores of y.
func AxpyGather(a, m []float32, idx []int32, y []float32) {
	if len(a) != len(idx) {
		panic("vecmath: AxpyGather coefficient length mismatch")
	}
	checkRows(m, len(y), idx)
	axpyGather(a, m, idx, y)
}

// AxpyScatter sets row idx[i] of m += a[i] * x for each i in order; an
// index may repeat (the row then moves by each of its coefficients, as
// with successive Axpy calls, whose result it gives bit for bit). x must
// not be a row of m.
func AxpyScatter(a, x, m []float32, idx []int32) {
	if len(a) != len(idx) {
		panic("vecmath: AxpyScatter coefficient length mismatch")
	}
	checkRows(m, len(x), idx)
	axpyScatter(a, x, m, idx)
}

// checkRows panics unless every index is a whole row of d values in m.
func checkRows(m []float32, d int, idx []int32) {
	if d == 0 {
		return
	}
	rows := len(m) / d
	for _, i := range idx {
		if uint(i) >= uint(rows) {
			panic("vecmath: row index out of range")
		}
	}
}

// dotGatherGeneric is the reference implementation of DotGather.
func dotGatherGeneric(q, m []float32, idx []int32, out []float32) {
	d := len(q)
	for i, r := range idx {
		out[i] = DotGeneric(q, m[int(r)*d:int(r)*d+d])
	}
}

// axpyGatherGeneric is the reference implementation of AxpyGather.
func axpyGatherGeneric(a, m []float32, idx []int32, y []float32) {
	d := len(y)
	for i, r := range idx {
		axpy(a[i], m[int(r)*d:int(r)*d+d], y)
	}
}

// axpyScatterGeneric is the reference implementation of AxpyScatter.
func axpyScatterGeneric(a, x, m []float32, idx []int32) {
	d := len(x)
	for i, r := range idx {
		axpy(a[i], x, m[int(r)*d:int(r)*d+d])
	}
}
