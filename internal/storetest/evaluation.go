package storetest

import (
	"encoding/json"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// testEvaluation pins what a model keeps of its end (CompleteJob's
// Completion: stats, effective params, evaluation) and SetEvaluation.
func testEvaluation(t *testing.T, open opener) {
	eval := func(name string) *ophicleide.Evaluation {
		return &ophicleide.Evaluation{Seconds: 0.8,
			Analogies: []ophicleide.AnalogyScore{{Name: name, Accuracy: 0.383, Semantic: 0.41, Syntactic: 0.36, Questions: 19544, Answered: 17000, Coverage: 17000.0 / 19544}},
			Similarities: []ophicleide.SimilarityScore{
				{Name: "wordsim353", Spearman: 0.533, Pairs: 353, Covered: 340, Coverage: 340.0 / 353},
				{Name: "simlex999", Spearman: -0.25, Pairs: 999, Covered: 0, Coverage: 0},
			}}
	}
	effective := ophicleide.Params{Engine: "native", Model: "cbow", Loss: "hs", Dim: 32, Window: 3, MinCount: 2,
		Sample: -1, Epochs: 2, Alpha: 0.05, Seed: 1, MaxVocab: 0, Tokenizer: "unicode"}

	t.Run("CompleteWithEvaluation", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		stats := ophicleide.Stats{CorpusWords: 1000, VocabSize: 50, TrainingSeconds: 0.5, WordsPerSecond: 4000}
		c := ophicleide.Completion{Stats: stats, Params: &effective, Evaluation: eval("google")}
		if err := s.CompleteJob(ctx(t), l, c); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		check := func(what string, got *ophicleide.Model) {
			t.Helper()
			if got.Stats == nil || !reflect.DeepEqual(*got.Stats, stats) {
				t.Errorf("%s: stats %+v, want %+v", what, got.Stats, stats)
			}
			if !reflect.DeepEqual(got.Params, effective) {
				t.Errorf("%s: params %+v, want the effective %+v", what, got.Params, effective)
			}
			if !reflect.DeepEqual(got.Evaluation, eval("google")) {
				t.Errorf("%s: evaluation %+v, want %+v", what, got.Evaluation, eval("google"))
			}
		}
		check("FindModel", wantStatus(t, s, m.ID, ophicleide.StatusReady))
		page, err := s.PageModels(ctx(t), ophicleide.Page{})
		if err != nil || len(page.Models) != 1 {
			t.Fatalf("PageModels: %+v, %v", page, err)
		}
		check("PageModels", page.Models[0])
		// A repeat is a no-op: the first completion stays.
		other := ophicleide.Completion{Stats: ophicleide.Stats{VocabSize: 1}, Params: &ophicleide.Params{Dim: 7}, Evaluation: eval("other")}
		if err := s.CompleteJob(ctx(t), l, other); err != nil {
			t.Fatalf("CompleteJob repeated: %v", err)
		}
		check("after a repeated CompleteJob", mustFind(t, s, m.ID))
	})

	t.Run("CompleteWithoutParamsOrEvaluation", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		if err := s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{VocabSize: 3}}); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		got := wantStatus(t, s, m.ID, ophicleide.StatusReady)
		if !reflect.DeepEqual(got.Params, m.Params) {
			t.Errorf("params %+v, want the requested %+v kept", got.Params, m.Params)
		}
		if got.Evaluation != nil {
			t.Errorf("evaluation %+v, want none", got.Evaluation)
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var fields map[string]json.RawMessage
		json.Unmarshal(b, &fields)
		if _, ok := fields["evaluation"]; ok {
			t.Errorf("a model with no evaluation shows one in JSON: %s", b)
		}
	})

	t.Run("SetEvaluation", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		m.URLs = []string{}
		if err := s.ImportModel(ctx(t), m, func(w io.Writer) error { _, err := w.Write([]byte("v")); return err }); err != nil {
			t.Fatalf("ImportModel: %v", err)
		}
		before := mustFind(t, s, m.ID)
		if err := s.SetEvaluation(ctx(t), m.ID, eval("google")); err != nil {
			t.Fatalf("SetEvaluation: %v", err)
		}
		got := mustFind(t, s, m.ID)
		if !reflect.DeepEqual(got.Evaluation, eval("google")) {
			t.Errorf("evaluation %+v, want %+v", got.Evaluation, eval("google"))
		}
		if got.Status != ophicleide.StatusReady || got.Name != before.Name || !reflect.DeepEqual(got.Params, before.Params) {
			t.Errorf("SetEvaluation changed more than the evaluation: %+v, was %+v", got, before)
		}
		if got.Updated.Before(before.Updated) {
			t.Errorf("updated %v went back from %v", got.Updated, before.Updated)
		}
		// Replaced, then removed.
		if err := s.SetEvaluation(ctx(t), m.ID, eval("second")); err != nil {
			t.Fatalf("SetEvaluation again: %v", err)
		}
		if got := mustFind(t, s, m.ID); got.Evaluation == nil || got.Evaluation.Analogies[0].Name != "second" {
			t.Errorf("evaluation not replaced: %+v", got.Evaluation)
		}
		if err := s.SetEvaluation(ctx(t), m.ID, nil); err != nil {
			t.Fatalf("SetEvaluation(nil): %v", err)
		}
		if got := mustFind(t, s, m.ID); got.Evaluation != nil {
			t.Errorf("evaluation %+v after SetEvaluation(nil)", got.Evaluation)
		}
		// Empty lists survive as such (JSON arrays, never null).
		if err := s.SetEvaluation(ctx(t), m.ID, &ophicleide.Evaluation{Seconds: 0.1}); err != nil {
			t.Fatalf("SetEvaluation(empty): %v", err)
		}
		b, _ := json.Marshal(mustFind(t, s, m.ID).Evaluation)
		if string(b) != `{"seconds":0.1,"analogies":[],"similarities":[]}` {
			t.Errorf("an empty evaluation reads back as %s", b)
		}

		wantCode(t, "SetEvaluation of a missing model", s.SetEvaluation(ctx(t), NewID(), eval("google")), ophicleide.ENOTFOUND)
		queued := NewModel(1)
		mustCreate(t, s, queued, nil)
		wantCode(t, "SetEvaluation of a queued model", s.SetEvaluation(ctx(t), queued.ID, eval("google")), ophicleide.ECONFLICT)
		if got := mustFind(t, s, queued.ID); got.Evaluation != nil || got.Status != ophicleide.StatusQueued {
			t.Errorf("a refused SetEvaluation changed the model: %+v", got)
		}
		l := mustClaim(t, s, "w", time.Minute)
		wantCode(t, "SetEvaluation of a training model", s.SetEvaluation(ctx(t), queued.ID, eval("google")), ophicleide.ECONFLICT)
		if err := s.FailJob(ctx(t), l, "no"); err != nil {
			t.Fatal(err)
		}
		wantCode(t, "SetEvaluation of a failed model", s.SetEvaluation(ctx(t), queued.ID, eval("google")), ophicleide.ECONFLICT)
	})
}
