package worker

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/evaluate"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// bundled is an EvaluateFunc over the bundled sets (what
// service.EvaluateBundled does, without the service package).
func bundled(ctx context.Context, set *vectors.Set, _ ophicleide.Params) (*ophicleide.Evaluation, error) {
	rep, err := evaluate.Bundled(ctx, set, evaluate.Options{})
	if err != nil {
		return nil, err
	}
	e := &ophicleide.Evaluation{Seconds: rep.Seconds}
	for _, a := range rep.Analogies {
		e.Analogies = append(e.Analogies, ophicleide.AnalogyScore{Name: a.Name, Accuracy: a.Total.Accuracy, Questions: a.Questions, Answered: a.Scored, Coverage: a.Coverage})
	}
	for _, p := range rep.Pairs {
		e.Similarities = append(e.Similarities, ophicleide.SimilarityScore{Name: p.Name, Spearman: p.Spearman, Pairs: p.Pairs, Covered: p.Scored, Coverage: p.Coverage})
	}
	return e, nil
}

// phaseStore is the real store, recording the phases of progress.
type phaseStore struct {
	*bolt.Store
	mu     sync.Mutex
	phases []string
}

func (s *phaseStore) UpdateProgress(ctx context.Context, l *ophicleide.Lease, p ophicleide.Progress) error {
	s.mu.Lock()
	if len(s.phases) == 0 || s.phases[len(s.phases)-1] != p.Phase {
		s.phases = append(s.phases, p.Phase)
	}
	s.mu.Unlock()
	return s.Store.UpdateProgress(ctx, l, p)
}

// TestTrainedModelIsEvaluated: a trained model is stored with its
// evaluation on the bundled sets (the scores of its stored vectors),
// its effective parameters (every default filled, the seed included) and
// its words per second; the job shows an "evaluating" phase.
func TestTrainedModelIsEvaluated(t *testing.T) {
	f := newFixture(t)
	id := f.modelWith(t, ophicleide.Params{Epochs: 2, Dim: 40}, f.srv.URL+"/austen.txt")
	store := &phaseStore{Store: f.store}
	w := New(store, oneThread, httpFetch, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Owner: "test", Lease: 10 * time.Second, Evaluate: bundled})
	if ran, err := w.RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	m := f.find(t, id)
	if m.Status != ophicleide.StatusReady {
		t.Fatalf("status %s (%s)", m.Status, m.Error)
	}
	want := ophicleide.Params{Engine: "native", Model: "skipgram", Loss: "ns", Dim: 40, Window: 5, Negative: 5, MinCount: 5,
		Sample: 1e-3, Epochs: 2, Alpha: 0.025, Seed: 1, Tokenizer: "unicode"}
	if m.Params != want {
		t.Errorf("params %+v, want the effective %+v", m.Params, want)
	}
	if m.Stats == nil || m.Stats.WordsPerSecond <= 0 || m.Stats.TrainingSeconds <= 0 {
		t.Errorf("stats %+v", m.Stats)
	}
	if !slices.Contains(store.phases, "evaluating") || slices.Index(store.phases, "evaluating") > slices.Index(store.phases, "saving") {
		t.Errorf("phases %v, want evaluating before saving", store.phases)
	}
	e := m.Evaluation
	if e == nil || len(e.Analogies) != 1 || len(e.Similarities) != 4 {
		t.Fatalf("evaluation %+v", e)
	}
	rc, err := f.store.OpenVectors(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	set, err := vectors.Load(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	again, err := bundled(context.Background(), set, m.Params)
	if err != nil {
		t.Fatal(err)
	}
	e.Seconds, again.Seconds = 0, 0
	if !reflect.DeepEqual(e, again) {
		t.Errorf("stored evaluation %+v, the stored vectors score %+v", e, again)
	}
	g := e.Analogies[0]
	if g.Name != "google" || g.Questions != 19544 || g.Answered == 0 || g.Answered > g.Questions {
		t.Errorf("analogies %+v", g)
	}
	for i, name := range []string{"wordsim353", "simlex999", "men", "rw"} {
		if s := e.Similarities[i]; s.Name != name || s.Pairs == 0 || s.Covered == 0 {
			t.Errorf("similarity %d: %+v, want %s with pairs covered", i, s, name)
		}
	}
}

// TestEvaluationFailureKeepsTheModel: an evaluator that fails or panics
// leaves the model ready, without an evaluation.
func TestEvaluationFailureKeepsTheModel(t *testing.T) {
	for name, ev := range map[string]EvaluateFunc{
		"error": func(context.Context, *vectors.Set, ophicleide.Params) (*ophicleide.Evaluation, error) {
			return nil, errors.New("the evaluator broke")
		},
		"panic": func(context.Context, *vectors.Set, ophicleide.Params) (*ophicleide.Evaluation, error) {
			panic("the evaluator panicked")
		},
	} {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t)
			id := f.modelWith(t, ophicleide.Params{Epochs: 1, Dim: 20}, f.srv.URL+"/austen.txt")
			if ran, err := f.workerWith(Config{Evaluate: ev}).RunOnce(context.Background()); !ran || err != nil {
				t.Fatalf("RunOnce: %v %v", ran, err)
			}
			m := f.find(t, id)
			if m.Status != ophicleide.StatusReady || m.Evaluation != nil || m.Params.Seed != 1 {
				t.Fatalf("model %+v, want ready, effective params and no evaluation", m)
			}
			if _, err := f.store.OpenVectors(context.Background(), id); err != nil {
				t.Errorf("vectors: %v", err)
			}
		})
	}
}

// TestNoEvaluatorNoEvaluation: a worker without Evaluate stores none.
func TestNoEvaluatorNoEvaluation(t *testing.T) {
	f := newFixture(t)
	id := f.modelWith(t, ophicleide.Params{Epochs: 1, Dim: 20}, f.srv.URL+"/austen.txt")
	if ran, err := f.worker().RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	if m := f.find(t, id); m.Status != ophicleide.StatusReady || m.Evaluation != nil {
		t.Fatalf("model %+v", m)
	}
}
