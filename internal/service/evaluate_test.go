package service

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// evalServices are the services over a real embedded store.
func evalServices(t *testing.T) (*bolt.Store, *Models, *Queries) {
	t.Helper()
	store, err := bolt.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	models, queries := New(store, 64<<20, Config{Log: slog.New(slog.DiscardHandler)})
	return store, models, queries
}

// vectorsText is a word2vec text file of words with distinct vectors.
func vectorsText(words ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d 4\n", len(words))
	for i, w := range words {
		fmt.Fprintf(&b, "%s %d %d %d 1\n", w, i%3+1, i%5, i%7)
	}
	return b.String()
}

// TestImportIsEvaluated: an imported model is scored on the bundled sets
// before Import returns, and the store keeps the same scores.
func TestImportIsEvaluated(t *testing.T) {
	store, models, _ := evalServices(t)
	text := vectorsText("king", "queen", "man", "woman", "tiger", "cat", "car", "automobile", "athens", "greece")
	m, err := models.Import(as(alice), "mine", strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	if m.Evaluation == nil {
		t.Fatal("the imported model has no evaluation")
	}
	stored, err := store.FindModel(context.Background(), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(stored.Evaluation, m.Evaluation) {
		t.Errorf("stored %+v, returned %+v", stored.Evaluation, m.Evaluation)
	}
	set, err := vectors.Load(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	want, err := EvaluateBundled(context.Background(), set, ophicleide.Params{})
	if err != nil {
		t.Fatal(err)
	}
	got := *m.Evaluation
	got.Seconds, want.Seconds = 0, 0
	if !reflect.DeepEqual(&got, want) {
		t.Errorf("evaluation %+v, want %+v", got, want)
	}
	names := []string{}
	for _, s := range got.Similarities {
		names = append(names, s.Name)
	}
	if got.Analogies[0].Name != "google" || strings.Join(names, ",") != "wordsim353,simlex999,men,rw" || got.Similarities[0].Covered == 0 {
		t.Errorf("evaluation %+v", got)
	}
}

// TestEvaluateAccessAndLimits: the write role; a model not ready or
// missing is ENOTFOUND; a file over MaxEvaluateBytes is ETOOLARGE.
func TestEvaluateAccessAndLimits(t *testing.T) {
	_, models, queries := evalServices(t)
	m, err := models.Import(as(alice), "mine", strings.NewReader(vectorsText("king", "queen", "man", "woman")))
	if err != nil {
		t.Fatal(err)
	}
	req := func(text string) ophicleide.EvaluateRequest {
		return ophicleide.EvaluateRequest{ModelID: m.ID, File: strings.NewReader(text)}
	}
	for _, p := range []ophicleide.Principal{reader, anon} {
		if _, err := queries.Evaluate(as(p), req("king queen 1\n")); ophicleide.ErrorCode(err) != ophicleide.EFORBIDDEN {
			t.Errorf("as %+v: %v, want EFORBIDDEN", p, err)
		}
	}
	for _, p := range []ophicleide.Principal{alice, bob, root} {
		e, err := queries.Evaluate(as(p), req("king queen 1\nman woman 2\nking man 3\n"))
		if err != nil || len(e.Similarities) != 1 || e.Similarities[0].Name != "upload" || e.Similarities[0].Covered != 3 {
			t.Errorf("as %q: %+v %v", p.Name, e, err)
		}
	}
	big := io.MultiReader(strings.NewReader("king queen 1\n"), bytes.NewReader(make([]byte, ophicleide.MaxEvaluateBytes)))
	if _, err := queries.Evaluate(as(alice), ophicleide.EvaluateRequest{ModelID: m.ID, File: big}); ophicleide.ErrorCode(err) != ophicleide.ETOOLARGE {
		t.Errorf("a file over the limit: %v, want ETOOLARGE", err)
	}
	if _, err := queries.Evaluate(as(alice), ophicleide.EvaluateRequest{ModelID: m.ID}); ophicleide.ErrorCode(err) != ophicleide.EINVALID {
		t.Errorf("no file: %v, want EINVALID", err)
	}
	queued, err := models.Create(as(alice), urlRequest("queued"))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{queued.ID, "00000000-0000-4000-8000-000000000000", "not-a-uuid"} {
		if _, err := queries.Evaluate(as(alice), ophicleide.EvaluateRequest{ModelID: id, File: strings.NewReader("king queen 1\n")}); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
			t.Errorf("model %s: %v, want ENOTFOUND", id, err)
		}
	}
}
