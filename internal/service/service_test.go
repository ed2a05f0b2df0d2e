package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/params"
)

// The services over a real embedded store on a temporary directory.

func openStore(t *testing.T) *bolt.Store {
	t.Helper()
	store, err := bolt.Open(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	return store
}

// wantError fails unless err is an *ophicleide.Error with code and field
// whose message holds msg.
func wantError(t *testing.T, what string, err error, code, field, msg string) {
	t.Helper()
	var e *ophicleide.Error
	if !errors.As(err, &e) || e.Code != code || e.Field != field || !strings.Contains(e.Message, msg) {
		t.Errorf("%s: %v (%#v); want %s, field %q, message with %q", what, err, e, code, field, msg)
	}
}

// austen is a small word2vec text file: darcy is nearest to elizabeth,
// jane to bingley.
const austen = `5 3
darcy 1 0.1 0
elizabeth 0.9 0.2 0
bingley 0 1 0.1
jane 0.1 0.9 0.2
Wickham 0 0 1
`

func TestCreate(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	woken := 0
	var validated []ophicleide.Params
	models := NewModels(store, nil, Config{
		Validate: func(p ophicleide.Params) error {
			validated = append(validated, p)
			if p.Dim > 10 {
				return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "dim", Message: "dim too big for this engine"}
			}
			return nil
		},
		Precheck: func(context.Context, ophicleide.Params, map[string]io.Reader) error {
			t.Error("precheck of a model with URLs")
			return nil
		},
		Wake: func() { woken++ },
	})
	urls := []string{"https://example.org/a.txt"}
	for _, c := range []struct {
		req         ophicleide.ModelRequest
		field, want string
	}{
		{ophicleide.ModelRequest{Name: "  ", URLs: urls}, "name", "name is required"},
		{ophicleide.ModelRequest{Name: strings.Repeat("n", 201), URLs: urls}, "name", "name is longer than 200 characters"},
		{ophicleide.ModelRequest{Name: "x", URLs: make([]string, 101)}, "urls", "at most 100 URLs per model"},
		{ophicleide.ModelRequest{Name: "x", URLs: []string{"ftp://example.org/a"}}, "urls", `"ftp://example.org/a" is not an http or https URL`},
		{ophicleide.ModelRequest{Name: "x", URLs: []string{" ", ""}}, "urls", "give at least one URL"},
		{ophicleide.ModelRequest{Name: "x", URLs: urls, ZeroParam: "epochs"}, "epochs", "epochs must be above 0 (leave it out for the default)"},
		{ophicleide.ModelRequest{Name: "x", URLs: urls, Params: ophicleide.Params{Dim: 11}}, "dim", "dim too big for this engine"},
	} {
		_, err := models.Create(ctx, c.req)
		wantError(t, fmt.Sprintf("%+v", c.req.Params), err, ophicleide.EINVALID, c.field, c.want)
	}
	if len(validated) != 1 {
		t.Errorf("the validator ran %d times, want once (after the request's own checks)", len(validated))
	}
	m, err := models.Create(ctx, ophicleide.ModelRequest{Name: " austen ", URLs: []string{" https://example.org/a.txt ", ""}, Params: ophicleide.Params{Dim: 5}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.FindModel(ctx, m.ID)
	if err != nil || got.Name != "austen" || got.Status != ophicleide.StatusQueued || len(got.URLs) != 1 || got.URLs[0] != "https://example.org/a.txt" || got.Params.Dim != 5 {
		t.Fatalf("stored %+v, %v", got, err)
	}
	if n, _ := store.QueueLength(ctx); n != 1 || woken != 1 {
		t.Errorf("queue %d, woken %d; want 1 and 1", n, woken)
	}
	if n, _ := models.QueueLength(ctx); n != 1 {
		t.Errorf("QueueLength %d", n)
	}
}

// TestCreateDefaults: without a validator the engine's default limits
// apply, and they are the ones published.
func TestCreateDefaults(t *testing.T) {
	models := NewModels(openStore(t), nil, Config{})
	_, err := models.Create(context.Background(), ophicleide.ModelRequest{Name: "x", URLs: []string{"http://example.org/a"}, Params: ophicleide.Params{Dim: 1001}})
	wantError(t, "dim 1001", err, ophicleide.EINVALID, "dim", "above this server's limit of 1000")
	if got := models.Limits().Params; got != ophicleide.ParamLimits(params.DefaultLimits()) {
		t.Errorf("published %+v", got)
	}
	lim := ophicleide.Limits{Params: ophicleide.ParamLimits{MaxDim: 7, MaxWindow: 1, MaxNegative: 1, MaxEpochs: 1, MaxAlpha: 1}, MaxAttempts: 2}
	if got := NewModels(nil, nil, Config{Limits: lim}).Limits(); !reflect.DeepEqual(got, lim) {
		t.Errorf("published %+v, want %+v", got, lim)
	}
}

func TestCreatePrecheck(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	text := "It is a truth universally acknowledged."
	var seen string
	refuse := false
	models := NewModels(store, nil, Config{Precheck: func(_ context.Context, p ophicleide.Params, uploads map[string]io.Reader) error {
		b, _ := io.ReadAll(uploads["book"])
		seen = string(b)
		if refuse {
			return &ophicleide.Error{Code: ophicleide.EINVALID, Message: "too much memory"}
		}
		return nil
	}})
	m, err := models.Create(ctx, ophicleide.ModelRequest{Name: "x", Uploads: []ophicleide.Upload{{Name: "book", Text: strings.NewReader(text)}}})
	if err != nil {
		t.Fatal(err)
	}
	if seen != text || len(m.Uploads) != 1 || m.Uploads[0] != "book" {
		t.Fatalf("precheck read %q; model %+v", seen, m)
	}
	// Rewound for the store.
	rc, err := store.OpenUpload(ctx, m.ID, "book")
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := io.ReadAll(rc)
	rc.Close()
	if string(stored) != text {
		t.Errorf("stored upload %q", stored)
	}

	refuse = true
	_, err = models.Create(ctx, ophicleide.ModelRequest{Name: "y", Uploads: []ophicleide.Upload{{Name: "book", Text: strings.NewReader(text)}}})
	wantError(t, "refused", err, ophicleide.EINVALID, "", "too much memory")
	refuse = false
	_, err = models.Create(ctx, ophicleide.ModelRequest{Name: "z", Uploads: []ophicleide.Upload{{Name: "book", Text: io.LimitReader(strings.NewReader(text), 5)}}})
	if err == nil || !strings.Contains(err.Error(), "cannot be rewound") || ophicleide.ErrorCode(err) != ophicleide.EINTERNAL {
		t.Errorf("an upload that cannot be rewound: %v", err)
	}
	page, err := store.PageModels(ctx, ophicleide.Page{})
	if err != nil || len(page.Models) != 1 {
		t.Errorf("models stored: %d, %v; want only the first", len(page.Models), err)
	}
}

// importAusten returns the services over a new store holding austen.
func importAusten(t *testing.T) (*Models, *Queries, *ophicleide.Model) {
	t.Helper()
	models, queries := New(openStore(t), 1<<20, Config{})
	m, err := models.Import(context.Background(), " austen ", strings.NewReader(austen))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "austen" || m.Status != ophicleide.StatusReady || m.Params.Dim != 3 || m.Stats == nil || m.Stats.VocabSize != 5 {
		t.Fatalf("imported %+v", m)
	}
	return models, queries, m
}

func TestImportErrors(t *testing.T) {
	ctx := context.Background()
	models, _ := New(openStore(t), 1<<20, Config{})
	_, err := models.Import(ctx, "", strings.NewReader(austen))
	wantError(t, "no name", err, ophicleide.EINVALID, "name", "name is required")
	_, err = models.Import(ctx, strings.Repeat("n", 201), strings.NewReader(austen))
	wantError(t, "long name", err, ophicleide.EINVALID, "name", "name is longer than 200 characters")
	_, err = models.Import(ctx, "x", strings.NewReader("hello world\n"))
	wantError(t, "not vectors", err, ophicleide.EINVALID, "file", "not a word2vec vectors file: ")
	_, err = models.Import(ctx, "x", strings.NewReader("0 3\n"))
	wantError(t, "no words", err, ophicleide.EINVALID, "file", "")
	// The reader's own errors stay in the chain (the HTTP adapter tells a
	// body too large from them).
	own := errors.New("the body is too large")
	_, err = models.Import(ctx, "x", io.MultiReader(strings.NewReader("5 3\ndarcy 1 0"), &failing{own}))
	if !errors.Is(err, own) {
		t.Errorf("a read error: %v, want it in the chain", err)
	}
	// A file refused by its first line stores nothing; one cut after a
	// model was begun leaves it failed with a reason, never ready.
	page, _ := models.PageModels(ctx, ophicleide.Page{})
	for _, m := range page.Models {
		if m.Status != ophicleide.StatusFailed || m.Error == "" {
			t.Errorf("failed import stored as %s (%q), want failed with a reason", m.Status, m.Error)
		}
	}
	if len(page.Models) > 2 {
		t.Errorf("failed imports stored %d models, want at most the 2 whose header was read", len(page.Models))
	}
}

type failing struct{ err error }

func (f *failing) Read([]byte) (int, error) { return 0, f.err }

func TestQuery(t *testing.T) {
	ctx := context.Background()
	_, queries, m := importAusten(t)
	// "Darcy" is "darcy" to the model's (unicode) tokenizer.
	q, err := queries.Query(ctx, ophicleide.QueryRequest{ModelID: m.ID, Word: " Darcy ", Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	if q.Word != "Darcy" || q.ModelName != "austen" || len(q.Results) != 2 || q.Results[0].Word != "elizabeth" {
		t.Fatalf("query %+v", q)
	}
	if got, err := queries.FindQuery(ctx, q.ID); err != nil || got.ID != q.ID {
		t.Errorf("FindQuery: %+v, %v", got, err)
	}
	if page, err := queries.PageQueries(ctx, m.ID, ophicleide.Page{}); err != nil || len(page.Queries) != 1 {
		t.Errorf("PageQueries: %+v, %v", page, err)
	}
	for _, c := range []struct {
		req         ophicleide.QueryRequest
		code, field string
		want        string
	}{
		{ophicleide.QueryRequest{Word: "darcy", Count: 5}, ophicleide.EINVALID, "model", "model (a model id) is required"},
		{ophicleide.QueryRequest{ModelID: m.ID, Word: " ", Count: 5}, ophicleide.EINVALID, "word", "word is required"},
		{ophicleide.QueryRequest{ModelID: m.ID, Word: "darcy", Count: 0}, ophicleide.EINVALID, "count", "count must be between 1 and 100"},
		{ophicleide.QueryRequest{ModelID: m.ID, Word: "darcy", Count: 101}, ophicleide.EINVALID, "count", "count must be between 1 and 100"},
		{ophicleide.QueryRequest{ModelID: m.ID, Word: "collins", Count: 5}, ophicleide.EINVALID, "word", `the word "collins" is not in the vocabulary of model "austen"`},
		{ophicleide.QueryRequest{ModelID: "not-a-uuid", Word: "darcy", Count: 5}, ophicleide.ENOTFOUND, "", `model "not-a-uuid" not found`},
		{ophicleide.QueryRequest{ModelID: "6ba7b810-9dad-11d1-80b4-00c04fd430c8", Word: "darcy", Count: 5}, ophicleide.ENOTFOUND, "", "not found"},
	} {
		_, err := queries.Query(ctx, c.req)
		wantError(t, fmt.Sprintf("%+v", c.req), err, c.code, c.field, c.want)
	}
	if page, _ := queries.PageQueries(ctx, "", ophicleide.Page{}); len(page.Queries) != 1 {
		t.Errorf("refused queries were stored: %d", len(page.Queries))
	}
}

func TestVectorQueries(t *testing.T) {
	ctx := context.Background()
	_, queries, m := importAusten(t)
	if rs, err := queries.Nearest(ctx, m.ID, "jane", 1); err != nil || len(rs) != 1 || rs[0].Word != "bingley" {
		t.Errorf("Nearest: %v, %v", rs, err)
	}
	_, err := queries.Nearest(ctx, m.ID, "jane", 0)
	wantError(t, "count 0", err, ophicleide.EINVALID, "count", "count must be between 1 and 100")
	// Case-sensitive vocabularies are searched as given first.
	if rs, err := queries.Nearest(ctx, m.ID, "Wickham", 1); err != nil || len(rs) != 1 {
		t.Errorf("Nearest Wickham: %v, %v", rs, err)
	}

	if rs, err := queries.Analogy(ctx, m.ID, []string{"Elizabeth", "bingley"}, []string{"darcy"}, 1); err != nil || len(rs) != 1 || rs[0].Word != "jane" {
		t.Errorf("Analogy: %v, %v", rs, err)
	}
	_, err = queries.Analogy(ctx, m.ID, []string{"darcy"}, []string{"collins"}, 3)
	wantError(t, "unknown negative", err, ophicleide.EINVALID, "negative", `the word "collins"`)
	_, err = queries.Analogy(ctx, m.ID, []string{"collins"}, []string{"darcy"}, 3)
	wantError(t, "unknown positive", err, ophicleide.EINVALID, "positive", `the word "collins"`)
	_, err = queries.Analogy(ctx, m.ID, []string{"darcy", "jane"}, []string{"Darcy"}, 3)
	wantError(t, "both", err, ophicleide.EINVALID, "negative", `the word "Darcy" is both positive and negative`)

	if sim, _, err := queries.Similarity(ctx, m.ID, "darcy", "ELIZABETH"); err != nil || sim < 0.9 {
		t.Errorf("Similarity: %v, %v", sim, err)
	}
	_, _, err = queries.Similarity(ctx, m.ID, "darcy", "collins")
	wantError(t, "unknown b", err, ophicleide.EINVALID, "b", `the word "collins"`)
	_, _, err = queries.Similarity(ctx, m.ID, "collins", "darcy")
	wantError(t, "unknown a", err, ophicleide.EINVALID, "a", `the word "collins"`)

	if v, _, err := queries.Vector(ctx, m.ID, "Bingley"); err != nil || len(v) != 3 || v[1] != 1 {
		t.Errorf("Vector: %v, %v", v, err)
	}
	_, _, err = queries.Vector(ctx, m.ID, "collins")
	wantError(t, "unknown vector", err, ophicleide.EINVALID, "word", `the word "collins"`)

	ws, err := queries.Words(ctx, m.ID, " J", 5)
	if err != nil || len(ws) != 1 || ws[0] != (ophicleide.WordRank{Word: "jane", Rank: 4}) {
		t.Errorf("Words: %v, %v", ws, err)
	}
	if ws, err := queries.Words(ctx, m.ID, "", 2); err != nil || len(ws) != 2 || ws[1].Word != "elizabeth" {
		t.Errorf("Words: %v, %v", ws, err)
	}
	if ws, err := queries.Words(ctx, m.ID, "zz", 2); err != nil || ws == nil || len(ws) != 0 {
		t.Errorf("Words without a match: %#v, %v (want an empty list)", ws, err)
	}
	_, err = queries.Words(ctx, m.ID, "", 1001)
	wantError(t, "limit", err, ophicleide.EINVALID, "limit", "limit must be between 1 and 1000")
}

func TestExport(t *testing.T) {
	ctx := context.Background()
	_, queries, m := importAusten(t)
	ex, err := queries.Export(ctx, m.ID, " TEXT")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := ex.Write(&b); err != nil {
		t.Fatal(err)
	}
	if ex.Format != ophicleide.ExportText || ex.Model.ID != m.ID || !strings.HasPrefix(b.String(), "5 3\ndarcy ") {
		t.Errorf("text export %s: %q", ex.Format, b.String())
	}
	ex, err = queries.Export(ctx, m.ID, "")
	if err != nil || ex.Format != ophicleide.ExportBinary {
		t.Fatalf("binary export: %+v, %v", ex, err)
	}
	b.Reset()
	if err := ex.Write(&b); err != nil || !strings.HasPrefix(b.String(), "5 3\n") || len(b.String()) < 5*3*4 {
		t.Errorf("binary export: %d bytes, %v", len(b.String()), err)
	}
	_, err = queries.Export(ctx, m.ID, "csv")
	wantError(t, "csv", err, ophicleide.EINVALID, "format", "format must be binary or text")
	_, err = queries.Export(ctx, "nope", "text")
	wantError(t, "no model", err, ophicleide.ENOTFOUND, "", `model "nope" not found`)
}

func TestNotReady(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	models, queries := New(store, 1<<20, Config{})
	m, err := models.Create(ctx, ophicleide.ModelRequest{Name: "queued", URLs: []string{"http://example.org/a"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = queries.Nearest(ctx, m.ID, "darcy", 5)
	wantError(t, "queued", err, ophicleide.ENOTFOUND, "", `model "queued" is not ready (status queued)`)
	_, err = queries.Export(ctx, m.ID, "")
	wantError(t, "queued export", err, ophicleide.ENOTFOUND, "", "is not ready")
}

// TestDeleteForgetsVectors: a deleted model's vectors leave the cache, and
// it is not found by queries.
func TestDeleteForgetsVectors(t *testing.T) {
	ctx := context.Background()
	models, queries, m := importAusten(t)
	if _, err := queries.Nearest(ctx, m.ID, "darcy", 1); err != nil {
		t.Fatal(err)
	}
	if n, _ := queries.cache.sets.Stats(); n != 1 {
		t.Fatalf("%d models cached after a query, want 1", n)
	}
	if err := models.Delete(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := queries.cache.sets.Stats(); n != 0 {
		t.Errorf("%d models cached after Delete, want 0", n)
	}
	_, err := queries.Nearest(ctx, m.ID, "darcy", 1)
	wantError(t, "deleted", err, ophicleide.ENOTFOUND, "", "not found")
	err = models.Delete(ctx, m.ID)
	wantError(t, "deleted twice", err, ophicleide.ENOTFOUND, "", "")
	if _, err := models.FindModel(ctx, m.ID); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Errorf("FindModel after Delete: %v", err)
	}
	if c, err := models.CountModels(ctx); err != nil || c.ByStatus[ophicleide.StatusReady] != 0 {
		t.Errorf("CountModels: %+v, %v", c, err)
	}
}
