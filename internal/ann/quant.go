package ann

import (
	"math"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ophicleide/ophicleide/internal/vecmath"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Building walks the graph a hundred times per row inserted, and scoring
// float32 rows there is bound by memory: 1M rows of dimension 300 are
// 1.2 GB read in random order. Build therefore scores int8 images of the
// unit rows (a quarter of the bytes, the integer kernel of the exact
// scan's first pass) and drops them when done: the graph only needs to
// know which rows are near, and an int8 image moves a cosine by about
// 0.005. Queries walk the float32 rows (no copy to keep) and score exactly.

// codes are the int8 images of a set's unit rows, centred: word vectors
// share a large common direction (undertrained rare words reach cosines of
// 0.999 to each other), so the images are of u - mu, mu the mean unit row,
// whose values are smaller and get a finer scale. Then
//
//	u_a . u_b = (r_a . r_b) + (mu.r_a + |mu|^2/2) + (mu.r_b + |mu|^2/2)
//
// with r = u - mu: the int8 product of the residuals plus a float per row.
type codes struct {
	dp    int       // dim rounded up to vecmath.Int8Block
	data  []int8    // rows*dp, each row zero-padded
	scale []float32 // residual i ~ scale[i] * data row i
	bias  []float32 // mu.r_i + |mu|^2/2
}

// quantize builds the images with workers goroutines; the result does not
// depend on their number (the mean is summed in fixed chunks, in order).
func quantize(set *vectors.Set, workers int) *codes {
	n, dim := set.Len(), set.Dim()
	dp := (dim + vecmath.Int8Block - 1) / vecmath.Int8Block * vecmath.Int8Block
	c := &codes{dp: dp, data: make([]int8, n*dp), scale: make([]float32, n), bias: make([]float32, n)}
	inv := set.InvNorms()
	const chunk = 4096
	chunks := (n + chunk - 1) / chunk
	sums := make([][]float64, chunks)
	parallel(workers, chunks, func(k int) {
		sum := make([]float64, dim)
		for i := k * chunk; i < min(n, (k+1)*chunk); i++ {
			for j, v := range set.Row(i) {
				sum[j] += float64(v * inv[i])
			}
		}
		sums[k] = sum
	})
	mu := make([]float64, dim)
	for _, sum := range sums {
		for j, v := range sum {
			mu[j] += v
		}
	}
	var mu2 float64
	for j := range mu {
		mu[j] /= float64(n)
		mu2 += mu[j] * mu[j]
	}
	parallel(workers, chunks, func(k int) {
		r := make([]float64, dim)
		for i := k * chunk; i < min(n, (k+1)*chunk); i++ {
			var m, dot float64
			for j, v := range set.Row(i) {
				r[j] = float64(v*inv[i]) - mu[j]
				m = max(m, math.Abs(r[j]))
				dot += mu[j] * r[j]
			}
			c.bias[i] = float32(dot + mu2/2)
			if m == 0 {
				continue
			}
			s := m / 127
			out := c.data[i*dp : i*dp+dim]
			for j, x := range r {
				out[j] = int8(math.Max(-127, math.Min(127, math.Round(x/s))))
			}
			c.scale[i] = float32(s)
		}
	})
	return c
}

// parallel calls f(0) ... f(n-1) on workers goroutines.
func parallel(workers, n int, f func(int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Go(func() {
			for {
				k := int(next.Add(1) - 1)
				if k >= n {
					return
				}
				f(k)
			}
		})
	}
	wg.Wait()
}

// row is the image of row i seen as float32s (what vecmath.Prefetch
// takes; dp is a multiple of 16 bytes).
func (c *codes) row(i uint32) []float32 {
	return unsafe.Slice((*float32)(unsafe.Pointer(&c.data[int(i)*c.dp])), c.dp/4)
}

func (c *codes) bytes() int64 { return int64(len(c.data)) + 8*int64(len(c.scale)) }

// int8Scorer scores rows against one row's image (vecmath.DotRowsInt8,
// with the candidates copied side by side so that its four-row kernel
// serves them).
type int8Scorer struct {
	c      *codes
	q      []int16
	qs     float32
	qb     float32 // the query row's bias
	gather []int8
	gscale []float32
	out    []float32
}

func newInt8Scorer(c *codes) *int8Scorer {
	return &int8Scorer{c: c, q: make([]int16, c.dp)}
}

// setQuery makes row the query.
func (sc *int8Scorer) setQuery(row uint32) {
	dp := sc.c.dp
	for j, v := range sc.c.data[int(row)*dp : (int(row)+1)*dp] {
		sc.q[j] = int16(v)
	}
	sc.qs = sc.c.scale[row]
	sc.qb = sc.c.bias[row]
}

func (sc *int8Scorer) scoreRows(rows []uint32, out []float32) {
	n := len(rows)
	if n == 0 {
		return
	}
	// Whole groups of four rows: the kernel scores a remainder with its
	// pure-Go reference, several times slower. Padding rows are zero.
	dp, n4 := sc.c.dp, (n+3)&^3
	if cap(sc.gather) < n4*dp {
		sc.gather = make([]int8, n4*dp)
		sc.gscale = make([]float32, n4)
		sc.out = make([]float32, n4)
	}
	g, gs := sc.gather[:n4*dp], sc.gscale[:n4]
	// The rows are scattered over the images: ask for all of them before
	// copying the first, so that their cache misses overlap.
	for _, y := range rows {
		vecmath.Prefetch(sc.c.row(y))
	}
	for i, y := range rows {
		copy(g[i*dp:(i+1)*dp], sc.c.data[int(y)*dp:(int(y)+1)*dp])
		gs[i] = sc.c.scale[y] * sc.qs
	}
	clear(g[n*dp:])
	clear(gs[n:])
	vecmath.DotRowsInt8(sc.q, g, gs, sc.out[:n4])
	for i, y := range rows {
		out[i] = sc.out[i] + sc.c.bias[y] + sc.qb
	}
}
