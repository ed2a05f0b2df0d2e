package vectors

import (
	"math"
	"runtime"
	"sync"

	"github.com/ophicleide/ophicleide/internal/vecmath"
)

// Quantized search.
//
// Scanning every float32 row is memory-bound: 58k rows of dimension 100
// are 23 MB per query. Large sets therefore also keep an int8 copy of
// their unit rows (a quarter of the bytes) and search in two passes:
//
//  1. Score every row approximately with the int8 copy and a query
//     quantized to int16 (vecmath.DotRowsInt8). For each row the error of
//     that score is bounded: if u is the unit row, ũ its int8 image and q̃
//     the quantized query, |q·u - q̃·ũ| <= |u-ũ| + |q-q̃|·(1+|u-ũ|)
//     (Cauchy-Schwarz, |q| = 1), and |u-ũ| is measured per row when the
//     copy is built. So every row's exact score lies in [a-b, a+b].
//  2. The k-th largest lower bound a-b is a floor under the k-th best exact
//     score; only rows whose upper bound a+b reaches that floor can be in
//     the top k. With int8 that still leaves hundreds to thousands of rows
//     for words whose neighbours are not much closer than the rest (rare
//     words: measured on a real 50k-word model, 2,100 on average), so
//  3. those rows are scored again adding an int8 image of each row's
//     rounding error (a second int8 matrix: the error of the sum is ~250
//     times smaller), the floor is raised the same way, and the few rows
//     left (typically k plus a handful) are scored exactly, with the same
//     kernel as the exact scan.
//
// The result is therefore exactly the exact scan's, ties included, not an
// approximation: the int8 pass only decides which rows are worth an exact
// score.

// quantMinValues is the size (rows*dim) from which search uses the
// quantized pass; below it an exact scan is as fast and needs no copy.
const quantMinValues = 200_000

// quantSplitMinValues is the size from which the quantized pass is split
// among GOMAXPROCS goroutines (a variable for the tests).
var quantSplitMinValues = 32_000_000

// boundSlack covers float32 rounding in both passes (scores are at most 1
// in magnitude; each pass rounds a few times at ~6e-8).
const boundSlack = 1e-5

// preMargin keeps pass 1's first test on the raw score conservative: it
// is far above the rounding of (floor - widest) / inv, and costs only a few
// rows more for the full test.
const preMargin = 1e-4

// paddedDim is dim rounded up to a multiple of vecmath.Int8Block.
func paddedDim(dim int) int {
	return (dim + vecmath.Int8Block - 1) / vecmath.Int8Block * vecmath.Int8Block
}

// quantIndex is the two-level int8 image of a set's unit rows.
type quantIndex struct {
	dp     int        // dimension rounded up to vecmath.Int8Block
	coarse quantLevel // the unit rows
	fine   quantLevel // what coarse misses of them
}

// quantLevel is one int8 matrix with a scale per row.
type quantLevel struct {
	data  []int8    // rows*dp, each row zero-padded
	scale []float32 // row i ~ scale[i] * data row i
	// err[i] bounds |unit row i - (the images of this level and those
	// before it)|; maxErr is the largest.
	err    []float32
	maxErr float32
}

// SearchIndexBytes is the memory search adds to a set of this size (the
// int8 images of large sets, built on first search).
func (s *Set) SearchIndexBytes() int64 {
	if len(s.words)*s.dim < quantMinValues {
		return 0
	}
	return int64(len(s.words)) * int64(2*paddedDim(s.dim)+16)
}

// quantized returns the set's int8 images, building them now if no one
// has yet.
func (s *Set) quantized() *quantIndex {
	s.quantOnce.Do(func() { s.quant.Store(buildQuant(s.vecs, s.invNorm, s.dim)) })
	runtime.KeepAlive(s)
	return s.quant.Load()
}

// quantReady returns the set's int8 images if they are built; otherwise
// it starts building them in the background (~10-20 ms for 50k rows of
// dimension 100) and returns nil, so that the first query of a freshly
// loaded model does not wait for them.
func (s *Set) quantReady() *quantIndex {
	if qi := s.quant.Load(); qi != nil {
		return qi
	}
	if s.quantStarted.CompareAndSwap(false, true) {
		go s.quantized()
	}
	return nil
}

// buildQuant quantizes each unit row symmetrically to [-127, 127] with its
// own scale, then the rounding error the same way, recording the
// Euclidean norm of what remains after each level.
func buildQuant(vecs, invNorm []float32, dim int) *quantIndex {
	rows := len(invNorm)
	dp := paddedDim(dim)
	qi := &quantIndex{dp: dp, coarse: newQuantLevel(rows, dp), fine: newQuantLevel(rows, dp)}
	u := make([]float64, dim)
	for i := range rows {
		inv := float64(invNorm[i])
		for j, v := range vecs[i*dim : (i+1)*dim] {
			u[j] = float64(v) * inv
		}
		qi.coarse.set(i, dp, u) // leaves u as the coarse level's error
		qi.fine.set(i, dp, u)
	}
	return qi
}

func newQuantLevel(rows, dp int) quantLevel {
	return quantLevel{data: make([]int8, rows*dp), scale: make([]float32, rows), err: make([]float32, rows)}
}

// set quantizes u as row i and replaces u by the rounding error.
func (l *quantLevel) set(i, dp int, u []float64) {
	var m float64
	for _, x := range u {
		m = max(m, math.Abs(x))
	}
	if m == 0 {
		return // nothing left: the image is zero and exact
	}
	scale := float32(m / 127)
	out := l.data[i*dp : i*dp+len(u)]
	var e2 float64
	for j, x := range u {
		v := math.Max(-127, math.Min(127, math.Round(x/float64(scale))))
		out[j] = int8(v)
		u[j] = x - v*float64(scale)
		e2 += u[j] * u[j]
	}
	l.scale[i] = scale
	l.err[i] = math.Nextafter32(float32(math.Sqrt(e2)), 1)
	l.maxErr = max(l.maxErr, l.err[i])
}

// quantQuery is a unit query quantized to int16 for DotRowsInt8.
type quantQuery struct {
	q   []int16
	inv float32 // 1/scale of q
	err float32 // upper bound of |q - inv*q̃|
}

// quantizeQuery scales q so its largest value is the most DotRowsInt8
// allows for dp values without overflow. It returns false for a zero query.
func quantizeQuery(q []float32, dp int) (quantQuery, bool) {
	var m float64
	for _, v := range q {
		m = max(m, math.Abs(float64(v)))
	}
	if m == 0 {
		return quantQuery{}, false
	}
	limit := float64(min(32767, (1<<31-1)/(128*dp)))
	scale := limit / m
	out := make([]int16, dp)
	var e2 float64
	for j, x := range q {
		v := math.Round(float64(x) * scale)
		out[j] = int16(v)
		d := float64(x) - v/scale
		e2 += d * d
	}
	return quantQuery{q: out, inv: float32(1 / scale), err: math.Nextafter32(float32(math.Sqrt(e2)), 1)}, true
}

// quantPool holds per-query scratch.
var quantPool = sync.Pool{New: func() any { return new(quantScratch) }}

type quantScratch struct {
	parts  []boundScan // pass 1's state per goroutine
	fine   []float32   // per candidate, the fine score times the query's scale
	gather []int8      // candidate rows of the fine level, side by side
	scales []float32
	rows   []float32 // float rows side by side for the exact kernel
}

// boundScan is what pass 1 keeps of one range of rows.
type boundScan struct {
	lows   []hit     // the k largest lower bounds seen, a min-heap
	cands  []int     // rows whose upper bound reached the floor when scanned
	approx []float32 // their coarse scores times the query's scale
	block  [scanBlock]float32
}

// topKQuant is topK by the passes described above. ok is false when the
// query is zero (every exact score is 0; the caller scans exactly).
//
// Pass 1 scores every row with the coarse level in one sweep, keeping the
// k largest lower bounds seen so far: the smallest of them is a floor
// under the k-th best exact score at every moment, and only rises, so a
// row whose upper bound is below it when scanned can be dropped at once.
// The rows kept are tested again against the final floor; the fine level
// narrows them the same way, and the rest are scored exactly.
func (s *Set) topKQuant(qi *quantIndex, q []float32, rows, k int) (hits []hit, ok bool) {
	qq, ok := quantizeQuery(q, qi.dp)
	if !ok {
		return nil, false
	}
	sc := quantPool.Get().(*quantScratch)
	defer quantPool.Put(sc)

	// Pass 1: coarse bounds of every row.
	workers := 1
	if rows*qi.dp >= quantSplitMinValues {
		workers = max(1, min(runtime.GOMAXPROCS(0), rows/(4*k)))
	}
	for len(sc.parts) < workers {
		sc.parts = append(sc.parts, boundScan{})
	}
	parts := sc.parts[:workers]
	if workers == 1 {
		qi.scanBounds(qq, 0, rows, k, &parts[0])
	} else {
		var wg sync.WaitGroup
		for w := 1; w < workers; w++ {
			lo, hi := rows*w/workers, rows*(w+1)/workers
			wg.Go(func() { qi.scanBounds(qq, lo, hi, k, &parts[w]) })
		}
		qi.scanBounds(qq, 0, rows/workers, k, &parts[0])
		wg.Wait()
	}
	floor := parts[0].lows[0].score // each range holds at least k rows
	if workers > 1 {
		var lows []float32
		for _, p := range parts {
			for _, h := range p.lows {
				lows = append(lows, h.score)
			}
		}
		floor = kthLargest(lows, k)
	}
	// The rows that still reach the final floor, gathered into part 0's
	// lists (its own rows are read before anything is written over them).
	cands := parts[0].cands[:0]
	approx := parts[0].approx[:0]
	for _, p := range parts {
		for j, r := range p.cands {
			if a := p.approx[j]; a*qq.inv+qq.bound(qi.coarse.err[r]) >= floor {
				cands = append(cands, r)
				approx = append(approx, a)
			}
		}
	}
	parts[0].cands, parts[0].approx = cands, approx // keep grown buffers for the next query

	// Pass 2: add the fine level's score for the candidates.
	fine := qi.fineScores(qq, cands, approx, sc)
	lows := make([]float32, 0, len(cands))
	for j, r := range cands {
		lows = append(lows, fine[j]*qq.inv-qq.bound(qi.fine.err[r]))
	}
	floor = kthLargest(lows, k)
	n := 0
	for j, r := range cands {
		if fine[j]*qq.inv+qq.bound(qi.fine.err[r]) >= floor {
			cands[n] = r
			n++
		}
	}

	// Pass 3: exact scores.
	return sortHits(s.scoreRows(q, cands[:n], k, sc)), true
}

// scanBounds is pass 1 over rows [lo, hi), which hold at least k rows:
// it leaves in out the k largest lower bounds seen and the rows whose
// upper bound reached the k-th largest lower bound seen before them.
func (qi *quantIndex) scanBounds(qq quantQuery, lo, hi, k int, out *boundScan) {
	dp := qi.dp
	out.lows, out.cands, out.approx = out.lows[:0], out.cands[:0], out.approx[:0]
	floor := float32(math.Inf(-1))
	widest := qq.bound(qi.coarse.maxErr)
	// pre is a cheap first test on the raw score a: a < pre implies
	// a*inv + widest < floor (by a margin far above float32 rounding).
	pre := float32(math.Inf(-1))
	for i := lo; i < hi; {
		nb := min(scanBlock, hi-i)
		scores := out.block[:nb]
		vecmath.DotRowsInt8(qq.q, qi.coarse.data[i*dp:(i+nb)*dp], qi.coarse.scale[i:i+nb], scores)
		for j, a := range scores {
			if a < pre { // most rows stop here
				continue
			}
			v := a * qq.inv
			r := i + j
			b := qq.bound(qi.coarse.err[r])
			if v+b < floor {
				continue
			}
			out.cands = append(out.cands, r)
			out.approx = append(out.approx, a)
			if len(out.lows) < k || v-b > out.lows[0].score {
				out.lows = offer(out.lows, k, hit{v - b, r})
				if len(out.lows) == k {
					floor = out.lows[0].score
					pre = (floor - widest - preMargin) / qq.inv
				}
			}
		}
		i += nb
	}
}

// fineScores returns, per candidate row, its coarse score (approx[j] for
// cands[j]) plus its fine level's, both times the query's scale.
func (qi *quantIndex) fineScores(qq quantQuery, cands []int, approx []float32, sc *quantScratch) []float32 {
	dp := qi.dp
	if cap(sc.fine) < len(cands) {
		sc.fine = make([]float32, len(cands))
	}
	fine := sc.fine[:len(cands)]
	if cap(sc.gather) < scanBlock*dp {
		sc.gather = make([]int8, scanBlock*dp)
		sc.scales = make([]float32, scanBlock)
	}
	for lo := 0; lo < len(cands); lo += scanBlock {
		block := cands[lo:min(lo+scanBlock, len(cands))]
		g := sc.gather[:len(block)*dp]
		for j, r := range block {
			copy(g[j*dp:(j+1)*dp], qi.fine.data[r*dp:(r+1)*dp])
			sc.scales[j] = qi.fine.scale[r]
		}
		out := fine[lo : lo+len(block)]
		vecmath.DotRowsInt8(qq.q, g, sc.scales[:len(block)], out)
		for j := range block {
			out[j] += approx[lo+j]
		}
	}
	return fine
}

// scoreRows returns the best k of the listed rows, scored exactly as scan
// scores them, as a min-heap. Rows are copied four at a time next to each
// other so that the four-row kernel serves them (a row's score does not
// depend on where it sits).
func (s *Set) scoreRows(q []float32, rows []int, k int, sc *quantScratch) []hit {
	dim := s.dim
	if cap(sc.rows) < 4*dim {
		sc.rows = make([]float32, 4*dim)
	}
	buf := sc.rows[:4*dim]
	var scores [4]float32
	h := make([]hit, 0, k)
	const ahead = 8 // rows prefetched ahead: candidates are scattered
	for _, r := range rows[:min(ahead, len(rows))] {
		vecmath.Prefetch(s.vecs[r*dim : (r+1)*dim])
	}
	for len(rows) > 0 {
		n := min(4, len(rows))
		for _, r := range rows[min(ahead, len(rows)):min(ahead+n, len(rows))] {
			vecmath.Prefetch(s.vecs[r*dim : (r+1)*dim])
		}
		for j, r := range rows[:n] {
			copy(buf[j*dim:(j+1)*dim], s.vecs[r*dim:(r+1)*dim])
		}
		vecmath.DotRows(q, buf[:n*dim], scores[:n])
		for j, r := range rows[:n] {
			h = offer(h, k, hit{scores[j] * s.invNorm[r], r})
		}
		rows = rows[n:]
	}
	return h
}

// bound is the largest possible distance between a row's approximate and
// exact scores, given the norm e of what its image misses: |q·u - q̃·ũ|
// <= |u-ũ| + |q-q̃|·|ũ| and |ũ| <= 1+e.
func (qq quantQuery) bound(e float32) float32 {
	return e + qq.err*(1+e) + boundSlack
}

// kthLargest returns the k-th largest value of v (0 < k <= len(v)).
func kthLargest(v []float32, k int) float32 {
	h := make([]hit, 0, k)
	for _, x := range v {
		if len(h) < k || x > h[0].score {
			h = offer(h, k, hit{x, 0})
		}
	}
	return h[0].score
}
