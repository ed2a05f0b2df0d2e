package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// BenchmarkColdStart measures PRODUCT's cold start: the time from
// starting the real binary to the answer of the first POST /queries
// against a stored 60k-word model of dimension 100. The peer, in the same
// run, is the same model stored in the word2vec binary format (how models
// were stored before the Compact format). Run with a few iterations:
//
//	go test ./cmd/ophicleide -run '^$' -bench ColdStart -benchtime 5x
func BenchmarkColdStart(b *testing.B) {
	bin := binary(b)
	set := randomVectors(b, 60_000, 100)
	for _, f := range []struct {
		name  string
		write func(io.Writer, *vectors.Set) error
	}{{"compact", vectors.WriteCompact}, {"word2vec-binary", vectors.WriteBinary}} {
		b.Run(f.name, func(b *testing.B) {
			dir := b.TempDir()
			s, err := bolt.Open(context.Background(), dir)
			if err != nil {
				b.Fatal(err)
			}
			now := time.Now().UTC()
			m := &ophicleide.Model{ID: "7d3c9a84-0b4e-4c1e-9a57-6c0de0b1a001", Name: "cold", Status: ophicleide.StatusReady,
				URLs: []string{}, Created: now, Updated: now}
			err = s.ImportModel(context.Background(), m, func(w io.Writer) error { return f.write(w, set) })
			s.Close()
			if err != nil {
				b.Fatal(err)
			}
			var total time.Duration
			for b.Loop() {
				total += firstQuery(b, bin, dir, m.ID)
			}
			b.ReportMetric(float64(total.Microseconds())/1000/float64(b.N), "ms/first-query")
		})
	}
}

// firstQuery starts the binary on dir and returns the time until its
// first query was answered.
func firstQuery(b *testing.B, bin, dir, model string) time.Duration {
	start := time.Now()
	p := startProc(b, bin, "serve", "--data-dir", dir, "--workers", "0")
	defer p.stop()
	postQuery(b, p, `{"model": "`+model+`", "word": "w17"}`)
	return time.Since(start)
}

func randomVectors(tb testing.TB, n, dim int) *vectors.Set {
	rng := rand.New(rand.NewPCG(1, 2))
	words := make([]string, n)
	vecs := make([]float32, n*dim)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	for i := range vecs {
		vecs[i] = float32(rng.NormFloat64())
	}
	s, err := vectors.New(words, dim, vecs)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}
