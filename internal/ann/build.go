package ann

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Batches: a row inserted in a batch does not see the other rows of its
// batch (it searches the graph as it was before), so a batch is kept
// small against the graph already built: at most 1/batchShare of it, and
// at most maxBatch rows.
const (
	batchShare = 32
	maxBatch   = 1024
)

// Build builds an index over every row of set. It uses cfg.Workers
// goroutines (GOMAXPROCS by default) and returns the same graph whatever
// their number. It calls progress (if not nil) from the calling goroutine
// after each batch of rows with the rows inserted so far and the total.
// It returns ctx's error, and no index, if ctx ends first (checked between
// rows), and an error wrapping ErrInvalid for a bad cfg or a set of more
// than MaxRow rows or none. set must stay unchanged while the index is used.
//
// Cost: about EfConstruction * 2M scored rows per row inserted; memory:
// 8M bytes a row for the links plus 2 bytes a row per worker.
func Build(ctx context.Context, set *vectors.Set, cfg Config, progress func(done, total int)) (*Index, error) {
	n := set.Len()
	cfg, err := cfg.withDefaults(n)
	if err != nil {
		return nil, err
	}
	if n == 0 || n > MaxRow {
		return nil, fmt.Errorf("%w: %d rows, want 1 to %d", ErrInvalid, n, MaxRow)
	}
	ix := &Index{set: set, rows: n, dim: set.Dim(), m: cfg.M, m0: 2 * cfg.M, ef: cfg.Ef, fingerprint: set.Fingerprint(), upperEf: defaultUpperEf}
	levels := drawLevels(n, cfg.M, cfg.Seed)
	top := int(slices.Max(levels))
	ix.upper = make([]layer, top)
	for lv := 1; lv <= top; lv++ {
		var ids []uint32
		for i, l := range levels {
			if int(l) >= lv {
				ids = append(ids, uint32(i))
			}
		}
		ix.upper[lv-1] = layer{ids: ids, links: filled(len(ids) * ix.m)}
	}
	ix.level0 = filled(n * ix.m0)

	b := &builder{ix: ix, cfg: cfg, levels: levels, top: int(levels[0]), codes: quantize(set, cfg.Workers)}
	ix.entry = 0
	if progress != nil {
		progress(1, n)
	}
	for start := 1; start < n; {
		end := start + min(max(1, start/batchShare), maxBatch, n-start)
		if err := b.searchBatch(ctx, start, end); err != nil {
			return nil, err
		}
		b.linkBatch(start, end)
		for x := start; x < end; x++ {
			if int(levels[x]) > b.top {
				b.top, ix.entry = int(levels[x]), uint32(x)
			}
		}
		if progress != nil {
			progress(end, n)
		}
		start = end
	}
	return ix, nil
}

// filled returns n places set to noLink.
func filled(n int) []uint32 {
	s := make([]uint32, n)
	for i := range s {
		s[i] = noLink
	}
	return s
}

// drawLevels draws each row's top layer as HNSW does: floor(-ln U / ln M),
// so each layer holds about 1/M of the one below.
func drawLevels(n, m int, seed uint64) []uint8 {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	ml := 1 / math.Log(float64(m))
	levels := make([]uint8, n)
	for i := range levels {
		l := int(-math.Log(1-rng.Float64()) * ml)
		levels[i] = uint8(min(l, maxLevels-1))
	}
	return levels
}

// builder is the state of one Build.
type builder struct {
	ix     *Index
	cfg    Config
	levels []uint8
	top    int // the entry point's layer
	codes  *codes
	// props[x-start][lv] are the links chosen for row x of the current
	// batch on layer lv.
	props [][][]uint32
	pool  sync.Pool // *worker
}

// worker is one goroutine's scratch.
type worker struct {
	s      *searcher
	walk   *int8Scorer // the row being inserted, for the walk
	exact  *scorer     // the row being inserted or linked back to
	side   *scorer     // the heuristic's candidate
	eps    []cand
	sel    []cand
	selRow []uint32
	cand   []cand
	rows   []uint32
	sims   []float32
}

// simsFor returns room for n scores.
func (w *worker) simsFor(n int) []float32 {
	if cap(w.sims) < n {
		w.sims = make([]float32, n)
	}
	return w.sims[:n]
}

func (b *builder) newWorker() *worker {
	set := b.ix.set
	return &worker{s: newSearcher(b.ix.rows), walk: newInt8Scorer(b.codes),
		exact: &scorer{vecs: set, inv: set.InvNorms()},
		side:  &scorer{vecs: set, inv: set.InvNorms()}}
}

// searchBatch chooses the links of rows [start, end) in parallel, each
// against the graph as it was before the batch.
func (b *builder) searchBatch(ctx context.Context, start, end int) error {
	if cap(b.props) < end-start {
		b.props = make([][][]uint32, end-start)
	}
	b.props = b.props[:end-start]
	workers := min(b.cfg.Workers, end-start)
	var next atomic.Int64
	next.Store(int64(start))
	var failed atomic.Bool
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			w, _ := b.pool.Get().(*worker)
			if w == nil {
				w = b.newWorker()
			}
			defer b.pool.Put(w)
			for {
				x := int(next.Add(1) - 1)
				if x >= end || failed.Load() {
					return
				}
				if ctx.Err() != nil {
					failed.Store(true)
					return
				}
				b.props[x-start] = b.choose(w, uint32(x))
			}
		})
	}
	wg.Wait()
	if failed.Load() {
		return ctx.Err()
	}
	return nil
}

// choose finds row x's links on each of its layers (up to the graph's
// top).
func (b *builder) choose(w *worker, x uint32) [][]uint32 {
	ix := b.ix
	sc := w.walk
	sc.setQuery(x)
	w.exact.setRow(x)
	lx := int(b.levels[x])
	ep := cand{score1(sc, w.s, ix.entry), ix.entry}
	for lv := b.top; lv > lx; lv-- {
		ep = ix.greedy(sc, w.s, lv, ep)
	}
	props := make([][]uint32, min(lx, b.top)+1)
	w.eps = append(w.eps[:0], ep)
	for lv := min(lx, b.top); lv >= 0; lv-- {
		found := ix.beam(sc, w.s, lv, w.eps, b.cfg.EfConstruction)
		w.eps = append(w.eps[:0], found...)
		// The links are chosen by float32 scores: int8 ones cannot rank
		// undertrained rare words, whose cosines to each other differ
		// in the fourth decimal.
		w.rows = w.rows[:0]
		for _, c := range w.eps {
			w.rows = append(w.rows, c.row)
		}
		sims := w.simsFor(len(w.rows))
		w.exact.scoreRows(w.rows, sims)
		for i := range w.eps {
			w.eps[i].score = sims[i]
		}
		sortBest(w.eps)
		mmax := ix.m
		if lv == 0 {
			mmax = ix.m0
		}
		sel := b.heuristic(w, w.eps, mmax)
		p := make([]uint32, len(sel))
		for i, c := range sel {
			p[i] = c.row
		}
		props[lv] = p
	}
	return props
}

// sortBest sorts best first.
func sortBest(c []cand) {
	slices.SortFunc(c, func(a, b cand) int {
		switch {
		case better(a, b):
			return -1
		case better(b, a):
			return 1
		}
		return 0
	})
}

// heuristic is HNSW's neighbour selection: from candidates sorted best
// first (scores against the base row), keep a candidate only if it is
// closer to the base than to every one kept, up to mmax. Links then point
// in diverse directions, which keeps clusters connected to each other.
func (b *builder) heuristic(w *worker, sorted []cand, mmax int) []cand {
	sel, rows := w.sel[:0], w.selRow[:0]
	for _, c := range sorted {
		if len(sel) == mmax {
			break
		}
		keep := true
		if len(rows) > 0 {
			w.side.setRow(c.row)
			// Eight selected rows at a time: most candidates are
			// dropped by the first ones (the nearest to the base).
			for lo := 0; lo < len(rows) && keep; lo += 8 {
				part := rows[lo:min(lo+8, len(rows))]
				sims := w.simsFor(len(part))
				w.side.scoreRows(part, sims)
				for _, s := range sims {
					if s > c.score {
						keep = false
						break
					}
				}
			}
		}
		if keep {
			sel, rows = append(sel, c), append(rows, c.row)
		}
	}
	w.sel, w.selRow = sel, rows
	return sel
}

// linkBatch writes the batch's rows' own links, then adds the links back
// to them, re-selecting a row's links by the heuristic when they overflow.
// Rows are linked back to in row order, each older row independently of
// the others (in parallel), so the result does not depend on timing.
func (b *builder) linkBatch(start, end int) {
	ix := b.ix
	var edges [maxLevels][]uint64 // per layer: target<<32 | source
	for i, props := range b.props[:end-start] {
		x := uint32(start + i)
		for lv, p := range props {
			dst := ix.links(lv, x)
			copy(dst, p)
			for _, y := range p {
				edges[lv] = append(edges[lv], uint64(y)<<32|uint64(x))
			}
		}
	}
	for lv := range edges {
		e := edges[lv]
		if len(e) == 0 {
			continue
		}
		slices.Sort(e)
		// groups of one target
		var groups [][]uint64
		for lo := 0; lo < len(e); {
			hi := lo + 1
			for hi < len(e) && e[hi]>>32 == e[lo]>>32 {
				hi++
			}
			groups = append(groups, e[lo:hi])
			lo = hi
		}
		mmax := ix.m
		if lv == 0 {
			mmax = ix.m0
		}
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(b.cfg.Workers, len(groups)) {
			wg.Go(func() {
				w, _ := b.pool.Get().(*worker)
				if w == nil {
					w = b.newWorker()
				}
				defer b.pool.Put(w)
				for {
					g := int(next.Add(1) - 1)
					if g >= len(groups) {
						return
					}
					b.linkBack(w, lv, groups[g], mmax)
				}
			})
		}
		wg.Wait()
	}
}

// linkBack adds the sources of group (edges to one target row) to the
// target's links on layer lv.
func (b *builder) linkBack(w *worker, lv int, group []uint64, mmax int) {
	y := uint32(group[0] >> 32)
	list := b.ix.links(lv, y)
	n := slices.Index(list, noLink)
	if n < 0 {
		n = len(list)
	}
	if n+len(group) <= mmax {
		for i, e := range group {
			list[n+i] = uint32(e)
		}
		return
	}
	rows := append(w.rows[:0], list[:n]...)
	for _, e := range group {
		rows = append(rows, uint32(e))
	}
	sims := w.simsFor(len(rows))
	w.exact.setRow(y)
	w.exact.scoreRows(rows, sims)
	all := w.cand[:0]
	for i, r := range rows {
		all = append(all, cand{sims[i], r})
	}
	w.rows = rows
	sortBest(all)
	sel := b.heuristic(w, all, mmax)
	for i := range list {
		list[i] = noLink
		if i < len(sel) {
			list[i] = sel[i].row
		}
	}
	w.cand = all
}
