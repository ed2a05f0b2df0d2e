package vecmath

import (
	"math/rand/v2"
	"testing"
)

// int8Guard surrounds test matrices and outputs: a kernel that reads or
// writes out of bounds changes a result or a guard.
const int8Guard = 0x5a

func TestDotRowsInt8MatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, d := range []int{16, 32, 112, 304} {
		limit := int16(min(32767, (1<<31-1)/(128*d)))
		for _, rows := range []int{1, 3, 4, 5, 8, 13, 64} {
			q := make([]int16, d)
			for j := range q {
				q[j] = int16(r.IntN(2*int(limit)+1)) - limit
			}
			q[0] = limit // extremes too
			full := make([]int8, rows*d+2*32)
			for i := range full {
				full[i] = int8Guard
			}
			m := full[32 : 32+rows*d]
			for i := range m {
				m[i] = int8(r.IntN(256) - 128)
			}
			m[0], m[len(m)-1] = -128, 127
			scale := make([]float32, rows)
			for i := range scale {
				scale[i] = r.Float32() * 1e-3
			}
			scale[0] = 1
			outFull := make([]float32, rows+8)
			for i := range outFull {
				outFull[i] = -7
			}
			out := outFull[4 : 4+rows]
			want := make([]float32, rows)
			for i := range want { // exact integer sums, then one rounding and one product
				var sum int64
				for j := range d {
					sum += int64(q[j]) * int64(m[i*d+j])
				}
				want[i] = float32(int32(sum)) * scale[i]
			}
			DotRowsInt8(q, m, scale, out)
			for i := range rows {
				if out[i] != want[i] {
					t.Fatalf("d=%d rows=%d: row %d = %v, want %v", d, rows, i, out[i], want[i])
				}
			}
			for i := range 4 {
				if outFull[i] != -7 || outFull[4+rows+i] != -7 {
					t.Fatalf("d=%d rows=%d: output guard overwritten", d, rows)
				}
			}
			for i := range 32 {
				if full[i] != int8Guard || full[32+rows*d+i] != int8Guard {
					t.Fatalf("d=%d rows=%d: matrix guard overwritten", d, rows)
				}
			}
		}
	}
}

func TestDotRowsInt8Panics(t *testing.T) {
	for _, c := range []struct{ d, m, scales, rows int }{{0, 0, 0, 0}, {15, 15, 1, 1}, {16, 31, 2, 2}, {16, 32, 1, 1}, {16, 32, 1, 2}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%+v: no panic", c)
				}
			}()
			DotRowsInt8(make([]int16, c.d), make([]int8, c.m), make([]float32, c.scales), make([]float32, c.rows))
		}()
	}
}

// BenchmarkDotRowsInt8 and BenchmarkDotRowsFloat32 scan the same number of
// rows (1024, dimension 100, padded to 112 for int8).
func BenchmarkDotRowsInt8(b *testing.B) {
	q := make([]int16, 112)
	m := make([]int8, 112*1024)
	scale := make([]float32, 1024)
	out := make([]float32, 1024)
	for b.Loop() {
		DotRowsInt8(q, m, scale, out)
	}
}
