package word2vec

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/ophicleide/ophicleide/internal/subword"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/vecmath"
)

func subwordConfig() Config {
	cfg := smallConfig()
	cfg.MinN, cfg.MaxN, cfg.Bucket = 3, 6, 5000
	return cfg
}

func cosine(a, b []float32) float64 {
	return float64(vecmath.Dot(a, b)) / math.Sqrt(float64(vecmath.Dot(a, a))*float64(vecmath.Dot(b, b)))
}

// TestSubwordOOV trains skip-gram with subwords on Pride and Prejudice:
// "darcys", never in the text, gets a vector from its n-grams that is
// closer to "darcy" than to almost any other word.
func TestSubwordOOV(t *testing.T) {
	text, err := os.ReadFile("../../testdata/pride-and-prejudice_1342-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := tokenize.NewScanner(bytes.NewReader(text), tokenize.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Dim: 50, Epochs: 5, Threads: 1, Seed: 1, MinN: 3, MaxN: 6, Bucket: 100000}
	res, err := Train(context.Background(), cfg, sc)
	if err != nil {
		t.Fatal(err)
	}
	set := res.Vectors
	if sw := set.Subwords(); sw == nil || sw.Config != (subword.Config{MinN: 3, MaxN: 6, Bucket: 100000}) {
		t.Fatalf("subwords not attached: %+v", set.Subwords())
	}
	if _, ok := set.Index("darcys"); ok {
		t.Fatal("darcys is in the vocabulary; pick another OOV word")
	}
	oov, isOOV, err := set.WordVector("darcys")
	if err != nil || !isOOV {
		t.Fatalf("WordVector(darcys) = oov %v, %v", isOOV, err)
	}
	di, ok := set.Index("darcy")
	if !ok {
		t.Fatal("no darcy")
	}
	want := cosine(oov, set.Row(di))
	closer := 0
	for i := 0; i < set.Len(); i++ {
		if i != di && cosine(oov, set.Row(i)) > want {
			closer++
		}
	}
	t.Logf("cos(darcys, darcy) = %.3f; %d of %d words closer", want, closer, set.Len())
	if want < 0.5 || closer > 5 {
		t.Fatalf("cos(darcys, darcy) = %.3f with %d words closer", want, closer)
	}
	// A known word's row is its composed vector: its own input row and
	// its n-grams' rows are not kept apart, but the mean of its n-gram
	// rows alone is close to it.
	rows, _ := set.Subwords().Config.Rows(nil, []byte("darcy"), nil)
	mean := make([]float32, set.Dim())
	for _, r := range rows {
		vecmath.Axpy(1/float32(len(rows)), set.Subwords().Rows[int(r)*set.Dim():int(r+1)*set.Dim()], mean)
	}
	if c := cosine(mean, set.Row(di)); c < 0.8 {
		t.Fatalf("darcy's n-gram mean has cosine %.3f with its composed row", c)
	}
}

// TestSubwordGradients checks that training writes the n-gram rows of
// the vocabulary's words and leaves every other bucket row at its
// initial value, for each architecture and loss.
func TestSubwordGradients(t *testing.T) {
	text := synthetic(200, 3)
	for _, arch := range []Arch{SkipGram, CBOW} {
		for _, loss := range []Loss{NegativeSampling, HierarchicalSoftmax} {
			t.Run(string(arch)+"-"+string(loss), func(t *testing.T) {
				cfg := subwordConfig()
				cfg.Arch, cfg.Loss = arch, loss
				cfg = cfg.withDefaults()
				c, err := countWords(context.Background(), src(text), cfg, func(int64, float64) {})
				if err != nil {
					t.Fatal(err)
				}
				if err := c.finish(cfg.MinCount, cfg.MaxVocab); err != nil {
					t.Fatal(err)
				}
				initial := newModel(cfg, c).syn0[len(c.words)*cfg.Dim:]
				res, err := Train(context.Background(), cfg, src(text))
				if err != nil {
					t.Fatal(err)
				}
				used := map[int32]bool{}
				for _, w := range c.words {
					rows, _ := cfg.subwords().Rows(nil, []byte(w), nil)
					for _, r := range rows {
						used[r] = true
					}
				}
				got := res.Vectors.Subwords().Rows
				d := cfg.Dim
				for r := 0; r < cfg.Bucket; r++ {
					same := true
					for k := 0; k < d; k++ {
						if got[r*d+k] != initial[r*d+k] {
							same = false
							break
						}
					}
					if used[int32(r)] && same {
						t.Fatalf("bucket row %d of a vocabulary n-gram was not trained", r)
					}
					if !used[int32(r)] && !same {
						t.Fatalf("bucket row %d of no vocabulary n-gram changed", r)
					}
				}
				if len(used) == 0 {
					t.Fatal("no n-grams")
				}
			})
		}
	}
}

// TestSubwordDeterministic: with one thread and a seed, two runs give
// bit-identical word and n-gram rows; another seed differs.
func TestSubwordDeterministic(t *testing.T) {
	text := synthetic(300, 1)
	for _, arch := range []Arch{SkipGram, CBOW} {
		for _, loss := range []Loss{NegativeSampling, HierarchicalSoftmax} {
			t.Run(string(arch)+"-"+string(loss), func(t *testing.T) {
				cfg := subwordConfig()
				cfg.Arch, cfg.Loss = arch, loss
				run := func(cfg Config) []float32 {
					res, err := Train(context.Background(), cfg, src(text))
					if err != nil {
						t.Fatal(err)
					}
					var all []float32
					for i := 0; i < res.Vectors.Len(); i++ {
						all = append(all, res.Vectors.Row(i)...)
					}
					return append(all, res.Vectors.Subwords().Rows...)
				}
				a, b := run(cfg), run(cfg)
				for i := range a {
					if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
						t.Fatalf("value %d differs between two runs: %v vs %v", i, a[i], b[i])
					}
				}
				cfg.Seed++
				c := run(cfg)
				if math.Float32bits(a[0]) == math.Float32bits(c[0]) && math.Float32bits(a[1]) == math.Float32bits(c[1]) {
					t.Fatal("another seed gave the same vectors")
				}
			})
		}
	}
}

// TestSubwordNoAllocs: the per-sentence loops allocate nothing.
func TestSubwordNoAllocs(t *testing.T) {
	text := synthetic(100, 2)
	for _, arch := range []Arch{SkipGram, CBOW} {
		for _, loss := range []Loss{NegativeSampling, HierarchicalSoftmax} {
			cfg := subwordConfig()
			cfg.Arch, cfg.Loss = arch, loss
			cfg = cfg.withDefaults()
			c, err := countWords(context.Background(), src(text), cfg, func(int64, float64) {})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.finish(cfg.MinCount, cfg.MaxVocab); err != nil {
				t.Fatal(err)
			}
			m := newModel(cfg, c)
			th := newThread(m, 0)
			th.readSentence(0)
			if len(th.sen) < 3 {
				t.Fatal("short sentence")
			}
			if n := testing.AllocsPerRun(100, th.trainSentence); n != 0 {
				t.Errorf("%s-%s: %v allocations per sentence", arch, loss, n)
			}
		}
	}
}

func TestSubwordMemoryEstimate(t *testing.T) {
	plain := Config{Dim: 100, Threads: 1}
	sub := Config{Dim: 100, Threads: 1, MinN: 3, MaxN: 6}
	p, s := EstimateMemory(plain, 10000), EstimateMemory(sub, 10000)
	bucket := int64(subword.DefaultBucket) * 100 * 4
	if s-p < bucket {
		t.Fatalf("subword estimate %d exceeds plain %d by less than the bucket matrix %d", s, p, bucket)
	}
	if s-p > bucket+10000*4*(2+12*4) {
		t.Fatalf("subword estimate %d exceeds plain %d by more than the bucket matrix and index", s, p)
	}
	// A memory limit below the bucket matrix refuses before allocating it.
	sub.MemoryLimit = bucket / 2
	_, err := Train(context.Background(), sub, src(synthetic(50, 1)))
	var me *MemoryError
	if !errors.As(err, &me) || me.Need < bucket {
		t.Fatalf("Train with a limit below the bucket matrix: %v", err)
	}
}

func TestSubwordConfigValidation(t *testing.T) {
	for _, c := range []struct {
		minn, maxn, bucket int
		field              string
	}{
		{0, 0, 0, ""},
		{3, 6, 0, ""},
		{1, 1, 1, ""},
		{1, 10, MaxBucket, ""},
		{10, 10, 0, ""},
		{3, 0, 0, "minn"},
		{0, 0, 100, "bucket"},
		{0, 6, 0, "minn"},
		{-1, 6, 0, "minn"},
		{7, 6, 0, "minn"},
		{3, 11, 0, "maxn"},
		{3, -1, 0, "maxn"},
		{3, 1 << 30, 0, "maxn"},
		{3, 6, -1, "bucket"},
		{3, 6, MaxBucket + 1, "bucket"},
		{3, 6, math.MaxInt, "bucket"},
		{math.MinInt, 6, 0, "minn"},
	} {
		cfg := Config{MinN: c.minn, MaxN: c.maxn, Bucket: c.bucket}
		err := cfg.Validate()
		var ce *ConfigError
		switch {
		case c.field == "" && err != nil:
			t.Errorf("minn %d maxn %d bucket %d: %v", c.minn, c.maxn, c.bucket, err)
		case c.field != "" && (!errors.As(err, &ce) || ce.Field != c.field):
			t.Errorf("minn %d maxn %d bucket %d: got %v, want a %s error", c.minn, c.maxn, c.bucket, err, c.field)
		}
	}
}
