package vectorcache

import (
	"context"
	"os"
	"strconv"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/service"
)

// BenchmarkColdFirstQuery: the first query of a model on a replica whose
// memory holds none of it (a new service cache each iteration), its
// vectors in MongoDB (FerretDB here): read from GridFS (store), from the
// local copy an earlier load left (disk), and the first load of all that
// makes the copy (copy: download, fsync, rename, map). 100,000 x 100 by
// default (OPH_BENCH_ROWS, OPH_BENCH_DIM); run with -bench only, e.g.
//
//	go test ./internal/vectorcache/ -run '^$' -bench ColdFirstQuery -benchtime 5x
func BenchmarkColdFirstQuery(b *testing.B) {
	rows, dim := envInt("OPH_BENCH_ROWS", 100_000), envInt("OPH_BENCH_DIM", 100)
	ctx := context.Background()
	s := openMongo(b)
	file := compact(b, rows, dim, 1)
	id := importBytes(b, s, "", file)
	b.Logf("%d x %d: %.1f MB", rows, dim, float64(len(file))/1e6)
	query := func(b *testing.B, r ophicleide.VectorReader) {
		queries := service.NewQueries(s, service.NewCache(r, 1<<30))
		ns, err := queries.Nearest(ctx, id, "w1", 10)
		if err != nil || len(ns) != 10 {
			b.Fatal(ns, err)
		}
	}
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			query(b, s)
		}
	})
	b.Run("disk", func(b *testing.B) {
		c, err := Open(s, b.TempDir(), 1<<30, nil)
		if err != nil {
			b.Fatal(err)
		}
		query(b, c) // the copy, made once
		for b.Loop() {
			query(b, c)
		}
		if d := c.Downloads(); d != 1 {
			b.Fatalf("%d downloads", d)
		}
	})
	b.Run("copy", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			c, err := Open(s, dir, 1<<30, nil)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			query(b, c)
			b.StopTimer()
			os.RemoveAll(dir)
			b.StartTimer()
		}
	})
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}
