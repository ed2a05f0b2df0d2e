package vectors

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/ophicleide/ophicleide/internal/vecmath"
)

// parallelMinValues is the number of matrix values (rows*dim) a search must
// scan before it is split among GOMAXPROCS goroutines: below it, waking the
// other goroutines costs about what they save. Measured with
// BenchmarkSearchSplit (dim 100, 2-core AMD EPYC VM running other work,
// AVX2 Dot at ~15 ns a row): serial vs split was 7 vs 14 µs at 500 rows,
// 42 vs 56 µs at 2,000, 100 vs 140 µs at 5,000, 210 vs 210 µs at 10,000 and
// 1.37 vs 0.98 ms at 58,000. An idle machine splits profitably earlier;
// re-measure there and lower this if it matters.
const parallelMinValues = 1_000_000

// Search returns the n rows with the highest cosine similarity to query
// among the first restrict rows (restrict <= 0 or > Len means all rows),
// best first, ties broken by the lower row index. With an index attached
// (SetApprox) and every row searched the index answers, and may miss some
// of the true best rows; a restrict below Len is the exact scan, and so
// is SearchWith with Exact. Rows listed in exclude
// are skipped (indexes out of range are ignored). Fewer than n neighbours
// are returned when fewer rows qualify; n <= 0 returns nil.
//
// query need not be unit length; a zero query scores every row 0. Search
// reads but does not keep query or exclude; the caller owns the result.
// It panics if len(query) != Dim (a programmer error). Cost: one Dot per scanned row plus
// O(rows*log(n+len(exclude))) heap work, split across cores for large sets.
func (s *Set) Search(query []float32, n, restrict int, exclude []int) []Neighbor {
	defer runtime.KeepAlive(s)
	return s.search(s.unitQuery("Search", query), n, restrict, exclude)
}

// unitQuery returns a unit-length copy of query (a zero query stays zero)
// for the search named fn; it panics if len(query) != Dim.
func (s *Set) unitQuery(fn string, query []float32) []float32 {
	if len(query) != s.dim {
		panic(fmt.Sprintf("vectors: %s query has length %d, want dimension %d", fn, len(query), s.dim))
	}
	q := make([]float32, s.dim)
	copy(q, query)
	if norm := math.Sqrt(float64(vecmath.Dot(q, q))); norm > 0 {
		vecmath.Scale(float32(1/norm), q)
	}
	return q
}

// Nearest returns the n words most similar to word, best first, word
// itself excluded (gensim's most_similar(positive=[word])), scored by
// cosine similarity. It returns an *UnknownWordError if word is not in the
// set. The caller owns the result.
//
// A word outside the vocabulary of a set with subwords is searched by
// its n-grams' vector (WordVector), excluding nothing.
func (s *Set) Nearest(word string, n int) ([]Neighbor, error) {
	return s.NearestIn(word, n, 0)
}

// NearestIn is Nearest with the candidates restricted to the first
// restrict rows (the most frequent words; restrict <= 0 or > Len: all),
// gensim's restrict_vocab. word itself may lie beyond them. As Search, it
// uses an attached index only when every row is searched.
func (s *Set) NearestIn(word string, n, restrict int) ([]Neighbor, error) {
	return s.NearestWith(word, n, SearchOptions{Restrict: restrict})
}

// Analogy answers "positive[0] - negative[0] + positive[1] ..." by 3CosAdd,
// exactly as gensim's most_similar(positive, negative, topn=n): the mean of
// the unit vectors of the words (weight +1 for positive, -1 for negative,
// repeated words counted each time), scaled to unit length, is searched
// among all rows with the input words excluded.
//
// It returns an error wrapping ErrInvalid if both lists are empty, and an
// *UnknownWordError naming the first unknown word (positive before
// negative, in list order). The lists are only read.
func (s *Set) Analogy(positive, negative []string, n int) ([]Neighbor, error) {
	return s.AnalogyIn(positive, negative, n, 0)
}

// AnalogyIn is Analogy with the candidates restricted to the first
// restrict rows (the most frequent words; restrict <= 0 or > Len: all),
// gensim's restrict_vocab. As Search, it uses an attached index only
// when every row is searched.
func (s *Set) AnalogyIn(positive, negative []string, n, restrict int) ([]Neighbor, error) {
	return s.AnalogyWith(positive, negative, n, SearchOptions{Restrict: restrict})
}

// AnalogyWith is AnalogyIn with options.
func (s *Set) AnalogyWith(positive, negative []string, n int, opt SearchOptions) ([]Neighbor, error) {
	defer runtime.KeepAlive(s)
	if len(positive)+len(negative) == 0 {
		return nil, fmt.Errorf("%w: analogy needs at least one word", ErrInvalid)
	}
	mean := make([]float32, s.dim)
	exclude := make([]int, 0, len(positive)+len(negative))
	add := func(words []string, weight float32) error {
		for _, w := range words {
			i, ok := s.index[w]
			if !ok {
				// Outside the vocabulary of a set with subwords: its
				// n-grams' vector, nothing to exclude.
				u, err := s.oovUnit(w)
				if err != nil {
					return err
				}
				vecmath.Axpy(weight, u, mean)
				continue
			}
			vecmath.Axpy(weight, s.UnitRow(i), mean)
			exclude = append(exclude, i)
		}
		return nil
	}
	if err := add(positive, 1); err != nil {
		return nil, err
	}
	if err := add(negative, -1); err != nil {
		return nil, err
	}
	vecmath.Scale(1/float32(len(positive)+len(negative)), mean)
	return s.SearchWith(mean, n, opt, exclude), nil
}

// Similarity returns the cosine similarity of words a and b (0 if either
// vector is zero), or an *UnknownWordError naming the first unknown one.
func (s *Set) Similarity(a, b string) (float32, error) {
	defer runtime.KeepAlive(s)
	i, ok := s.index[a]
	var ua []float32
	if ok {
		ua = s.UnitRow(i)
	} else {
		var err error
		if ua, err = s.oovUnit(a); err != nil {
			return 0, err
		}
	}
	j, ok := s.index[b]
	if !ok {
		ub, err := s.oovUnit(b)
		if err != nil {
			return 0, err
		}
		return vecmath.Dot(ua, ub), nil
	}
	return s.score(ua, j), nil
}

// score is the cosine of row i with a unit query, computed exactly as scan
// scores rows in bulk, so Similarity, Nearest and Search always agree.
func (s *Set) score(q []float32, i int) float32 {
	return cosine(q, s.Row(i)) * s.invNorm[i]
}

// cosine is the dot product of q and row with the kernel scan uses in bulk
// (vecmath.DotRows gives a row the same bits wherever it sits).
func cosine(q, row []float32) float32 {
	var out [1]float32
	vecmath.DotRows(q, row, out[:])
	return out[0]
}

// SearchOptions tune a search: Restrict as NearestIn's; Exact asks for
// the exact scan even when an approximate index is attached (SetApprox).
type SearchOptions struct {
	Restrict int
	Exact    bool
}

// NearestWith is NearestIn with options.
func (s *Set) NearestWith(word string, n int, opt SearchOptions) ([]Neighbor, error) {
	defer runtime.KeepAlive(s)
	i, ok := s.index[word]
	if !ok {
		q, err := s.oovUnit(word)
		if err != nil {
			return nil, err
		}
		return s.searchWith(q, n, opt, nil), nil
	}
	return s.searchWith(s.UnitRow(i), n, opt, []int{i}), nil
}

// Approximate reports whether a search with opt goes to the attached
// index (for an answer to say so): one is attached, Exact is not asked
// and every row is searched. An index attached meanwhile (SetApprox is
// one-way while a set is used) may answer a search this said was exact.
func (s *Set) Approximate(opt SearchOptions) bool {
	return !opt.Exact && (opt.Restrict <= 0 || opt.Restrict >= len(s.words)) && s.Approx() != nil
}

// SearchWith is Search with options.
func (s *Set) SearchWith(query []float32, n int, opt SearchOptions, exclude []int) []Neighbor {
	if opt.Exact {
		return s.SearchExact(query, n, opt.Restrict, exclude)
	}
	return s.Search(query, n, opt.Restrict, exclude)
}

// searchWith is search with options.
func (s *Set) searchWith(q []float32, n int, opt SearchOptions, exclude []int) []Neighbor {
	if opt.Exact {
		return s.searchExact(q, n, opt.Restrict, exclude)
	}
	return s.search(q, n, opt.Restrict, exclude)
}

// search is Search for a query already of unit length (or zero): through
// the index attached with SetApprox when there is one and the search
// covers every row (restrict <= 0 or >= Len), else by the exact scan (an
// index covers all rows and cannot be asked for a prefix of them).
func (s *Set) search(q []float32, n, restrict int, exclude []int) []Neighbor {
	if n > 0 && (restrict <= 0 || restrict >= len(s.words)) {
		if a := s.Approx(); a != nil {
			return a.Search(q, n, exclude)
		}
	}
	return s.searchExact(q, n, restrict, exclude)
}

// hit is one scored row.
type hit struct {
	score float32
	row   int
}

// worse reports whether a ranks below b: lower score, or equal score and
// higher row.
func worse(a, b hit) bool {
	return a.score < b.score || (a.score == b.score && a.row > b.row)
}

// topK returns the k best rows among [0, rows), best first. k <= rows.
// Large sets take the quantized path (quant.go), with the same result.
func (s *Set) topK(q []float32, rows, k int) []hit {
	if len(s.words)*s.dim >= quantMinValues && k*8 <= rows {
		if qi := s.quantReady(); qi != nil {
			if hits, ok := s.topKQuant(qi, q, rows, k); ok {
				return hits
			}
		}
	}
	return s.topKExact(q, rows, k)
}

// topKExact is topK by scoring every row exactly.
func (s *Set) topKExact(q []float32, rows, k int) []hit {
	workers := min(runtime.GOMAXPROCS(0), rows/k) // a chunk must hold k rows to pay
	if rows*s.dim < parallelMinValues || workers < 2 {
		return sortHits(s.scan(q, 0, rows, k, nil))
	}
	return s.topKSplit(q, rows, k, workers)
}

// topKSplit is topK with the rows split among workers goroutines, each
// keeping its own heap, the heaps merged at the end.
func (s *Set) topKSplit(q []float32, rows, k, workers int) []hit {
	parts := make([][]hit, workers)
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		lo, hi := rows*w/workers, rows*(w+1)/workers
		wg.Go(func() { parts[w] = s.scan(q, lo, hi, k, nil) })
	}
	parts[0] = s.scan(q, 0, rows/workers, k, nil) // the caller takes the first chunk
	wg.Wait()
	all := make([]hit, 0, workers*k)
	for _, p := range parts {
		all = append(all, p...)
	}
	return sortHits(all)[:min(k, len(all))]
}

// sortHits sorts best first.
func sortHits(h []hit) []hit {
	slices.SortFunc(h, func(a, b hit) int {
		switch {
		case worse(b, a):
			return -1
		case worse(a, b):
			return 1
		}
		return 0
	})
	return h
}

// scan returns the best min(k, hi-lo) rows of [lo, hi) as a min-heap (worst
// at h[0]), reusing h's storage.
func (s *Set) scan(q []float32, lo, hi, k int, h []hit) []hit {
	dim := s.dim
	raw := s.vecs[lo*dim : hi*dim]
	h = h[:0]
	if cap(h) < k {
		h = make([]hit, 0, k)
	}
	i := lo
	for ; i < hi && len(h) < k; i++ {
		off := (i - lo) * dim
		h = offer(h, k, hit{cosine(q, raw[off:off+dim]) * s.invNorm[i], i})
	}
	if len(h) == 0 {
		return h
	}
	// Rows arrive in increasing order, so a later row with a score equal to
	// the current worst ranks below it: strictly greater is the test.
	floor := h[0].score
	var scores [scanBlock]float32
	for i < hi {
		nb := min(scanBlock, hi-i)
		off := (i - lo) * dim
		vecmath.DotRows(q, raw[off:off+nb*dim], scores[:nb])
		inv := s.invNorm[i : i+nb]
		for j, sc := range scores[:nb] {
			sc *= inv[j]
			if sc > floor {
				h[0] = hit{sc, i + j}
				siftDown(h, 0)
				floor = h[0].score
			}
		}
		i += nb
	}
	return h
}

// scanBlock is how many rows scan scores with one DotRows call.
const scanBlock = 256

// offer adds x to h, a min-heap of at most k hits (the worst at h[0]), if
// it ranks above the worst or h is not full.
func offer(h []hit, k int, x hit) []hit {
	switch {
	case len(h) < k:
		h = append(h, x)
		siftUp(h, len(h)-1)
	case worse(h[0], x):
		h[0] = x
		siftDown(h, 0)
	}
	return h
}

func siftUp(h []hit, i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !worse(h[i], h[p]) {
			return
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func siftDown(h []hit, i int) {
	n := len(h)
	for {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && worse(h[c+1], h[c]) {
			c++
		}
		if !worse(h[c], h[i]) {
			return
		}
		h[i], h[c] = h[c], h[i]
		i = c
	}
}
