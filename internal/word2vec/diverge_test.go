package word2vec

import (
	"context"
	"errors"
	"math"
	"os"
	"strings"
	"testing"
)

// austen is a real book, as the server's users train on.
func austen(t testing.TB) string {
	b, err := os.ReadFile("../../testdata/pride-and-prejudice_1342-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHugeAlphaDivergesWithoutCrash reproduces issue 10: alpha 5 (or 1000
// negatives) made the weights NaN, gradient indexed the sigmoid table out
// of range and the process died. Training must end with a *DivergedError
// instead, for every architecture and loss.
func TestHugeAlphaDivergesWithoutCrash(t *testing.T) {
	text := austen(t)[:300_000]
	for _, c := range []struct {
		name string
		cfg  Config
	}{
		{"sg-ns-alpha5", Config{Alpha: 5}},
		{"sg-ns-alpha10-neg1000", Config{Alpha: 10, Negative: 1000, Epochs: 1}},
		{"cbow-ns-alpha10", Config{Arch: CBOW, Alpha: 10}},
		{"sg-hs-alpha10", Config{Loss: HierarchicalSoftmax, Alpha: 10}},
		{"cbow-hs-alpha10", Config{Arch: CBOW, Loss: HierarchicalSoftmax, Alpha: 10}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Dim, cfg.Threads, cfg.MinCount, cfg.Seed = 50, 1, 2, 1
			res, err := Train(context.Background(), cfg, src(text))
			var de *DivergedError
			if err == nil {
				// Not diverging is fine only if every weight is finite.
				for i := range res.Vectors.Len() {
					for _, x := range res.Vectors.Row(i) {
						if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
							t.Fatalf("training returned non-finite vectors without an error")
						}
					}
				}
				t.Logf("did not diverge")
				return
			}
			if !errors.As(err, &de) {
				t.Fatalf("got %v, want a *DivergedError", err)
			}
			if !strings.Contains(err.Error(), "lower alpha") {
				t.Errorf("message %q does not tell the user what to do", err)
			}
		})
	}
}

// TestGradientNonFinite: the sigmoid lookup never indexes out of range.
func TestGradientNonFinite(t *testing.T) {
	for _, f := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 5.9999995, -5.9999995, 6, -6, 0} {
		g := gradient(f, 1, 0.025)
		if math.IsNaN(float64(g)) && !math.IsNaN(float64(f)) {
			t.Errorf("gradient(%v) = NaN", f)
		}
	}
}

// TestPanicInTrainingGoroutineIsReturned: a panic in one of the Hogwild
// goroutines (which no caller could recover) ends Train with a
// *PanicError; the other goroutines stop and the process lives on.
func TestPanicInTrainingGoroutineIsReturned(t *testing.T) {
	flushHook = func() { panic("injected by the test") }
	defer func() { flushHook = nil }()
	cfg := smallConfig()
	cfg.Threads = 2
	_, err := Train(context.Background(), cfg, src(synthetic(2000, 3)))
	var pe *PanicError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "injected by the test") || len(pe.Stack) == 0 {
		t.Fatalf("got %v, want a *PanicError with a stack", err)
	}
}

// TestHighButSaneAlphaTrains: alpha 0.25 on a real book (0.5 does overflow there) is a poor choice but
// not a divergence; the detector must not fail it.
func TestHighButSaneAlphaTrains(t *testing.T) {
	cfg := Config{Alpha: 0.25, Dim: 50, Threads: 1, Seed: 1, Epochs: 2}
	if _, err := Train(context.Background(), cfg, src(austen(t))); err != nil {
		t.Fatal(err)
	}
}

// TestEstimateIsTrainsFigure: Estimate gives the figure Train checks:
// without a limit the weights and the corpus in memory; with a limit under
// that the corpus moves to a file, and the figure is the weights'.
func TestEstimateIsTrainsFigure(t *testing.T) {
	cfg := Config{Dim: 300, MinCount: 1, Threads: 1, Epochs: 1, TempDir: t.TempDir()}
	all, vocab, err := Estimate(context.Background(), cfg, src(austen(t)))
	if err != nil || vocab < 5000 {
		t.Fatalf("Estimate: %d %d %v", all, vocab, err)
	}
	need := EstimateMemory(cfg, vocab)
	if all <= need {
		t.Fatalf("Estimate without a limit %d, not above the weights' %d", all, need)
	}
	cfg.MemoryLimit = all - 1
	if n, _, err := Estimate(context.Background(), cfg, src(austen(t))); err != nil || n != need {
		t.Fatalf("Estimate with the corpus on file: %d %v, want %d", n, err, need)
	}
	// With the weights alone over the limit the corpus stays in memory
	// (a file would not save the run): the figure is the whole.
	cfg.MemoryLimit = need - 1
	var me *MemoryError
	_, err = Train(context.Background(), cfg, src(austen(t)))
	if !errors.As(err, &me) || me.Need != all {
		t.Fatalf("Train with the limit just under the weights: %v", err)
	}
	// Estimate refuses as Train does, with the same words.
	var ee *MemoryError
	if n, v, eerr := Estimate(context.Background(), cfg, src(austen(t))); !errors.As(eerr, &ee) || n != all || v != vocab || eerr.Error() != err.Error() {
		t.Fatalf("Estimate with the limit just under: %d %d %v, Train said %v", n, v, eerr, err)
	}
	cfg.MemoryLimit = need
	if _, err := Train(context.Background(), cfg, src(austen(t))); err != nil {
		t.Fatalf("Train with the limit at the estimate: %v", err)
	}
}
