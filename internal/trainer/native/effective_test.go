package native

import (
	"context"
	"os"
	"slices"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"github.com/ophicleide/ophicleide/internal/vectors"
	"github.com/ophicleide/ophicleide/internal/word2vec"
)

// excerpt is a part of Pride and Prejudice, enough for a few hundred
// frequent words.
func excerpt(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../../testdata/pride-and-prejudice_1342-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b[:120_000])
}

func sameVectors(a, b *vectors.Set) bool {
	if a.Len() != b.Len() || a.Dim() != b.Dim() || !slices.Equal(a.Words(), b.Words()) {
		return false
	}
	for i := range a.Len() {
		if !slices.Equal(a.Row(i), b.Row(i)) {
			return false
		}
	}
	return true
}

// TestEffectiveParamsAreTheDefaults: a model trained with parameters left
// out records every one (the seed included), and they are the ones it was
// trained with: word2vec's own defaults (its zero Config) train the same
// vectors bit for bit on one thread, with the server's seed 1; the
// effective params given back as a request train them again.
func TestEffectiveParamsAreTheDefaults(t *testing.T) {
	text := excerpt(t)
	e := New(Config{Threads: 1})
	for _, c := range []struct {
		asked ophicleide.Params
		cfg   word2vec.Config // word2vec's defaults for the same request
		want  ophicleide.Params
	}{
		{ophicleide.Params{Epochs: 1}, word2vec.Config{Epochs: 1},
			ophicleide.Params{Engine: "native", Model: "skipgram", Loss: "ns", Dim: 100, Window: 5, Negative: 5, MinCount: 5,
				Sample: 1e-3, Epochs: 1, Alpha: 0.025, Seed: 1, Tokenizer: "unicode"}},
		{ophicleide.Params{Model: "cbow", Loss: "hs", Dim: 20, Epochs: 2}, word2vec.Config{Arch: word2vec.CBOW, Loss: word2vec.HierarchicalSoftmax, Dim: 20, Epochs: 2},
			ophicleide.Params{Engine: "native", Model: "cbow", Loss: "hs", Dim: 20, Window: 5, MinCount: 5,
				Sample: 1e-3, Epochs: 2, Alpha: 0.05, Seed: 1, Tokenizer: "unicode"}},
		{ophicleide.Params{Seed: 7, Sample: -1, Tokenizer: "classic", Dim: 16, Epochs: 1, MaxVocab: 300}, word2vec.Config{Seed: 7, Sample: -1, Dim: 16, Epochs: 1, MaxVocab: 300},
			ophicleide.Params{Engine: "native", Model: "skipgram", Loss: "ns", Dim: 16, Window: 5, Negative: 5, MinCount: 5,
				Sample: -1, Epochs: 1, Alpha: 0.025, Seed: 7, MaxVocab: 300, Tokenizer: "classic"}},
		{ophicleide.Params{Dim: 16, Epochs: 1, MinN: 3, MaxN: 5, Bucket: 5000}, word2vec.Config{Dim: 16, Epochs: 1, MinN: 3, MaxN: 5, Bucket: 5000},
			ophicleide.Params{Engine: "native", Model: "skipgram", Loss: "ns", Dim: 16, Window: 5, Negative: 5, MinCount: 5,
				Sample: 1e-3, Epochs: 1, Alpha: 0.025, Seed: 1, Tokenizer: "unicode", MinN: 3, MaxN: 5, Bucket: 5000}},
	} {
		res, err := e.Train(context.Background(), trainer.Job{Params: c.asked, Inputs: inputs(text)})
		if err != nil {
			t.Fatalf("%+v: %v", c.asked, err)
		}
		if res.Params != c.want {
			t.Errorf("%+v: effective params %+v, want %+v", c.asked, res.Params, c.want)
		}
		if res.Stats.WordsPerSecond <= 0 {
			t.Errorf("%+v: words per second %v", c.asked, res.Stats.WordsPerSecond)
		}
		cfg := c.cfg
		cfg.Threads = 1
		if cfg.Seed == 0 {
			cfg.Seed = ophicleide.DefaultSeed
		}
		mode, _ := tokenize.ParseMode(c.asked.Tokenizer)
		src := inputs(text).Sentences(context.Background(), tokenize.Options{Mode: mode})
		ref, err := word2vec.Train(context.Background(), cfg, src)
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !sameVectors(res.Vectors, ref.Vectors) {
			t.Errorf("%+v: the vectors differ from word2vec's defaults with seed %d", c.asked, cfg.Seed)
		}
		again, err := e.Train(context.Background(), trainer.Job{Params: res.Params, Inputs: inputs(text)})
		if err != nil {
			t.Fatal(err)
		}
		if !sameVectors(res.Vectors, again.Vectors) || again.Params != res.Params {
			t.Errorf("%+v: training again with the effective params %+v gives another model", c.asked, res.Params)
		}
	}
}

// TestDefaultSeedIsFixed: a request without a seed trains with
// DefaultSeed (the CLI's --seed 1), not with 0, and not at random.
func TestDefaultSeedIsFixed(t *testing.T) {
	text := excerpt(t)
	e := New(Config{Threads: 1})
	train := func(seed uint64) *vectors.Set {
		res, err := e.Train(context.Background(), trainer.Job{Params: ophicleide.Params{Dim: 10, Epochs: 1, Seed: seed}, Inputs: inputs(text)})
		if err != nil {
			t.Fatal(err)
		}
		return res.Vectors
	}
	none, one, two := train(0), train(1), train(2)
	if !sameVectors(none, one) {
		t.Error("a model without a seed differs from seed 1")
	}
	if sameVectors(one, two) {
		t.Error("seeds 1 and 2 train the same vectors")
	}
}
