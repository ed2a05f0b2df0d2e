package word2vec

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func src(text string) Sentences { return newFieldsSource(strings.NewReader(text), 10000) }

// synthetic returns a corpus of n sentences drawn from a Zipf-like
// vocabulary with two topics, so related words share contexts.
func synthetic(n int, seed uint64) string {
	r := rand.New(rand.NewPCG(seed, 7))
	topics := [][]string{
		{"cat", "dog", "mouse", "horse", "cow", "sheep", "goat", "pig"},
		{"red", "green", "blue", "yellow", "purple", "orange", "pink", "brown"},
	}
	filler := []string{"the", "a", "of", "and", "to", "in", "is", "was", "it", "that"}
	var b strings.Builder
	for i := 0; i < n; i++ {
		t := topics[i%2]
		for j := 0; j < 12; j++ {
			if j%2 == 0 {
				b.WriteString(filler[r.IntN(len(filler))])
			} else {
				b.WriteString(t[r.IntN(len(t))])
			}
			b.WriteByte(' ')
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func smallConfig() Config {
	return Config{Dim: 20, Window: 3, MinCount: 2, Epochs: 3, Threads: 1, Seed: 42}
}

func TestDeterministicWithOneThread(t *testing.T) {
	text := synthetic(400, 1)
	for _, arch := range []Arch{SkipGram, CBOW} {
		for _, loss := range []Loss{NegativeSampling, HierarchicalSoftmax} {
			t.Run(string(arch)+"-"+string(loss), func(t *testing.T) {
				cfg := smallConfig()
				cfg.Arch, cfg.Loss = arch, loss
				a, err := Train(context.Background(), cfg, src(text))
				if err != nil {
					t.Fatal(err)
				}
				b, err := Train(context.Background(), cfg, src(text))
				if err != nil {
					t.Fatal(err)
				}
				for i := 0; i < a.Vectors.Len(); i++ {
					ra, rb := a.Vectors.Row(i), b.Vectors.Row(i)
					for j := range ra {
						if math.Float32bits(ra[j]) != math.Float32bits(rb[j]) {
							t.Fatalf("row %d (%s) differs between two runs: %v vs %v", i, a.Vectors.Word(i), ra[j], rb[j])
						}
					}
				}
				cfg.Seed = 43
				c, err := Train(context.Background(), cfg, src(text))
				if err != nil {
					t.Fatal(err)
				}
				if slices.Equal(a.Vectors.Row(0), c.Vectors.Row(0)) {
					t.Fatal("another seed gave the same vectors")
				}
			})
		}
	}
}

// TestLearnsTopics checks what a user would: words of one topic are closer
// to each other than to words of the other topic, for every architecture
// and loss.
func TestLearnsTopics(t *testing.T) {
	text := synthetic(3000, 2)
	for _, arch := range []Arch{SkipGram, CBOW} {
		for _, loss := range []Loss{NegativeSampling, HierarchicalSoftmax} {
			t.Run(string(arch)+"-"+string(loss), func(t *testing.T) {
				cfg := smallConfig()
				cfg.Arch, cfg.Loss, cfg.Epochs = arch, loss, 5
				res, err := Train(context.Background(), cfg, src(text))
				if err != nil {
					t.Fatal(err)
				}
				s := res.Vectors
				same, err := s.Similarity("cat", "dog")
				if err != nil {
					t.Fatal(err)
				}
				other, err := s.Similarity("cat", "blue")
				if err != nil {
					t.Fatal(err)
				}
				if same <= other+0.1 {
					t.Fatalf("sim(cat,dog)=%.3f not clearly above sim(cat,blue)=%.3f", same, other)
				}
				ns, err := s.Nearest("red", 5)
				if err != nil {
					t.Fatal(err)
				}
				colours := "green blue yellow purple orange pink brown"
				for _, n := range ns[:3] {
					if !strings.Contains(colours, n.Word) {
						t.Fatalf("nearest to red: %v; %q is not a colour", ns, n.Word)
					}
				}
			})
		}
	}
}

func TestVocabulary(t *testing.T) {
	text := "b a c a b a\nd a b e\n"
	cfg := smallConfig()
	cfg.MinCount = 2
	res, err := Train(context.Background(), cfg, src(text))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Vectors.Words(), []string{"a", "b"}; !slices.Equal(got, want) {
		t.Fatalf("vocabulary %v, want %v (descending count, min count 2)", got, want)
	}
	if !slices.Equal(res.Counts, []int64{4, 3}) {
		t.Fatalf("counts %v", res.Counts)
	}
	st := res.Stats
	if st.CorpusWords != 10 || st.TrainWords != 7 || st.Sentences != 2 || st.VocabSize != 2 {
		t.Fatalf("stats %+v", st)
	}

	cfg.MinCount = 1
	cfg.MaxVocab = 3
	res, err = Train(context.Background(), cfg, src(text))
	if err != nil {
		t.Fatal(err)
	}
	// Ties (c, d, e once each) keep the order of first appearance.
	if got, want := res.Vectors.Words(), []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("capped vocabulary %v, want %v", got, want)
	}
}

func TestCompaction(t *testing.T) {
	c, err := countWords(context.Background(), src("x a y b\nz z\na q b\n"), Config{}, func(int64, float64) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.finish(2, 0); err != nil {
		t.Fatal(err)
	}
	var got []int32
	for i := int64(0); i < c.tokens.n; i++ {
		got = append(got, c.tokens.at(i))
	}
	// Vocabulary: a, b (twice each, first seen first), z (twice; in a
	// sentence of its own). The stored corpus keeps sentence ends.
	if !slices.Equal(c.words, []string{"a", "b", "z"}) {
		t.Fatalf("words %v", c.words)
	}
	want := []int32{0, 1, sentinel, 2, 2, sentinel, 0, 1, sentinel}
	if !slices.Equal(got, want) {
		t.Fatalf("stored corpus %v, want %v", got, want)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := Train(ctx, smallConfig(), src("")); !errors.Is(err, ErrEmptyCorpus) {
		t.Fatalf("empty corpus: %v", err)
	}
	if _, err := Train(ctx, smallConfig(), src(" \n\n  \n")); !errors.Is(err, ErrEmptyCorpus) {
		t.Fatalf("blank corpus: %v", err)
	}
	cfg := smallConfig()
	cfg.MinCount = 5
	_, err := Train(ctx, cfg, src("one two three two"))
	var ve *VocabularyError
	if !errors.As(err, &ve) || ve.MaxCount != 2 || ve.DistinctWords != 3 || !strings.Contains(err.Error(), "min count") {
		t.Fatalf("all-rare corpus: %v", err)
	}
	cfg = smallConfig()
	cfg.MemoryLimit = 1000
	var me *MemoryError
	if _, err := Train(ctx, cfg, src(synthetic(10, 1))); !errors.As(err, &me) {
		t.Fatalf("memory limit: %v", err)
	}
	for _, bad := range []struct {
		field string
		mod   func(*Config)
	}{
		{"dim", func(c *Config) { c.Dim = -1 }},
		{"window", func(c *Config) { c.Window = MaxWindow + 1 }},
		{"model", func(c *Config) { c.Arch = "glove" }},
		{"loss", func(c *Config) { c.Loss = "softmax" }},
		{"sample", func(c *Config) { c.Sample = 2 }},
		{"alpha", func(c *Config) { c.Alpha = -1 }},
		{"epochs", func(c *Config) { c.Epochs = -3 }},
	} {
		cfg := smallConfig()
		bad.mod(&cfg)
		var ce *ConfigError
		if _, err := Train(ctx, cfg, src("a a a")); !errors.As(err, &ce) || ce.Field != bad.field {
			t.Errorf("bad %s: got %v", bad.field, err)
		}
	}
}

type failingSource struct{ n int }

func (f *failingSource) Scan() bool         { f.n++; return f.n < 3 }
func (f *failingSource) Sentence() [][]byte { return [][]byte{[]byte("w")} }
func (f *failingSource) Err() error         { return errors.New("disk on fire") }

func TestSourceErrorIsReturned(t *testing.T) {
	_, err := Train(context.Background(), smallConfig(), &failingSource{})
	if err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Fatalf("got %v", err)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cfg := smallConfig()
	cfg.Epochs = MaxEpochs
	started := make(chan struct{})
	var once sync.Once
	cfg.ProgressInterval = time.Millisecond
	cfg.Progress = func(p Progress) {
		if p.Phase == PhaseTraining {
			once.Do(func() { close(started) })
		}
	}
	go func() {
		<-started
		cancel()
	}()
	_, err := Train(ctx, cfg, src(synthetic(2000, 3)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestProgress(t *testing.T) {
	cfg := smallConfig()
	cfg.ProgressInterval = time.Millisecond
	var got []Progress
	cfg.Progress = func(p Progress) { got = append(got, p) }
	res, err := Train(context.Background(), cfg, src(synthetic(2000, 4)))
	if err != nil {
		t.Fatal(err)
	}
	last := got[len(got)-1]
	if last.Phase != PhaseTraining || last.Fraction != 1 || last.Words != last.TotalWords ||
		last.TotalWords != int64(cfg.Epochs)*res.Stats.TrainWords {
		t.Fatalf("last progress %+v, stats %+v", last, res.Stats)
	}
	prev := -1.0
	for _, p := range got {
		if p.Phase != PhaseTraining {
			continue
		}
		if p.Fraction < prev || p.Alpha <= 0 || p.Alpha > 0.025 {
			t.Fatalf("progress out of order or bad alpha: %+v", p)
		}
		prev = p.Fraction
	}
}

func TestLearningRateFloor(t *testing.T) {
	m := &model{cfg: Config{Alpha: 0.025}, total: 1_000_000}
	th := &thread{m: m, local: 1_000_000}
	th.flush()
	if th.alpha != float32(0.025*1e-4) {
		t.Fatalf("alpha at the end = %v, want the floor 0.025e-4", th.alpha)
	}
}

func TestHuffman(t *testing.T) {
	counts := []int64{50, 20, 10, 10, 5, 3, 1, 1}
	h := newHuffman(counts)
	codes := map[string]bool{}
	for w := range counts {
		points, code := h.path(int32(w))
		if len(points) == 0 || len(points) != len(code) {
			t.Fatalf("word %d: path %v codes %v", w, points, code)
		}
		for _, p := range points {
			if p < 0 || int(p) >= len(counts)-1 {
				t.Fatalf("word %d: inner node %d out of range", w, p)
			}
		}
		if points[0] != int32(len(counts)-2) {
			t.Fatalf("word %d: path does not start at the root", w)
		}
		s := fmt.Sprint(code)
		codes[s] = true
	}
	if len(codes) != len(counts) {
		t.Fatal("two words share a code")
	}
	// Prefix-free: no code is a prefix of another.
	for a := range codes {
		for b := range codes {
			if a != b && strings.HasPrefix(strings.TrimSuffix(b, "]"), strings.TrimSuffix(a, "]")+" ") {
				t.Fatalf("code %s is a prefix of %s", a, b)
			}
		}
	}
	// The most frequent word has the shortest code.
	p0, _ := h.path(0)
	p7, _ := h.path(7)
	if len(p0) >= len(p7) {
		t.Fatalf("frequent word depth %d, rare word depth %d", len(p0), len(p7))
	}
}

func TestUnigramTable(t *testing.T) {
	counts := []int64{1000, 300, 100, 10, 1}
	tab := newUnigramTable(counts, 0.75)
	r := newRNG(1, 0)
	hits := make([]int, len(counts))
	const n = 2_000_000
	for i := 0; i < n; i++ {
		hits[tab.draw(r.next())]++
	}
	var z float64
	for _, c := range counts {
		z += math.Pow(float64(c), 0.75)
	}
	for i, c := range counts {
		want := math.Pow(float64(c), 0.75) / z
		got := float64(hits[i]) / n
		if math.Abs(got-want) > 0.003 {
			t.Errorf("word %d drawn with frequency %.4f, want %.4f", i, got, want)
		}
	}
}

// TestHogwildThreads trains with several goroutines. Their unsynchronised
// updates are a deliberate data race, so this test runs without -race only
// (make test runs it through `go test` without -race too: see Makefile).
func TestHogwildThreads(t *testing.T) {
	if raceEnabled {
		t.Skip("Hogwild training races by design; run without -race")
	}
	text := synthetic(3000, 5)
	for _, arch := range []Arch{SkipGram, CBOW} {
		cfg := smallConfig()
		cfg.Arch, cfg.Threads, cfg.Epochs = arch, 4, 5
		res, err := Train(context.Background(), cfg, src(text))
		if err != nil {
			t.Fatal(err)
		}
		same, _ := res.Vectors.Similarity("cow", "pig")
		other, _ := res.Vectors.Similarity("cow", "pink")
		if same <= other+0.1 {
			t.Fatalf("%s with 4 threads: sim(cow,pig)=%.3f not clearly above sim(cow,pink)=%.3f", arch, same, other)
		}
	}
}
