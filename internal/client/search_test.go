package client

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	ophttp "github.com/ophicleide/ophicleide/internal/http"
	"github.com/ophicleide/ophicleide/internal/service"
)

// TestSearch: Search against the real server over a real embedded store
// answers as Query does, in order, with the per-query errors and the
// request's refusals as *ophicleide.Error.
func TestSearch(t *testing.T) {
	ctx := context.Background()
	store, err := bolt.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	models, queries := service.New(store, 1<<20, service.Config{})
	m, err := models.Import(ctx, "austen", strings.NewReader("5 3\ndarcy 1 0.1 0\nelizabeth 0.9 0.2 0\nbingley 0 1 0.1\njane 0.1 0.9 0.2\nwickham 0 0 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(ophttp.NewServer(models, queries, slog.New(slog.DiscardHandler), "test"))
	defer hs.Close()
	c := New(hs.URL)

	got, exact, err := c.Search(ctx, m.ID, ophicleide.SearchRequest{Count: 2, Queries: []ophicleide.SearchQuery{
		{Word: "Darcy"}, {Word: "bingly"}, {Vector: []float32{0, 0, 5}}, {Positive: []string{"darcy", "jane"}, Negative: []string{"elizabeth"}}}})
	if err != nil || !exact || len(got) != 4 {
		t.Fatalf("Search = %+v, %v, %v", got, exact, err)
	}
	q, err := c.Query(ctx, m.ID, "Darcy", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got[0].Results) != 2 || got[0].Results[0] != q.Results[0] || got[0].Results[1] != q.Results[1] {
		t.Errorf("Darcy: %v, query %v", got[0].Results, q.Results)
	}
	var e *ophicleide.Error
	if e, _ = got[1].Err.(*ophicleide.Error); e == nil || e.Code != ophicleide.EINVALID || e.Field != "queries[1].word" || len(e.Suggestions) == 0 || e.Suggestions[0] != "bingley" {
		t.Errorf("bingly: %+v", got[1])
	}
	if got[2].Err != nil || got[2].Results[0].Word != "wickham" || got[3].Err != nil || got[3].Results[0].Word != "bingley" {
		t.Errorf("vector, analogy: %+v %+v", got[2], got[3])
	}
	_, _, err = c.Search(ctx, m.ID, ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Vector: []float32{1, 0}}}})
	if !errors.As(err, &e) || e.Code != ophicleide.EINVALID || e.Field != "queries[0].vector" {
		t.Errorf("wrong dimension: %v", err)
	}
	if _, _, err = c.Search(ctx, "6b0c5a8e-1f0e-4b7a-9d55-3f1f6f0d2a11", ophicleide.SearchRequest{Queries: []ophicleide.SearchQuery{{Word: "darcy"}}}); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Errorf("unknown model: %v", err)
	}
}
