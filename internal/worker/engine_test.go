package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// fakeEngine is a fake for the seam test only: a second trainer.Engine,
// written here, that the worker runs with no change. It reads the inputs
// through Inputs.Sentences, gives each distinct word a 2-dimensional
// vector (rows by descending count) and behaves by its parameters: Seed 1
// fails with a reason for users, 2 panics in a goroutine of its own, 3
// fails with an error not meant for users, 4 waits for cancellation once
// training is reported. Like the Spark engine of issue 13 it refuses what
// it cannot do (CBOW) in Validate.
type fakeEngine struct {
	mu       sync.Mutex
	stopped  bool // a Train call returned because its ctx ended
	progress []string
}

func (e *fakeEngine) Validate(p ophicleide.Params) error {
	if p.Model == "cbow" {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "model", Message: "the fake engine cannot train cbow"}
	}
	return nil
}

func (e *fakeEngine) Schemes(ophicleide.Params) []string { return nil }

func (e *fakeEngine) Train(ctx context.Context, job trainer.Job) (*trainer.Result, error) {
	if err := e.Validate(job.Params); err != nil {
		return nil, err
	}
	report := func(phase string, f float64) {
		e.mu.Lock()
		e.progress = append(e.progress, phase)
		e.mu.Unlock()
		job.Progress(ophicleide.Progress{Phase: phase, Fraction: f})
	}
	src := job.Inputs.Sentences(ctx, tokenize.Options{Mode: tokenize.Whitespace})
	defer src.Close()
	counts := map[string]int{}
	var words int64
	for src.Scan() {
		for _, w := range src.Sentence() {
			counts[string(w)]++
			words++
		}
	}
	if err := src.Err(); err != nil {
		return nil, err // the worker explains input errors
	}
	report("training", 0.5)
	switch job.Params.Seed {
	case 1:
		return nil, ophicleide.Errorf(ophicleide.EINVALID, "the fake engine found the text too dull")
	case 2:
		done := make(chan error)
		go func() {
			defer func() { done <- &trainer.PanicError{Value: recover()} }()
			panic("fake engine bug")
		}()
		return nil, <-done
	case 3:
		return nil, errors.New("fake engine: /secret/path exploded")
	case 4:
		<-ctx.Done()
		e.mu.Lock()
		e.stopped = true
		e.mu.Unlock()
		return nil, ctx.Err()
	}
	vocab := make([]string, 0, len(counts))
	for w := range counts {
		vocab = append(vocab, w)
	}
	slices.SortFunc(vocab, func(a, b string) int {
		if counts[a] != counts[b] {
			return counts[b] - counts[a]
		}
		return strings.Compare(a, b)
	})
	flat := make([]float32, 0, 2*len(vocab))
	for i := range vocab {
		flat = append(flat, 1, float32(i+1))
	}
	set, err := vectors.New(vocab, 2, flat)
	if err != nil {
		return nil, err
	}
	report("training", 1)
	return &trainer.Result{Vectors: set, Stats: ophicleide.Stats{CorpusWords: words, VocabSize: len(vocab),
		Sources: trainer.SourceStats(src.Stats())}}, nil
}

// TestSecondEnginePlugsIn: an engine that is not the native one trains,
// reports progress, fails with reasons, panics and is cancelled through
// the worker exactly as the native engine is.
func TestSecondEnginePlugsIn(t *testing.T) {
	f := newFixture(t)
	eng := &fakeEngine{}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))

	id := f.modelWith(t, ophicleide.Params{}, f.srv.URL+"/rare.txt")
	if ran, err := f.workerOn(eng, Config{}).RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	m := f.find(t, id)
	if m.Status != ophicleide.StatusReady || m.Stats == nil || m.Stats.CorpusWords != 3 || m.Stats.VocabSize != 3 ||
		len(m.Stats.Sources) != 1 || m.Stats.Sources[0].URL != f.srv.URL+"/rare.txt" || m.Stats.Sources[0].Words != 3 {
		t.Fatalf("model: status %s (%s), stats %+v", m.Status, m.Error, m.Stats)
	}
	if !slices.Equal(eng.progress, []string{"training", "training"}) {
		t.Errorf("progress reported: %v", eng.progress)
	}
	rc, err := f.store.OpenVectors(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	set, err := vectors.ReadCompact(rc)
	rc.Close()
	if err != nil || set.Dim() != 2 || !slices.Equal(set.Words(), []string{"one", "three", "two"}) {
		t.Fatalf("stored vectors: %v %v", set, err)
	}

	for _, c := range []struct {
		seed uint64
		urls []string
		want string
	}{
		{1, []string{f.srv.URL + "/rare.txt"}, "the fake engine found the text too dull"},
		{2, []string{f.srv.URL + "/rare.txt"}, "internal error in the trainer"},
		{3, []string{f.srv.URL + "/rare.txt"}, "internal error while training"},
		{0, []string{f.srv.URL + "/missing.txt"}, "404"},
	} {
		id := f.modelWith(t, ophicleide.Params{Seed: c.seed}, c.urls...)
		if ran, err := f.workerOn(eng, Config{}).RunOnce(context.Background()); !ran || err != nil {
			t.Fatalf("RunOnce: %v %v", ran, err)
		}
		if m := f.find(t, id); m.Status != ophicleide.StatusFailed || !strings.Contains(m.Error, c.want) || strings.Contains(m.Error, "/secret") {
			t.Errorf("seed %d: status %s, reason %q; want failed with %q", c.seed, m.Status, m.Error, c.want)
		}
	}
	id = f.modelWith(t, ophicleide.Params{Model: "cbow"}, f.srv.URL+"/rare.txt")
	f.workerOn(eng, Config{}).RunOnce(context.Background())
	if m := f.find(t, id); m.Status != ophicleide.StatusFailed || m.Error != "the fake engine cannot train cbow" {
		t.Errorf("refused parameters: status %s, reason %q", m.Status, m.Error)
	}

	// Cancellation: deleting the model (a lost lease, seen when progress
	// is stored) ends the engine's Train through its ctx.
	id = f.modelWith(t, ophicleide.Params{Seed: 4}, f.srv.URL+"/rare.txt")
	st := &deletingStore{Store: f.store}
	if ran, err := New(st, eng, httpFetch, discard, Config{Owner: "t"}).RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	if _, err := f.store.FindModel(context.Background(), id); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND || !eng.stopped {
		t.Fatalf("deleted model: %v, engine stopped: %v", err, eng.stopped)
	}

	// Shutdown: the worker's ctx ends while the engine trains; the job
	// goes back to the queue.
	eng.stopped = false
	id = f.modelWith(t, ophicleide.Params{Seed: 4}, f.srv.URL+"/rare.txt")
	sig := &signalStore{Store: f.store, training: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-sig.training
		cancel()
	}()
	New(sig, eng, httpFetch, discard, Config{Owner: "t"}).RunOnce(ctx)
	if m := f.find(t, id); m.Status != ophicleide.StatusQueued || !eng.stopped {
		t.Fatalf("after shutdown: status %s, engine stopped: %v", m.Status, eng.stopped)
	}
}
