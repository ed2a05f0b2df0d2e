package ann

import (
	"fmt"
	"math"
	"runtime"
	"slices"

	"github.com/ophicleide/ophicleide/internal/vecmath"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// cand is one scored row.
type cand struct {
	score float32
	row   uint32
}

// better reports whether a ranks above b: a higher score, or an equal
// score and a lower row (the exact scan's order).
func better(a, b cand) bool {
	return a.score > b.score || (a.score == b.score && a.row < b.row)
}

// searcher is one goroutine's scratch for walking the graph.
type searcher struct {
	visited []uint16 // visited[row] == stamp: seen in this walk
	stamp   uint16
	cands   []cand // max-heap (best first) of rows to expand
	results []cand // min-heap (worst first) of the best rows found
	todo    []uint32
	eps     []cand
	scores  []float32
	one     [1]uint32
}

func newSearcher(rows int) *searcher { return &searcher{visited: make([]uint16, rows)} }

// reset starts a walk.
func (s *searcher) reset() {
	s.stamp++
	if s.stamp == 0 { // wrapped: forget every mark
		clear(s.visited)
		s.stamp = 1
	}
	s.cands, s.results = s.cands[:0], s.results[:0]
}

// rowScorer scores rows against one query for a walk: the query path's
// float32 scorer, or the build's int8 one (quant.go).
type rowScorer interface {
	// scoreRows sets out[i] to the score of rows[i].
	scoreRows(rows []uint32, out []float32)
}

// scorer scores rows against a unit query for the walk, with
// vecmath.Dot: one row at a time it is a few times faster than DotRows,
// which scores a lone row with its four-row kernel, but its last bits may
// differ from the exact scan's; exact rescores the rows a walk returns.
type scorer struct {
	q    []float32
	qinv float32 // scores are multiplied by it too (setRow)
	vecs *vectors.Set
	inv  []float32
	out  [1]float32
}

func (sc *scorer) scoreRows(rows []uint32, out []float32) {
	// Rows are scattered: fetch the next ones while scoring this.
	const ahead = 2
	for _, y := range rows[:min(ahead, len(rows))] {
		vecmath.Prefetch(sc.vecs.Row(int(y)))
	}
	for i, y := range rows {
		if i+ahead < len(rows) {
			vecmath.Prefetch(sc.vecs.Row(int(rows[i+ahead])))
		}
		out[i] = vecmath.Dot(sc.q, sc.vecs.Row(int(y))) * sc.inv[y] * sc.qinv
	}
}

// setRow makes the unit vector of row the query (its raw row and inverse
// norm: nothing is copied).
func (sc *scorer) setRow(row uint32) {
	sc.q, sc.qinv = sc.vecs.Row(int(row)), sc.inv[row]
}

// exact sets the score of each of found to the exact scan's (DotRows, as
// vectors.Set.Search computes it).
func (sc *scorer) exact(found []cand) {
	for i := range found {
		vecmath.DotRows(sc.q, sc.vecs.Row(int(found[i].row)), sc.out[:])
		found[i].score = sc.out[0] * sc.inv[found[i].row]
	}
}

// score1 scores one row.
func score1(sc rowScorer, s *searcher, row uint32) float32 {
	s.one[0] = row
	out := s.scoresFor(1)
	sc.scoreRows(s.one[:], out)
	return out[0]
}

// greedy walks layer lv from ep to the row there best for the query
// (a beam of one), as the descent through the upper layers does.
func (ix *Index) greedy(sc rowScorer, s *searcher, lv int, ep cand) cand {
	for {
		s.todo = s.todo[:0]
		for _, y := range ix.links(lv, ep.row) {
			if y == noLink {
				break
			}
			s.todo = append(s.todo, y)
		}
		scores := s.scoresFor(len(s.todo))
		sc.scoreRows(s.todo, scores)
		moved := false
		for i, y := range s.todo {
			if c := (cand{scores[i], y}); better(c, ep) {
				ep, moved = c, true
			}
		}
		if !moved {
			return ep
		}
	}
}

// scoresFor returns room for n scores.
func (s *searcher) scoresFor(n int) []float32 {
	if cap(s.scores) < n {
		s.scores = make([]float32, n)
	}
	return s.scores[:n]
}

// beam is the layer search of HNSW: from the entry rows eps, expand the
// best unexpanded row until none can improve the ef best found. It leaves
// those rows in s.results (a min-heap) and returns them.
func (ix *Index) beam(sc rowScorer, s *searcher, lv int, eps []cand, ef int) []cand {
	s.reset()
	for _, e := range eps {
		if s.visited[e.row] == s.stamp {
			continue
		}
		s.visited[e.row] = s.stamp
		s.cands = pushMax(s.cands, e)
		s.results = pushMin(s.results, e)
		if len(s.results) > ef {
			s.results = popMin(s.results)
		}
	}
	for len(s.cands) > 0 {
		c := s.cands[0]
		if len(s.results) >= ef && better(s.results[0], c) {
			break // the best left cannot enter the results
		}
		s.cands = popMax(s.cands)
		s.todo = s.todo[:0]
		for _, y := range ix.links(lv, c.row) {
			if y == noLink {
				break
			}
			if s.visited[y] != s.stamp {
				s.visited[y] = s.stamp
				s.todo = append(s.todo, y)
			}
		}
		scores := s.scoresFor(len(s.todo))
		sc.scoreRows(s.todo, scores)
		for i, y := range s.todo {
			n := cand{scores[i], y}
			if len(s.results) < ef || better(n, s.results[0]) {
				s.cands = pushMax(s.cands, n)
				s.results = pushMin(s.results, n)
				if len(s.results) > ef {
					s.results = popMin(s.results)
				}
			}
		}
	}
	return s.results
}

// Search returns the k rows most similar to query by cosine, with the
// index's default beam width (Ef); see SearchEf.
func (ix *Index) Search(query []float32, k int, exclude []int) []vectors.Neighbor {
	return ix.SearchEf(query, k, ix.ef, exclude)
}

// exactShare: a search asking for at least rows/exactShare results scans
// exactly instead (a beam that wide visits most of the graph anyway).
const exactShare = 8

// SearchEf returns up to k rows most similar to query (any norm), best
// first, ties by the lower row, scored exactly as vectors.Set.Search
// scores them; rows in exclude (out-of-range ones are ignored) are never
// returned. Fewer than k come back only when fewer rows remain. The beam
// is max(ef, k+len(exclude)) wide: a wider one finds more of the true
// best rows and costs more. A zero query scores every row 0 (the first
// rows come back, as from the exact scan); a query holding a NaN or an
// infinity returns nil. k <= 0 returns nil. It panics if len(query) is
// not the set's dimension (a programmer error). It reads but does not keep
// query and exclude; the caller owns the result.
func (ix *Index) SearchEf(query []float32, k, ef int, exclude []int) []vectors.Neighbor {
	defer runtime.KeepAlive(ix)
	if len(query) != ix.dim {
		panic(fmt.Sprintf("ann: query has length %d, want dimension %d", len(query), ix.dim))
	}
	if k <= 0 || ix.rows == 0 {
		return nil
	}
	q, ok := unit(query)
	if !ok {
		return nil
	}
	k = min(k, ix.rows) // no sums that overflow below
	width := max(min(ef, ix.rows), k+len(exclude))
	if q == nil || width*exactShare >= ix.rows {
		return ix.set.SearchExact(query, k, 0, exclude)
	}

	s, _ := ix.scratch.Get().(*searcher)
	if s == nil {
		s = newSearcher(ix.rows)
	}
	defer ix.scratch.Put(s)
	sc := &scorer{q: q, qinv: 1, vecs: ix.set, inv: ix.set.InvNorms()}
	found := ix.walk(sc, s, 0, width)
	sc.exact(found)

	slices.SortFunc(found, func(a, b cand) int {
		switch {
		case better(a, b):
			return -1
		case better(b, a):
			return 1
		}
		return 0
	})
	skip := func(row uint32) bool { return slices.Contains(exclude, int(row)) }
	if len(exclude) > 16 {
		set := make(map[uint32]struct{}, len(exclude))
		for _, r := range exclude {
			if r >= 0 && r < ix.rows {
				set[uint32(r)] = struct{}{}
			}
		}
		skip = func(row uint32) bool { _, ok := set[row]; return ok }
	}
	out := make([]vectors.Neighbor, 0, min(k, len(found)))
	for _, c := range found {
		if len(out) == k {
			break
		}
		if !skip(c.row) {
			out = append(out, vectors.Neighbor{Word: ix.set.Word(int(c.row)), Score: c.score})
		}
	}
	return out
}

// unit returns a unit copy of query, normalised as vectors.Set.Search
// normalises it (so that scores have the same bits), or nil for a zero
// query; ok is false if query holds a NaN or an infinity. A query whose
// squared norm overflows or underflows float32 is first scaled by its
// largest magnitude.
func unit(query []float32) (q []float32, ok bool) {
	var big float32
	for _, v := range query {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return nil, false
		}
		big = max(big, float32(math.Abs(float64(v))))
	}
	if big == 0 {
		return nil, true
	}
	q = slices.Clone(query)
	n2 := vecmath.Dot(q, q)
	if math.IsInf(float64(n2), 0) || n2 < 1e-30 {
		vecmath.Scale(1/big, q)
		n2 = vecmath.Dot(q, q)
	}
	vecmath.Scale(float32(1/math.Sqrt(float64(n2))), q)
	return q, true
}

// walk descends from the entry point to layer bottom and returns the
// width best rows of a beam search there (s.results, unordered).
//
// The layer just above bottom is searched with a beam of ix.upperEf rows
// (if above 1) rather than greedily, and all of them enter the bottom
// layer: in clustered data a greedy descent can end in a neighbouring
// cluster, which a narrow beam on layer 0 then does not leave.
func (ix *Index) walk(sc rowScorer, s *searcher, bottom, width int) []cand {
	ep := cand{score1(sc, s, ix.entry), ix.entry}
	s.eps = append(s.eps[:0], ep)
	for lv := len(ix.upper); lv > bottom; lv-- {
		if lv == bottom+1 && ix.upperEf > 1 {
			found := ix.beam(sc, s, lv, s.eps, ix.upperEf)
			s.eps = append(s.eps[:0], found...)
			break
		}
		s.eps[0] = ix.greedy(sc, s, lv, s.eps[0])
	}
	return ix.beam(sc, s, bottom, s.eps, width)
}

// Heaps of cand: pushMax/popMax keep the best at [0], pushMin/popMin the
// worst.

func pushMax(h []cand, c cand) []cand {
	h = append(h, c)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !better(h[i], h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func popMax(h []cand) []cand {
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && better(h[c+1], h[c]) {
			c++
		}
		if !better(h[c], h[i]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	return h
}

func pushMin(h []cand, c cand) []cand {
	h = append(h, c)
	for i := len(h) - 1; i > 0; {
		p := (i - 1) / 2
		if !better(h[p], h[i]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
	return h
}

func popMin(h []cand) []cand {
	n := len(h) - 1
	h[0] = h[n]
	h = h[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && better(h[c], h[c+1]) {
			c++
		}
		if !better(h[i], h[c]) {
			break
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
	return h
}
