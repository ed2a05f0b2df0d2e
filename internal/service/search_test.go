package service

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide"
)

// TestSearchEqualsSingleQueries: each answer of a batch is what the
// single query answers (SimilarWords, SolveAnalogy, a search by a word's
// own vector), unknown words fail their own query only, with
// suggestions.
func TestSearchEqualsSingleQueries(t *testing.T) {
	ctx := context.Background()
	models, queries := New(openStore(t), 64<<20, Config{})
	rng := rand.New(rand.NewPCG(1, 2))
	var b strings.Builder
	fmt.Fprintf(&b, "%d 8\n", 2000)
	for i := range 2000 {
		fmt.Fprintf(&b, "w%d", i)
		for range 8 {
			fmt.Fprintf(&b, " %.4f", rng.Float64()*2-1)
		}
		b.WriteByte('\n')
	}
	m, err := models.Import(ctx, "random", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	for _, restrict := range []int{0, 100} {
		var qs []ophicleide.SearchQuery
		for i := range 60 {
			switch i % 3 {
			case 0:
				qs = append(qs, ophicleide.SearchQuery{Word: fmt.Sprintf(" W%d ", i*31)}) // the model's form
			case 1:
				qs = append(qs, ophicleide.SearchQuery{Positive: []string{fmt.Sprintf("w%d", i), fmt.Sprintf("w%d", i+7)}, Negative: []string{fmt.Sprintf("w%d", i+500)}})
			case 2:
				v, _, err := queries.Vector(ctx, m.ID, fmt.Sprintf("w%d", i))
				if err != nil {
					t.Fatal(err)
				}
				for j := range v {
					v[j] *= 1000 // the direction counts, not the length
				}
				qs = append(qs, ophicleide.SearchQuery{Vector: v})
			}
		}
		qs = append(qs, ophicleide.SearchQuery{Word: "w1x"})
		got, err := queries.Search(ctx, ophicleide.SearchRequest{ModelID: m.ID, Queries: qs, Count: 10, Restrict: restrict})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(qs) {
			t.Fatalf("%d answers to %d queries", len(got), len(qs))
		}
		for i, q := range qs {
			var want *ophicleide.Neighbours
			switch {
			case q.Word == "w1x":
				wantError(t, "unknown word", got[i].Err, ophicleide.EINVALID, "word", `"w1x" is not in the vocabulary`)
				if e := got[i].Err.(*ophicleide.Error); len(e.Suggestions) == 0 || e.Suggestions[0] != "w1" {
					t.Errorf("suggestions %v", e.Suggestions)
				}
				continue
			case q.Word != "":
				want, err = queries.SimilarWords(ctx, ophicleide.SimilarRequest{ModelID: m.ID, Word: q.Word, Count: 10, Restrict: restrict})
			case q.Positive != nil:
				want, err = queries.SolveAnalogy(ctx, ophicleide.AnalogyRequest{ModelID: m.ID, Positive: q.Positive, Negative: q.Negative, Count: 10, Restrict: restrict})
			default:
				// The row's own vector: its neighbours and itself first.
				var ns *ophicleide.Neighbours
				ns, err = queries.SimilarWords(ctx, ophicleide.SimilarRequest{ModelID: m.ID, Word: fmt.Sprintf("w%d", i), Count: 9, Restrict: restrict})
				if err == nil {
					want = &ophicleide.Neighbours{Results: got[i].Results[:1]}
					want.Results = append(want.Results, ns.Results...)
				}
				if restrict == 0 && got[i].Results[0].Word != fmt.Sprintf("w%d", i) {
					t.Errorf("query %d: the vector of w%d answers %v first", i, i, got[i].Results[0])
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if got[i].Err != nil || len(got[i].Results) != 10 {
				t.Fatalf("restrict %d, query %d: %+v", restrict, i, got[i])
			}
			if !sameResults(got[i].Results, want.Results) {
				t.Errorf("restrict %d, query %d (%+v):\n batch  %v\n single %v", restrict, i, q, got[i].Results, want.Results)
			}
		}
	}
}

// sameResults: the same words in the same order, scores within float32
// rounding (a vector query is normalised in float64).
func sameResults(a, b []ophicleide.Result) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Word != b[i].Word || math.Abs(a[i].Score-b[i].Score) > 1e-5 {
			return false
		}
	}
	return true
}

func TestSearchRefusals(t *testing.T) {
	ctx := context.Background()
	_, queries, m := importAusten(t)
	word := []ophicleide.SearchQuery{{Word: "darcy"}}
	many := make([]ophicleide.SearchQuery, ophicleide.MaxSearchQueries+1)
	for i := range many {
		many[i].Word = "darcy"
	}
	long := make([]string, ophicleide.MaxListWords+1)
	for i := range long {
		long[i] = "darcy"
	}
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	for _, c := range []struct {
		what         string
		req          ophicleide.SearchRequest
		field, words string
	}{
		{"no queries", ophicleide.SearchRequest{Count: 5}, "queries", "at least one query"},
		{"1001 queries", ophicleide.SearchRequest{Queries: many, Count: 5}, "queries", "at most 1000 queries"},
		{"count 0", ophicleide.SearchRequest{Queries: word}, "count", "count must be"},
		{"count 101", ophicleide.SearchRequest{Queries: word, Count: 101}, "count", "count must be"},
		{"restrict", ophicleide.SearchRequest{Queries: word, Count: 5, Restrict: -1}, "restrict", "restrict must be"},
		{"method", ophicleide.SearchRequest{Queries: word, Count: 5, Method: "cosmul"}, "method", "method must be"},
		{"empty query", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Word: "darcy"}, {}}, Count: 5}, "queries[1]", "is empty"},
		{"two kinds", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Word: "darcy", Vector: []float32{1, 0, 0}}}, Count: 5}, "queries[0]", "more than one"},
		{"blank word", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Word: " \t"}}, Count: 5}, "queries[0].word", "blank"},
		{"empty vector", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Vector: []float32{}}}, Count: 5}, "queries[0].vector", "empty"},
		{"negative only", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Negative: []string{"darcy"}}}, Count: 5}, "queries[0].positive", "at least one positive"},
		{"blank positive", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Positive: []string{"darcy", ""}}}, Count: 5}, "queries[0].positive", "positive[1] is blank"},
		{"long analogy", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Positive: long}}, Count: 5}, "queries[0].positive", "at most 1000 words"},
		{"wrong dim", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Word: "darcy"}, {Vector: []float32{1, 0}}}, Count: 5}, "queries[1].vector", "has 2 values; the model's vectors have 3"},
		{"NaN", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Vector: []float32{1, nan, 0}}}, Count: 5}, "queries[0].vector", "queries[0].vector[1] is not a finite number"},
		{"Inf", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Vector: []float32{1, 0, inf}}}, Count: 5}, "queries[0].vector", "vector[2] is not a finite number"},
		{"zero", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Vector: []float32{0, 0, 0}}}, Count: 5}, "queries[0].vector", "is zero"},
	} {
		c.req.ModelID = m.ID
		out, err := queries.Search(ctx, c.req)
		wantError(t, c.what, err, ophicleide.EINVALID, c.field, c.words)
		if out != nil {
			t.Errorf("%s: answers %v with the error", c.what, out)
		}
	}
	_, err := queries.Search(ctx, ophicleide.SearchRequest{ModelID: "not-a-uuid", Queries: word, Count: 5})
	wantError(t, "unknown model", err, ophicleide.ENOTFOUND, "", "not found")

	// The largest finite values still have a direction.
	out, err := queries.Search(ctx, ophicleide.SearchRequest{ModelID: m.ID, Count: 2, Queries: []ophicleide.SearchQuery{{Vector: []float32{math.MaxFloat32, math.MaxFloat32 / 10, 0}}}})
	if err != nil || len(out) != 1 || out[0].Err != nil || len(out[0].Results) != 2 || out[0].Results[0].Word != "darcy" || math.IsNaN(out[0].Results[0].Score) {
		t.Fatalf("huge vector: %+v, %v", out, err)
	}
	// Per-query failures: a word both positive and negative, unknown words.
	out, err = queries.Search(ctx, ophicleide.SearchRequest{ModelID: m.ID, Count: 2, Queries: []ophicleide.SearchQuery{
		{Positive: []string{"darcy"}, Negative: []string{"Darcy"}}, {Positive: []string{"darcy"}, Negative: []string{"bingly"}}, {Word: "jane"}}})
	if err != nil || len(out) != 3 {
		t.Fatalf("%v, %v", out, err)
	}
	wantError(t, "both", out[0].Err, ophicleide.EINVALID, "negative", "both positive and negative")
	wantError(t, "unknown negative", out[1].Err, ophicleide.EINVALID, "negative", `"bingly" is not in the vocabulary of model "austen"`)
	if !reflect.DeepEqual(out[1].Err.(*ophicleide.Error).Suggestions, []string{"bingley"}) {
		t.Errorf("suggestions %v", out[1].Err.(*ophicleide.Error).Suggestions)
	}
	if out[2].Err != nil || out[2].Results[0].Word != "bingley" {
		t.Errorf("jane: %+v", out[2])
	}
}

// TestSearchSuggestionsBounded: only the first searchSuggestions unknown
// words of a request get suggestions.
func TestSearchSuggestionsBounded(t *testing.T) {
	ctx := context.Background()
	_, queries, m := importAusten(t)
	qs := make([]ophicleide.SearchQuery, ophicleide.MaxSearchQueries)
	for i := range qs {
		qs[i].Word = "darcey"
	}
	out, err := queries.Search(ctx, ophicleide.SearchRequest{ModelID: m.ID, Queries: qs, Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	with := 0
	for i, a := range out {
		wantError(t, "darcey", a.Err, ophicleide.EINVALID, "word", "not in the vocabulary")
		if e, ok := a.Err.(*ophicleide.Error); ok && len(e.Suggestions) > 0 {
			if with++; i >= searchSuggestions {
				t.Fatalf("query %d has suggestions", i)
			}
		}
	}
	if with != searchSuggestions {
		t.Fatalf("%d answers with suggestions", with)
	}
}

func TestSearchNotReady(t *testing.T) {
	ctx := context.Background()
	models, queries := New(openStore(t), 1<<20, Config{})
	m, err := models.Create(ctx, ophicleide.ModelRequest{Name: "queued", URLs: []string{"http://example.org/a"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = queries.Search(ctx, ophicleide.SearchRequest{ModelID: m.ID, Queries: []ophicleide.SearchQuery{{Word: "darcy"}}, Count: 5})
	wantError(t, "queued", err, ophicleide.ENOTFOUND, "", "is not ready")
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, queries2, m2 := importAusten(t)
	if _, err := queries2.Search(cctx, ophicleide.SearchRequest{ModelID: m2.ID, Queries: []ophicleide.SearchQuery{{Word: "darcy"}}, Count: 5}); err == nil {
		t.Fatal("a cancelled search answered")
	}
}
