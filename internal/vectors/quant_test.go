package vectors

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/vecmath"
)

// quantTestSets are sets chosen to stress the quantized pass: uniform
// values, tight clusters of near-identical rows (many scores within the
// error bound of each other), exact duplicate rows (ties), zero rows, rows
// dominated by one huge component (coarse int8 steps elsewhere), and
// dimensions that are not multiples of 16.
func quantTestSets(t *testing.T) map[string]*Set {
	t.Helper()
	sets := map[string]*Set{
		"uniform-d100": randomSet(t, 6000, 100, 3),
		"uniform-d7":   randomSet(t, 30000, 7, 4),
		"uniform-d1":   randomSet(t, 3000, 1, 5),
		"uniform-d300": randomSet(t, 2000, 300, 6),
	}
	build := func(name string, n, dim int, row func(r *rand.Rand, i int, v []float32)) {
		r := rand.New(rand.NewPCG(uint64(len(name)), 9))
		words := make([]string, n)
		vecs := make([]float32, n*dim)
		for i := range n {
			words[i] = fmt.Sprintf("w%d", i)
			row(r, i, vecs[i*dim:(i+1)*dim])
		}
		s, err := New(words, dim, vecs)
		if err != nil {
			t.Fatal(err)
		}
		sets[name] = s
	}
	centres := make([][]float32, 20)
	for c := range centres {
		centres[c] = make([]float32, 64)
		for j := range centres[c] {
			centres[c][j] = rand.Float32()*2 - 1
		}
	}
	build("clusters-d64", 8000, 64, func(r *rand.Rand, i int, v []float32) {
		for j := range v {
			v[j] = centres[i%20][j] + 1e-3*(r.Float32()-0.5)
		}
	})
	build("duplicates-zeros-d50", 8000, 50, func(r *rand.Rand, i int, v []float32) {
		switch i % 5 {
		case 0: // zero row
		case 1, 2: // exact copies of one of 7 rows
			rr := rand.New(rand.NewPCG(uint64(i%7), 1))
			for j := range v {
				v[j] = rr.Float32() - 0.5
			}
		default:
			for j := range v {
				v[j] = r.Float32() - 0.5
			}
		}
	})
	build("spiky-d100", 6000, 100, func(r *rand.Rand, i int, v []float32) {
		for j := range v {
			v[j] = 1e-3 * (r.Float32() - 0.5)
		}
		v[i%100] = 50
	})
	return sets
}

// TestQuantBound checks the invariant the quantized search rests on: every
// row's approximate score is within bound of its exact score.
func TestQuantBound(t *testing.T) {
	for name, s := range quantTestSets(t) {
		qi := s.quantized()
		r := rand.New(rand.NewPCG(1, 2))
		for trial := range 20 {
			q := s.UnitRow(r.IntN(s.Len()))
			if trial%2 == 1 {
				q = randomUnit(r, s.Dim())
			}
			qq, ok := quantizeQuery(q, qi.dp)
			if !ok {
				continue
			}
			approx := make([]float32, s.Len())
			vecmath.DotRowsInt8(qq.q, qi.coarse.data, qi.coarse.scale, approx)
			all := make([]int, s.Len())
			for i := range all {
				all[i] = i
			}
			fine := qi.fineScores(qq, all, approx, new(quantScratch))
			for i := range approx {
				exact := s.score(q, i)
				for _, l := range []struct {
					name   string
					approx float32
					level  *quantLevel
				}{{"coarse", approx[i], &qi.coarse}, {"fine", fine[i], &qi.fine}} {
					a := l.approx * qq.inv
					b := qq.bound(l.level.err[i])
					if d := a - exact; d > b || -d > b {
						t.Fatalf("%s: row %d %s approx %v exact %v differ by more than bound %v", name, i, l.name, a, exact, b)
					}
					if l.level.err[i] > l.level.maxErr {
						t.Fatalf("%s: row %d %s error %v above maxErr %v", name, i, l.name, l.level.err[i], l.level.maxErr)
					}
				}
			}
		}
	}
}

// TestQuantSearchEqualsExact compares the quantized path with the exact
// scan, rows, order and score bits, for many queries, sizes and
// restrictions, with pass 1 in one goroutine and split among several.
func TestQuantSearchEqualsExact(t *testing.T) {
	t.Run("serial", func(t *testing.T) { testQuantSearchEqualsExact(t) })
	t.Run("split", func(t *testing.T) {
		defer func(old int) { quantSplitMinValues = old }(quantSplitMinValues)
		quantSplitMinValues = 0
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(3))
		testQuantSearchEqualsExact(t)
	})
}

func testQuantSearchEqualsExact(t *testing.T) {
	for name, s := range quantTestSets(t) {
		r := rand.New(rand.NewPCG(3, 4))
		for trial := range 40 {
			q := s.UnitRow(r.IntN(s.Len()))
			if trial%3 == 1 {
				q = randomUnit(r, s.Dim())
			}
			rows := s.Len()
			if trial%4 == 3 {
				rows = s.Len()/2 + r.IntN(s.Len()/2)
			}
			k := []int{1, 5, 10, 30, 100}[trial%5]
			got, ok := s.topKQuant(s.quantized(), q, rows, k)
			if zero := !slices.ContainsFunc(q, func(v float32) bool { return v != 0 }); ok == zero {
				t.Fatalf("%s: quantized path taken %v for a query that is zero %v", name, ok, zero)
			}
			if !ok {
				continue
			}
			want := s.topKExact(q, rows, k)
			if !slices.Equal(got, want) {
				t.Fatalf("%s trial %d (rows %d, k %d):\n got %v\nwant %v", name, trial, rows, k, got, want)
			}
		}
	}
}

func TestQuantZeroQueryFallsBack(t *testing.T) {
	s := randomSet(t, 5000, 64, 1)
	if _, ok := s.topKQuant(s.quantized(), make([]float32, 64), s.Len(), 10); ok {
		t.Fatal("zero query took the quantized path")
	}
	got := s.Search(make([]float32, 64), 3, 0, nil) // every score 0: lowest rows
	if len(got) != 3 || got[0].Word != "w0" || got[2].Word != "w2" || got[0].Score != 0 {
		t.Fatalf("zero query: %v", got)
	}
}

func randomUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for j := range v {
		v[j] = float32(r.NormFloat64())
	}
	var n float64
	for _, x := range v {
		n += float64(x) * float64(x)
	}
	if n == 0 {
		v[0] = 1
		return v
	}
	inv := float32(1 / math.Sqrt(n))
	for j := range v {
		v[j] *= inv
	}
	return v
}

// BenchmarkNearestExact is BenchmarkNearest with the exact scan only, the
// peer the quantized path is measured against in the same run.
func BenchmarkNearestExact(b *testing.B) {
	s := randomSet(b, 58_000, 100, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		row := i % s.Len()
		s.topKExact(s.UnitRow(row), s.Len(), 11)
		i += 7919
	}
}

// BenchmarkNearestFile measures Nearest (quantized) and the exact scan on
// a real model: the vectors file OPH_BENCH_VECTORS names (any format Load
// reads; `BENCH_CORPUS=full make bench` leaves 57,672 x 100 ones under
// BENCH_OUT/ophicleide-sg-r1/vectors.txt). Query j is row (j*7919) mod the
// vocabulary size, so most are rare words: the words
// scripts/nearest_peer.py gives gensim's most_similar, and
// scripts/nearest-bench.sh runs both. Besides ns/op (the mean) it reports
// the median and 99th percentile of single queries in ms. Skipped without
// the variable.
func BenchmarkNearestFile(b *testing.B) {
	path := os.Getenv("OPH_BENCH_VECTORS")
	if path == "" {
		b.Skip("set OPH_BENCH_VECTORS to a vectors file")
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	s, err := Load(f)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	s.quantized()
	timed := func(b *testing.B, query func(row int)) {
		var ts []time.Duration
		j := 0
		for b.Loop() {
			t := time.Now()
			query((j * 7919) % s.Len())
			ts = append(ts, time.Since(t))
			j++
		}
		slices.Sort(ts)
		b.ReportMetric(float64(ts[len(ts)/2])/1e6, "p50-ms")
		b.ReportMetric(float64(ts[len(ts)*99/100])/1e6, "p99-ms")
	}
	b.Run("quantized", func(b *testing.B) {
		timed(b, func(row int) {
			if _, err := s.Nearest(s.Word(row), 10); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("exact", func(b *testing.B) {
		timed(b, func(row int) { s.topKExact(s.UnitRow(row), s.Len(), 11) })
	})
}
