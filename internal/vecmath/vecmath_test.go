package vecmath

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/blas32"
)

const guard = float32(-12345.5)

// guarded returns a slice of n random values surrounded by guard values, so
// that a kernel writing out of bounds is caught.
func guarded(r *rand.Rand, n, pad int) (full, body []float32) {
	full = make([]float32, n+2*pad)
	for i := range full {
		full[i] = guard
	}
	body = full[pad : pad+n]
	for i := range body {
		body[i] = r.Float32()*2 - 1
	}
	return full, body
}

func checkGuards(t *testing.T, full []float32, n, pad int) {
	t.Helper()
	for i := 0; i < pad; i++ {
		if full[i] != guard || full[pad+n+i] != guard {
			t.Fatalf("n=%d: guard value overwritten", n)
		}
	}
}

func close32(a, b float32, n int) bool {
	tol := 1e-5 * float64(n+1)
	return math.Abs(float64(a-b)) <= tol*math.Max(1, math.Abs(float64(b)))
}

func TestDotMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n <= 300; n++ {
		xf, x := guarded(r, n, 9)
		yf, y := guarded(r, n, 9)
		var want float64
		for i := range x {
			want += float64(x[i]) * float64(y[i])
		}
		if got := Dot(x, y); !close32(got, float32(want), n) {
			t.Fatalf("n=%d: Dot = %v, want %v", n, got, want)
		}
		if got := DotGeneric(x, y); !close32(got, float32(want), n) {
			t.Fatalf("n=%d: DotGeneric = %v, want %v", n, got, want)
		}
		checkGuards(t, xf, n, 9)
		checkGuards(t, yf, n, 9)
	}
}

func TestAxpyMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for n := 0; n <= 300; n++ {
		a := r.Float32()*4 - 2
		xf, x := guarded(r, n, 9)
		yf, y := guarded(r, n, 9)
		want := make([]float32, n)
		for i := range y {
			want[i] = y[i] + a*x[i]
		}
		Axpy(a, x, y)
		for i := range y {
			if !close32(y[i], want[i], 1) {
				t.Fatalf("n=%d i=%d: Axpy = %v, want %v", n, i, y[i], want[i])
			}
		}
		checkGuards(t, xf, n, 9)
		checkGuards(t, yf, n, 9)
	}
}

func TestAxpyAliasing(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}
	Axpy(1, x, x)
	for i, v := range x {
		if v != float32(2*(i+1)) {
			t.Fatalf("x[%d] = %v after Axpy(1, x, x)", i, v)
		}
	}
}

func TestLengthMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic on mismatched lengths")
		}
	}()
	Dot(make([]float32, 3), make([]float32, 4))
}

var sink float32

// The benchmarks compare our kernels with gonum's float32 BLAS (the
// well-kept alternative) and the pure-Go loop, at the dimensions
// Word2Vec uses.
func benchDot(b *testing.B, n int, f func(x, y []float32) float32) {
	r := rand.New(rand.NewPCG(5, 6))
	_, x := guarded(r, n, 0)
	_, y := guarded(r, n, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		sink += f(x, y)
	}
}

func benchAxpy(b *testing.B, n int, f func(a float32, x, y []float32)) {
	r := rand.New(rand.NewPCG(5, 6))
	_, x := guarded(r, n, 0)
	_, y := guarded(r, n, 0)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f(1e-7, x, y)
	}
}

func gonumDot(x, y []float32) float32 {
	return blas32.Dot(blas32.Vector{N: len(x), Inc: 1, Data: x}, blas32.Vector{N: len(y), Inc: 1, Data: y})
}

func gonumAxpy(a float32, x, y []float32) {
	blas32.Axpy(a, blas32.Vector{N: len(x), Inc: 1, Data: x}, blas32.Vector{N: len(y), Inc: 1, Data: y})
}

func naiveDot(x, y []float32) float32 {
	var s float32
	for i := range x {
		s += x[i] * y[i]
	}
	return s
}

func BenchmarkDot100(b *testing.B)        { benchDot(b, 100, Dot) }
func BenchmarkDot100Gonum(b *testing.B)   { benchDot(b, 100, gonumDot) }
func BenchmarkDot100Generic(b *testing.B) { benchDot(b, 100, DotGeneric) }
func BenchmarkDot100Naive(b *testing.B)   { benchDot(b, 100, naiveDot) }
func BenchmarkDot300(b *testing.B)        { benchDot(b, 300, Dot) }
func BenchmarkDot300Gonum(b *testing.B)   { benchDot(b, 300, gonumDot) }
func BenchmarkAxpy100(b *testing.B)       { benchAxpy(b, 100, Axpy) }
func BenchmarkAxpy100Gonum(b *testing.B)  { benchAxpy(b, 100, gonumAxpy) }
func BenchmarkAxpy100Generic(b *testing.B) {
	benchAxpy(b, 100, AxpyGeneric)
}

func TestDotRowsMatchesDot(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, d := range []int{1, 3, 7, 8, 9, 16, 20, 50, 100, 101, 300} {
		for _, rows := range []int{0, 1, 3, 4, 5, 8, 13, 64} {
			_, q := guarded(r, d, 0)
			mf, m := guarded(r, rows*d, 16)
			of, out := guarded(r, rows, 16)
			DotRows(q, m, out)
			for i := range out {
				want := DotGeneric(q, m[i*d:i*d+d])
				if !close32(out[i], want, d) {
					t.Fatalf("d=%d rows=%d row %d: %v, want %v", d, rows, i, out[i], want)
				}
			}
			checkGuards(t, mf, rows*d, 16)
			checkGuards(t, of, rows, 16)
		}
	}
}

func BenchmarkDotRows100x1024(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	_, q := guarded(r, 100, 0)
	_, m := guarded(r, 100*1024, 0)
	out := make([]float32, 1024)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		DotRows(q, m, out)
	}
}

func BenchmarkDotPerRow100x1024(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	_, q := guarded(r, 100, 0)
	_, m := guarded(r, 100*1024, 0)
	out := make([]float32, 1024)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for j := range out {
			out[j] = Dot(q, m[j*100:j*100+100])
		}
	}
}

func TestDotRowsIndependentOfPosition(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, d := range []int{5, 100, 103} {
		_, q := guarded(r, d, 0)
		_, m := guarded(r, 7*d, 0)
		all := make([]float32, 7)
		DotRows(q, m, all)
		for i := range 7 {
			var one [1]float32
			DotRows(q, m[i*d:i*d+d], one[:])
			if math.Float32bits(one[0]) != math.Float32bits(all[i]) {
				t.Fatalf("d=%d row %d: %v alone, %v among 7 rows", d, i, one[0], all[i])
			}
		}
	}
}
