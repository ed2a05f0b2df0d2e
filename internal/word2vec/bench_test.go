package word2vec

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/ophicleide/ophicleide/internal/tokenize"
)

// BenchmarkTrain reports training words/s (corpus words x epochs / training
// seconds, as the peers are compared) on Pride and Prejudice with one
// thread, for each architecture and loss.
func BenchmarkTrain(b *testing.B) {
	text, err := os.ReadFile("../../testdata/pride-and-prejudice_1342-0.txt")
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		arch Arch
		loss Loss
		maxn int // subwords of 3 to maxn characters when positive
	}{{"sg-ns", SkipGram, NegativeSampling, 0}, {"cbow-ns", CBOW, NegativeSampling, 0}, {"sg-hs", SkipGram, HierarchicalSoftmax, 0}, {"cbow-hs", CBOW, HierarchicalSoftmax, 0},
		{"sg-ns-sub", SkipGram, NegativeSampling, 6}, {"cbow-ns-sub", CBOW, NegativeSampling, 6}} {
		b.Run(c.name, func(b *testing.B) {
			cfg := Config{Arch: c.arch, Loss: c.loss, Threads: 1, Epochs: 3, Alpha: 0.025, Seed: 1}
			if c.maxn > 0 {
				cfg.MinN, cfg.MaxN, cfg.Bucket = 3, c.maxn, 200000
			}
			var words, secs float64
			for i := 0; i < b.N; i++ {
				sc, err := tokenize.NewScanner(bytes.NewReader(text), tokenize.Options{})
				if err != nil {
					b.Fatal(err)
				}
				res, err := Train(context.Background(), cfg, sc)
				if err != nil {
					b.Fatal(err)
				}
				words += float64(res.Stats.CorpusWords * int64(cfg.Epochs))
				secs += res.Stats.TrainSeconds
			}
			b.ReportMetric(words/secs, "words/s")
		})
	}
}
