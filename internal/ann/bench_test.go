package ann

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

// BenchmarkTable is the table for synthetic clustered sets
// (synthetic): per size, the build's time (wall and CPU), the index's
// bytes, recall@10 against the exact scan and the p50/p99 latency of
// nearest-10 queries (a random row's unit vector, the row excluded, one
// goroutine issuing them) by the exact scan (vectors.Set.SearchExact,
// warmed up: its int8 images built) and by the index, in the same run.
//
// Sizes: 50000x100 by default; ANN_BENCH_BIG=1 runs 1000000x300 and
// 3000000x300 (3.6 GB of float32, builds of many minutes on 2 cores);
// ANN_BENCH_SIZES="200000x300,..." runs those instead. ANN_BENCH_WRITE=DIR
// also writes each set to DIR/synthetic-ROWSxDIM.txt in word2vec text
// format, for /work/shared/bench/query_speed.py (gensim's most_similar).
// ANN_BENCH_EF="64,96,128" reports recall and latency for several widths.
// ANN_BENCH_UPPER="1,16" does so for several beams on layer 1.
// ANN_BENCH_INDEX=DIR saves each index to DIR/synthetic-ROWSxDIM.hnsw and
// loads it from there when it exists (the build time is then not
// measured). ANN_BENCH_EXACT=N scores recall and the exact scan's latency
// over the first N of the 1,000 queries (default all: at 1M x 300 that is
// minutes). ANN_BENCH_M and ANN_BENCH_EFC set the build's M and
// EfConstruction. ANN_BENCH_VECTORS=FILE measures the set in FILE (any format
// vectors.Load reads, e.g. the medium model `BENCH_CORPUS=full make bench`
// trains) instead of the synthetic sizes. scripts/ann-bench.sh runs this
// and gensim's most_similar on the same file in one command.
//
//	go test -run '^$' -bench Table -benchtime 1x ./internal/ann/
//	ANN_BENCH_BIG=1 go test -run '^$' -bench Table -benchtime 1x -timeout 3h ./internal/ann/
func BenchmarkTable(b *testing.B) {
	sizes := "50000x100"
	if os.Getenv("ANN_BENCH_BIG") != "" {
		sizes = "1000000x300,3000000x300"
	}
	if s := os.Getenv("ANN_BENCH_SIZES"); s != "" {
		sizes = s
	}
	efs := []int{DefaultEf}
	if s := os.Getenv("ANN_BENCH_EF"); s != "" {
		efs = nil
		for _, f := range strings.Split(s, ",") {
			ef, err := strconv.Atoi(f)
			if err != nil {
				b.Fatal(err)
			}
			efs = append(efs, ef)
		}
	}
	if path := os.Getenv("ANN_BENCH_VECTORS"); path != "" {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		set, err := vectors.Load(f)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.Run("file", func(b *testing.B) {
			for b.Loop() {
				benchSet(b, set, efs)
			}
		})
		return
	}
	for _, size := range strings.Split(sizes, ",") {
		var rows, dim int
		if _, err := fmt.Sscanf(size, "%dx%d", &rows, &dim); err != nil {
			b.Fatalf("size %q: %v", size, err)
		}
		b.Run(size, func(b *testing.B) {
			for b.Loop() {
				benchSize(b, rows, dim, efs)
			}
		})
	}
}

func benchSize(b *testing.B, rows, dim int, efs []int) {
	t0 := time.Now()
	set := synthetic(b, rows, dim, 1)
	b.Logf("%dx%d: generated in %v", rows, dim, time.Since(t0).Round(time.Millisecond))
	benchSet(b, set, efs)
}

func benchSet(b *testing.B, set *vectors.Set, efs []int) {
	rows, dim := set.Len(), set.Dim()
	if dir := os.Getenv("ANN_BENCH_WRITE"); dir != "" {
		path := filepath.Join(dir, fmt.Sprintf("synthetic-%dx%d.txt", rows, dim))
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		if err := vectors.WriteText(f, set); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		b.Logf("wrote %s", path)
	}
	var ix *Index
	var build, buildCPU time.Duration
	saved := ""
	if dir := os.Getenv("ANN_BENCH_INDEX"); dir != "" {
		saved = filepath.Join(dir, fmt.Sprintf("synthetic-%dx%d.hnsw", rows, dim))
		if f, err := os.Open(saved); err == nil {
			t0 := time.Now()
			ix, err = Load(f, set)
			f.Close()
			if err != nil {
				b.Fatal(err)
			}
			b.Logf("%dx%d: loaded %s in %v (build time not measured)", rows, dim, saved, time.Since(t0).Round(time.Millisecond))
		}
	}
	if ix == nil {
		t0, c0 := time.Now(), cpuTime()
		var err error
		cfg := Config{}
		if v := os.Getenv("ANN_BENCH_M"); v != "" {
			cfg.M, _ = strconv.Atoi(v)
		}
		if v := os.Getenv("ANN_BENCH_EFC"); v != "" {
			cfg.EfConstruction, _ = strconv.Atoi(v)
		}
		ix, err = Build(context.Background(), set, cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		build, buildCPU = time.Since(t0), cpuTime()-c0
		b.Logf("%dx%d: built in %v (%v CPU, GOMAXPROCS %d), %d layers, %.1f MB",
			rows, dim, build.Round(time.Millisecond), buildCPU.Round(time.Millisecond), runtime.GOMAXPROCS(0), ix.Levels(), float64(ix.Bytes())/1e6)
		if saved != "" {
			f, err := os.Create(saved)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := ix.WriteTo(f); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	}

	rng := rand.New(rand.NewPCG(42, 42))
	queries := make([]int, 1000)
	for i := range queries {
		queries[i] = rng.IntN(rows)
	}
	// Warm the exact scan up: its first searches build its int8 images
	// in the background.
	for i, end := 0, time.Now().Add(3*time.Second); time.Now().Before(end); i++ {
		r := queries[i%len(queries)]
		set.SearchExact(set.UnitRow(r), 10, 0, []int{r})
	}
	nExact := len(queries)
	if s := os.Getenv("ANN_BENCH_EXACT"); s != "" {
		nExact, _ = strconv.Atoi(s)
		nExact = min(max(nExact, 1), len(queries))
	}
	exact := make([][]vectors.Neighbor, nExact)
	var exactLat []time.Duration
	for i, r := range queries[:nExact] {
		q := set.UnitRow(r)
		t := time.Now()
		exact[i] = set.SearchExact(q, 10, 0, []int{r})
		exactLat = append(exactLat, time.Since(t))
	}
	ep50, ep99 := pct(exactLat, 50), pct(exactLat, 99)
	b.ReportMetric(build.Seconds(), "build-s")
	b.ReportMetric(buildCPU.Seconds(), "build-cpu-s")
	b.ReportMetric(float64(ix.Bytes())/1e6, "index-MB")
	b.ReportMetric(float64(ep50.Microseconds()), "exact-p50-µs")
	b.ReportMetric(float64(ep99.Microseconds()), "exact-p99-µs")
	uppers := []int{ix.upperEf}
	if s := os.Getenv("ANN_BENCH_UPPER"); s != "" {
		uppers = nil
		for _, f := range strings.Split(s, ",") {
			u, err := strconv.Atoi(f)
			if err != nil {
				b.Fatal(err)
			}
			uppers = append(uppers, u)
		}
	}
	def := ix.upperEf
	defer func() { ix.upperEf = def }()
	for _, upper := range uppers {
		ix.upperEf = upper
		benchEfs(b, ix, set, efs, queries, exact, ep50, ep99)
	}
}

func benchEfs(b *testing.B, ix *Index, set *vectors.Set, efs, queries []int, exact [][]vectors.Neighbor, ep50, ep99 time.Duration) {
	rows, dim, nExact := set.Len(), set.Dim(), len(exact)
	for _, ef := range efs {
		var lat []time.Duration
		hit, total := 0, 0
		for i, r := range queries {
			q := set.UnitRow(r)
			t := time.Now()
			got := ix.SearchEf(q, 10, ef, []int{r})
			lat = append(lat, time.Since(t))
			if i < nExact {
				for _, w := range exact[i] {
					if slices.ContainsFunc(got, func(g vectors.Neighbor) bool { return g.Word == w.Word }) {
						hit++
					}
				}
				total += len(exact[i])
			}
		}
		p50, p99 := pct(lat, 50), pct(lat, 99)
		recall := float64(hit) / float64(total)
		b.Logf("%dx%d ef %d (layer 1 beam %d): recall@10 %.4f over %d queries; p50 exact %v ann %v (%.1fx); p99 exact %v ann %v (%.1fx)",
			rows, dim, ef, ix.upperEf, recall, nExact, ep50, p50, float64(ep50)/float64(p50), ep99, p99, float64(ep99)/float64(p99))
		if ef == efs[0] && ix.upperEf == defaultUpperEf {
			b.ReportMetric(recall, "recall@10")
			b.ReportMetric(float64(p50.Microseconds()), "ann-p50-µs")
			b.ReportMetric(float64(p99.Microseconds()), "ann-p99-µs")
		}
	}
}

// pct is the p-th percentile of d (sorted in place).
func pct(d []time.Duration, p int) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, len(d)*p/100)]
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSearch is one query's cost at the default width on 50k x 100.
func BenchmarkSearch(b *testing.B) {
	set := synthetic(b, 50_000, 100, 1)
	ix, err := Build(context.Background(), set, Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	q := set.UnitRow(123)
	for b.Loop() {
		ix.Search(q, 10, []int{123})
	}
}
