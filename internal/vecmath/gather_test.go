package vecmath

import (
	"math/rand/v2"
	"testing"
)

// gatherCase is a guarded matrix of rows x d values and n row indices
// drawn with repeats (the trainer's windows repeat words).
func gatherCase(r *rand.Rand, rows, d, n int) (full, m []float32, idx []int32) {
	full, m = guarded(r, rows*d, 9)
	idx = make([]int32, n)
	for i := range idx {
		idx[i] = int32(r.IntN(rows))
	}
	return full, m, idx
}

func gatherDims() []int {
	d := []int{100, 128, 300}
	for i := 0; i <= 40; i++ {
		d = append(d, i)
	}
	return d
}

func TestDotGatherMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, d := range gatherDims() {
		for n := 0; n <= 13; n++ {
			mf, m, idx := gatherCase(r, 7, d, n)
			qf, q := guarded(r, d, 9)
			of, out := guarded(r, n, 9)
			DotGather(q, m, idx, out)
			for i, row := range idx {
				if want := DotGeneric(q, m[int(row)*d:int(row)*d+d]); !close32(out[i], want, d) {
					t.Fatalf("d=%d n=%d: out[%d] = %v, want %v", d, n, i, out[i], want)
				}
			}
			checkGuards(t, mf, 7*d, 9)
			checkGuards(t, qf, d, 9)
			checkGuards(t, of, n, 9)
		}
	}
}

// A row's result must not depend on its place among the indices (the
// kernel works in fours and repeats the last index to fill a group).
func TestDotGatherIndependentOfPosition(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	d := 100
	_, m, _ := gatherCase(r, 9, d, 0)
	_, q := guarded(r, d, 0)
	var first [9]float32
	for n := 1; n <= 9; n++ {
		idx := make([]int32, n)
		for i := range idx {
			idx[i] = int32((i + n) % 9)
		}
		out := make([]float32, n)
		DotGather(q, m, idx, out)
		for i, row := range idx {
			if n == 1 || first[row] == 0 {
				first[row] = out[i]
			} else if out[i] != first[row] {
				t.Fatalf("row %d: %v at position %d of %d, %v before", row, out[i], i, n, first[row])
			}
		}
	}
}

func TestAxpyGatherIsAxpyPerRow(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, d := range gatherDims() {
		for n := 0; n <= 13; n++ {
			mf, m, idx := gatherCase(r, 7, d, n)
			_, a := guarded(r, n, 0)
			yf, y := guarded(r, d, 9)
			want := append([]float32(nil), y...)
			for i, row := range idx {
				Axpy(a[i], m[int(row)*d:int(row)*d+d], want)
			}
			AxpyGather(a, m, idx, y)
			for i := range y {
				if y[i] != want[i] {
					t.Fatalf("d=%d n=%d: y[%d] = %v, want %v (bit for bit)", d, n, i, y[i], want[i])
				}
			}
			checkGuards(t, mf, 7*d, 9)
			checkGuards(t, yf, d, 9)
		}
	}
}

func TestAxpyScatterIsAxpyPerRow(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, d := range gatherDims() {
		for n := 0; n <= 13; n++ {
			mf, m, idx := gatherCase(r, 5, d, n) // few rows: indices repeat
			_, a := guarded(r, n, 0)
			xf, x := guarded(r, d, 9)
			want := append([]float32(nil), m...)
			for i, row := range idx {
				Axpy(a[i], x, want[int(row)*d:int(row)*d+d])
			}
			AxpyScatter(a, x, m, idx)
			for i := range m {
				if m[i] != want[i] {
					t.Fatalf("d=%d n=%d: m[%d] = %v, want %v (bit for bit)", d, n, i, m[i], want[i])
				}
			}
			checkGuards(t, mf, 5*d, 9)
			checkGuards(t, xf, d, 9)
		}
	}
}

func TestGatherGenericMatchesKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	d, n := 100, 11
	_, m, idx := gatherCase(r, 6, d, n)
	_, q := guarded(r, d, 0)
	_, a := guarded(r, n, 0)
	got, want := make([]float32, n), make([]float32, n)
	DotGather(q, m, idx, got)
	dotGatherGeneric(q, m, idx, want)
	for i := range got {
		if !close32(got[i], want[i], d) {
			t.Fatalf("DotGather[%d] = %v, reference %v", i, got[i], want[i])
		}
	}
	y1, y2 := make([]float32, d), make([]float32, d)
	AxpyGather(a, m, idx, y1)
	axpyGatherGeneric(a, m, idx, y2)
	m2 := append([]float32(nil), m...)
	AxpyScatter(a, q, m, idx)
	axpyScatterGeneric(a, q, m2, idx)
	for i := range y1 {
		if y1[i] != y2[i] {
			t.Fatalf("AxpyGather[%d] = %v, reference %v", i, y1[i], y2[i])
		}
	}
	for i := range m {
		if m[i] != m2[i] {
			t.Fatalf("AxpyScatter[%d] = %v, reference %v", i, m[i], m2[i])
		}
	}
}

func TestGatherPanics(t *testing.T) {
	m := make([]float32, 3*4)
	q := make([]float32, 4)
	for name, f := range map[string]func(){
		"dot index":      func() { DotGather(q, m, []int32{3}, make([]float32, 1)) },
		"dot negative":   func() { DotGather(q, m, []int32{-1}, make([]float32, 1)) },
		"dot out length": func() { DotGather(q, m, []int32{0, 1}, make([]float32, 1)) },
		"gather index":   func() { AxpyGather([]float32{1}, m, []int32{3}, q) },
		"gather coefs":   func() { AxpyGather([]float32{1, 2}, m, []int32{0}, q) },
		"scatter index":  func() { AxpyScatter([]float32{1}, q, m, []int32{7}) },
		"scatter coefs":  func() { AxpyScatter(nil, q, m, []int32{0}) },
		"partial row":    func() { DotGather(q, m[:11], []int32{2}, make([]float32, 1)) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}

// The trainer's window: 6 targets (a word and 5 negatives) against 6
// context rows of dimension 100, as kernels over gathered rows and as one
// call per pair of rows.
func benchWindow(b *testing.B, gathered bool) {
	r := rand.New(rand.NewPCG(1, 1))
	const d, rows = 100, 50000
	_, syn0, ctx := gatherCase(r, rows, d, 6)
	_, syn1, tg := gatherCase(r, rows, d, 6)
	g := make([]float32, 36)
	col := make([]float32, 6)
	neu := make([]float32, 6*d)
	for i := 0; i < b.N; i++ {
		for ci, c := range ctx {
			in := syn0[int(c)*d : int(c)*d+d]
			nu := neu[ci*d : ci*d+d]
			clear(nu)
			if gathered {
				DotGather(in, syn1, tg, g[ci*6:ci*6+6])
				for k := range g[ci*6 : ci*6+6] {
					g[ci*6+k] *= 1e-3
				}
				AxpyGather(g[ci*6:ci*6+6], syn1, tg, nu)
				continue
			}
			for ti, t := range tg {
				g[ci*6+ti] = Dot(in, syn1[int(t)*d:int(t)*d+d]) * 1e-3
				Axpy(g[ci*6+ti], syn1[int(t)*d:int(t)*d+d], nu)
			}
		}
		for ti, t := range tg {
			out := syn1[int(t)*d : int(t)*d+d]
			if gathered {
				for ci := range ctx {
					col[ci] = g[ci*6+ti]
				}
				AxpyGather(col, syn0, ctx, out)
				continue
			}
			for ci, c := range ctx {
				Axpy(g[ci*6+ti], syn0[int(c)*d:int(c)*d+d], out)
			}
		}
		for ci, c := range ctx {
			Axpy(1e-3, neu[ci*d:ci*d+d], syn0[int(c)*d:int(c)*d+d])
		}
	}
}

func BenchmarkWindowGathered(b *testing.B) { benchWindow(b, true) }
func BenchmarkWindowPerPair(b *testing.B)  { benchWindow(b, false) }
