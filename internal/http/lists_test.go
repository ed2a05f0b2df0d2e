package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/http/openapi/spectest"
	"github.com/ophicleide/ophicleide/internal/storetest"
)

// newListsServer serves the API over a real embedded store on a temporary
// directory.
func newListsServer(t testing.TB, opts ...bolt.Option) (*httptest.Server, *bolt.Store) {
	t.Helper()
	store, err := bolt.Open(context.Background(), t.TempDir(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newRealServer(store, 1<<20, slog.New(slog.NewTextHandler(io.Discard, nil))))
	t.Cleanup(func() {
		srv.Close()
		store.Close()
	})
	return srv, store
}

var listsSpecRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := spectest.Load(context.Background())
	if err != nil {
		return nil, err
	}
	return legacy.NewRouter(doc)
})

// get sends GET path, checks the request and the response against the
// OpenAPI document, and decodes the body into out.
func listsGet(t *testing.T, srv *httptest.Server, path string, out any) int {
	t.Helper()
	resp, err := http.Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	router, err := listsSpecRouter()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, strings.TrimPrefix(path, "/api"), nil)
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("GET %s is not in the OpenAPI document: %v", path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	if resp.StatusCode < 300 {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			t.Errorf("GET %s was accepted but the OpenAPI document refuses it: %v", path, err)
		}
	}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header, Body: io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	})
	if err != nil {
		t.Errorf("GET %s -> %d does not match the OpenAPI document: %v\nbody: %.500s", path, resp.StatusCode, err, body)
	}
	if out != nil {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("GET %s: %v: %.500s", path, err, body)
		}
	}
	return resp.StatusCode
}

// addListQueries stores n queries of model m, created base+i/3 seconds (three
// per timestamp), and returns their IDs newest first.
func addListQueries(t testing.TB, store ophicleide.Store, m *ophicleide.Model, n int, base time.Time) []string {
	t.Helper()
	qs := make([]*ophicleide.Query, n)
	for i := range qs {
		qs[i] = &ophicleide.Query{ID: storetest.NewID(), Word: "darcy", ModelID: m.ID, ModelName: m.Name,
			Results: []ophicleide.Result{{Word: "bingley", Score: 0.5}}, Created: base.Add(time.Duration(i/3) * time.Second)}
		if err := store.CreateQuery(context.Background(), qs[i]); err != nil {
			t.Fatal(err)
		}
	}
	slices.SortFunc(qs, func(a, b *ophicleide.Query) int { // newest first, ties by descending ID
		if c := b.Created.Compare(a.Created); c != 0 {
			return c
		}
		return strings.Compare(b.ID, a.ID)
	})
	ids := make([]string, n)
	for i, q := range qs {
		ids[i] = q.ID
	}
	return ids
}

type listQueryPage struct {
	Queries []struct {
		ID      string            `json:"id"`
		Model   string            `json:"model"`
		Results []json.RawMessage `json:"results"`
	} `json:"queries"`
	Next *string `json:"next"`
}

// followListQueries reads GET path page after page and returns the IDs.
func followListQueries(t *testing.T, srv *httptest.Server, path string, limit int) []string {
	t.Helper()
	var ids []string
	after := ""
	for range 100 {
		v := url.Values{}
		if limit > 0 {
			v.Set("limit", fmt.Sprint(limit))
		}
		if after != "" {
			v.Set("after", after)
		}
		sep := "?"
		if strings.Contains(path, "?") {
			sep = "&"
		}
		var page listQueryPage
		if st := listsGet(t, srv, path+sep+v.Encode(), &page); st != http.StatusOK {
			t.Fatalf("GET %s: %d", path, st)
		}
		for _, q := range page.Queries {
			ids = append(ids, q.ID)
		}
		if page.Next == nil {
			return ids
		}
		if *page.Next == "" || len(page.Queries) != limit {
			t.Fatalf("page of %d with next %q", len(page.Queries), *page.Next)
		}
		after = *page.Next
	}
	t.Fatal("the pages never ended")
	return nil
}

// TestListQueriesIsPaginated: issue 10, GET /queries answered all 37k
// queries in one body (17.5 MB, 3 s). It now answers the newest 100 in
// the original's shape ({"queries": [...]}, which the 2016 web page
// reads) with a next cursor, pages follow one another, ?model= filters,
// and bad parameters are a 400 naming the field.
func TestListQueriesIsPaginated(t *testing.T) {
	srv, store := newListsServer(t)
	ctx := t.Context()
	a, b := storetest.NewModel(0), storetest.NewModel(time.Second)
	for _, m := range []*ophicleide.Model{a, b} {
		if err := store.CreateModel(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Date(2026, 1, 2, 3, 4, 5, 6e6, time.UTC)
	ofA := addListQueries(t, store, a, 250, base)
	ofB := addListQueries(t, store, b, 10, base.Add(-time.Hour)) // older than all of a's

	var first listQueryPage
	if st := listsGet(t, srv, "/queries", &first); st != http.StatusOK {
		t.Fatalf("GET /queries: %d", st)
	}
	if len(first.Queries) != ophicleide.DefaultPageLimit || first.Next == nil || *first.Next == "" {
		t.Fatalf("GET /queries: %d queries, next %v; want %d and a cursor", len(first.Queries), first.Next, ophicleide.DefaultPageLimit)
	}
	if first.Queries[0].ID != ofA[0] || len(first.Queries[0].Results) != 1 {
		t.Errorf("first query %+v, want %s with its results", first.Queries[0], ofA[0])
	}
	all := append(append([]string{}, ofA...), ofB...)
	for _, limit := range []int{70, 1000} {
		if got := followListQueries(t, srv, "/api/queries", limit); !reflect.DeepEqual(got, all) {
			t.Fatalf("pages of %d: %d ids, want %d in order", limit, len(got), len(all))
		}
	}
	if got := followListQueries(t, srv, "/queries?model="+b.ID, 3); !reflect.DeepEqual(got, ofB) {
		t.Fatalf("?model=b: %v, want %v", got, ofB)
	}
	if got := followListQueries(t, srv, "/queries?model="+storetest.NewID(), 3); len(got) != 0 {
		t.Fatalf("?model=unknown: %v", got)
	}
	for _, bad := range []struct{ query, field string }{
		{"limit=0", "limit"}, {"limit=1001", "limit"}, {"limit=ten", "limit"}, {"limit=-5", "limit"},
		{"after=%21%21", "after"}, {"after=AAAA", "after"},
	} {
		var e struct {
			Errors []apiError `json:"errors"`
		}
		if st := listsGet(t, srv, "/queries?"+bad.query, &e); st != http.StatusBadRequest || len(e.Errors) != 1 || e.Errors[0].Field != bad.field {
			t.Errorf("GET /queries?%s: %d %+v, want 400 naming %s", bad.query, st, e.Errors, bad.field)
		}
	}
}

// TestListModelsIsPaginated: GET /models pages as GET /queries does.
func TestListModelsIsPaginated(t *testing.T) {
	srv, store := newListsServer(t)
	var want []string
	for i := range 7 {
		m := storetest.NewModel(time.Duration(i/2) * time.Second)
		if err := store.CreateModel(t.Context(), m, nil); err != nil {
			t.Fatal(err)
		}
		want = append(want, m.ID)
	}
	page, err := store.PageModels(t.Context(), ophicleide.Page{Limit: 7})
	if err != nil {
		t.Fatal(err)
	}
	want = want[:0]
	for _, m := range page.Models {
		want = append(want, m.ID)
	}
	var got []string
	after := ""
	for range 10 {
		var body struct {
			Models []*ophicleide.Model `json:"models"`
			Next   string              `json:"next"`
		}
		if st := listsGet(t, srv, "/models?limit=3&after="+after, &body); st != http.StatusOK {
			t.Fatalf("GET /models: %d", st)
		}
		for _, m := range body.Models {
			got = append(got, m.ID)
		}
		if after = body.Next; after == "" {
			break
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("models by pages of 3: %v, want %v", got, want)
	}
	if st := listsGet(t, srv, "/models?limit=5000", nil); st != http.StatusBadRequest {
		t.Errorf("GET /models?limit=5000: %d, want 400", st)
	}
}

// TestQueriesOfDeletedModelGo: DELETE /models/{id} removes the model's
// query history; other models' stays.
func TestQueriesOfDeletedModelGo(t *testing.T) {
	srv, store := newListsServer(t)
	del, keep := storetest.NewModel(0), storetest.NewModel(time.Second)
	for _, m := range []*ophicleide.Model{del, keep} {
		if err := store.CreateModel(t.Context(), m, nil); err != nil {
			t.Fatal(err)
		}
	}
	base := time.Now().UTC()
	gone := addListQueries(t, store, del, 5, base)
	kept := addListQueries(t, store, keep, 5, base)
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/models/"+del.ID, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE: %d", resp.StatusCode)
	}
	if got := followListQueries(t, srv, "/queries?model="+del.ID, 10); len(got) != 0 {
		t.Errorf("queries of the deleted model: %v", got)
	}
	if got := followListQueries(t, srv, "/queries", 100); !reflect.DeepEqual(got, kept) {
		t.Errorf("queries after the deletion: %v, want %v", got, kept)
	}
	for _, id := range gone {
		if st := listsGet(t, srv, "/queries/"+id, nil); st != http.StatusNotFound {
			t.Errorf("GET /queries/%s of the deleted model: %d, want 404", id, st)
		}
	}
}

// BenchmarkListQueriesPage: one page of GET /queries (the default, 100)
// with 1,000 and 40,000 stored queries, at the start and deep in the
// history; "all" reads the 40,000 through pages of 1,000 (what the single
// answer of issue 10 cost, at least).
func BenchmarkListQueriesPage(b *testing.B) {
	srv, store := newListsServer(b)
	m := storetest.NewModel(0)
	if err := store.CreateModel(b.Context(), m, nil); err != nil {
		b.Fatal(err)
	}
	fetch := func(b *testing.B, path string) (next string, n int) {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			b.Fatal(err)
		}
		var page ophicleide.QueryPage
		err = json.NewDecoder(resp.Body).Decode(&page)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return page.Next, len(page.Queries)
	}
	base := time.Now().UTC()
	stored := 0
	for _, n := range []int{1000, 40000} {
		addListQueries(b, store, m, n-stored, base.Add(time.Duration(stored)*time.Second))
		stored = n
		// A cursor from the middle of the history.
		mid := ""
		for range n / 2 / ophicleide.MaxPageLimit {
			mid, _ = fetch(b, "/queries?limit=1000&after="+mid)
		}
		b.Run(fmt.Sprintf("stored=%d/first", n), func(b *testing.B) {
			for b.Loop() {
				if _, got := fetch(b, "/queries"); got != ophicleide.DefaultPageLimit {
					b.Fatalf("%d queries", got)
				}
			}
		})
		b.Run(fmt.Sprintf("stored=%d/middle", n), func(b *testing.B) {
			for b.Loop() {
				if _, got := fetch(b, "/queries?after="+mid); got != ophicleide.DefaultPageLimit {
					b.Fatalf("%d queries", got)
				}
			}
		})
	}
	b.Run("stored=40000/all", func(b *testing.B) {
		for b.Loop() {
			total, next := 0, ""
			for {
				var n int
				next, n = fetch(b, "/queries?limit=1000&after="+next)
				total += n
				if next == "" {
					break
				}
			}
			if total != stored {
				b.Fatalf("%d queries", total)
			}
		}
	})
}

// TestFullStoreIs507: a store that cannot take more (here its data
// directory is at its MaxBytes) answers 507 with its words, not a 500.
func TestFullStoreIs507(t *testing.T) {
	srv, _ := newListsServer(t, bolt.MaxBytes(1))
	resp, err := http.Post(srv.URL+"/models", "application/json", strings.NewReader(`{"name": "austen", "urls": ["https://example.org/a.txt"]}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var e struct {
		Errors []apiError `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusInsufficientStorage || len(e.Errors) != 1 || !strings.Contains(e.Errors[0].Details, "reached its limit of 1 byte:") {
		t.Fatalf("POST /models to a full store: %d %+v, want 507 saying the limit", resp.StatusCode, e.Errors)
	}
}
