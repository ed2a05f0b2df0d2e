// Package storetest is the conformance suite of ophicleide.Store: every
// store (the embedded one, MongoDB) runs Run against a fresh instance and
// so keeps the contracts written in the domain package — error codes,
// orderings, round-tripped fields, and the job queue's claims, leases and
// fencing tokens.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// Run runs the suite. open returns a fresh, empty store for each subtest;
// the suite closes it.
func Run(t *testing.T, open func(t *testing.T) ophicleide.Store) {
	newStore := func(t *testing.T) ophicleide.Store {
		t.Helper()
		s := open(t)
		t.Cleanup(func() {
			if err := s.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return s
	}
	t.Run("Models", func(t *testing.T) { testModels(t, newStore) })
	t.Run("Queries", func(t *testing.T) { testQueries(t, newStore) })
	t.Run("Jobs", func(t *testing.T) { testJobs(t, newStore) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
}

type opener = func(t *testing.T) ophicleide.Store

// base is the creation time of test models: nanoseconds included, so
// that stores keeping milliseconds are checked for truncation only.
var base = time.Date(2026, 3, 14, 15, 9, 26, 535897932, time.UTC)

// NewID returns a random UUID string.
func NewID() string {
	var b [16]byte
	rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// NewModel returns a model with every field the caller sets filled in,
// created at base+age.
func NewModel(age time.Duration) *ophicleide.Model {
	created := base.Add(age)
	return &ophicleide.Model{
		ID:       NewID(),
		Name:     "austen " + created.Format(time.StampMilli),
		URLs:     []string{"https://www.gutenberg.org/files/1342/1342-0.txt", "https://example.org/b.txt"},
		Callback: "https://example.org/hook?x=1",
		Params: ophicleide.Params{
			Model: "skipgram", Loss: "ns", Dim: 100, Window: 5, Negative: 5, MinCount: 2,
			Sample: 1e-3, Epochs: 3, Alpha: 0.025, Seed: 1<<63 + 7, MaxVocab: 50000, Tokenizer: "classic",
		},
		Created: created,
		Updated: created.Add(1500 * time.Microsecond),
	}
}

func ctx(t *testing.T) context.Context { return t.Context() }

func mustCreate(t *testing.T, s ophicleide.Store, m *ophicleide.Model, uploads map[string]io.Reader) {
	t.Helper()
	if err := s.CreateModel(ctx(t), m, uploads); err != nil {
		t.Fatalf("CreateModel: %v", err)
	}
}

func mustFind(t *testing.T, s ophicleide.Store, id string) *ophicleide.Model {
	t.Helper()
	m, err := s.FindModel(ctx(t), id)
	if err != nil {
		t.Fatalf("FindModel: %v", err)
	}
	return m
}

func mustClaim(t *testing.T, s ophicleide.Store, owner string, d time.Duration) *ophicleide.Lease {
	t.Helper()
	l, err := s.ClaimJob(ctx(t), owner, d)
	if err != nil {
		t.Fatalf("ClaimJob: %v", err)
	}
	if l == nil {
		t.Fatal("ClaimJob: no job")
	}
	return l
}

func wantNoClaim(t *testing.T, s ophicleide.Store) {
	t.Helper()
	l, err := s.ClaimJob(ctx(t), "idle", time.Minute)
	if err != nil || l != nil {
		t.Fatalf("ClaimJob = %+v, %v; want nil, nil", l, err)
	}
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := ophicleide.ErrorCode(err); got != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, got, code)
	}
}

func wantLost(t *testing.T, what string, err error) {
	t.Helper()
	wantCode(t, what, err, ophicleide.ECONFLICT)
	if err != nil && !errors.Is(err, ophicleide.ErrLeaseLost) {
		t.Errorf("%s: %v is not ErrLeaseLost", what, err)
	}
}

func wantQueueLength(t *testing.T, s ophicleide.Store, want int) {
	t.Helper()
	n, err := s.QueueLength(ctx(t))
	if err != nil || n != want {
		t.Fatalf("QueueLength = %d, %v; want %d", n, err, want)
	}
}

func wantStatus(t *testing.T, s ophicleide.Store, id string, want ophicleide.Status) *ophicleide.Model {
	t.Helper()
	m := mustFind(t, s, id)
	if m.Status != want {
		t.Fatalf("status %q, want %q", m.Status, want)
	}
	return m
}

// readAll returns a function that reads and closes what an Open method
// returned: readAll(t)(s.OpenVectors(ctx, id)).
func readAll(t *testing.T) func(io.ReadCloser, error) []byte {
	return func(rc io.ReadCloser, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		return b
	}
}

// sameTime compares times as a store keeping milliseconds would.
func sameTime(a, b time.Time) bool {
	return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond))
}

// wantModel compares a stored model with the one created, ignoring
// Updated (the store moves it) unless checkUpdated.
func wantModel(t *testing.T, got, want *ophicleide.Model, checkUpdated bool) {
	t.Helper()
	if !sameTime(got.Created, want.Created) {
		t.Errorf("Created %v, want %v", got.Created, want.Created)
	}
	if checkUpdated && !sameTime(got.Updated, want.Updated) {
		t.Errorf("Updated %v, want %v", got.Updated, want.Updated)
	}
	g, w := *got, *want
	g.Created, g.Updated, w.Created, w.Updated = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if len(g.URLs) == 0 && len(w.URLs) == 0 {
		g.URLs, w.URLs = nil, nil
	}
	if len(g.Uploads) == 0 && len(w.Uploads) == 0 {
		g.Uploads, w.Uploads = nil, nil
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("model\n got %+v\nwant %+v", g, w)
	}
}

func modelIDs(ms []*ophicleide.Model) []string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}

func testModels(t *testing.T, open opener) {
	t.Run("CreateFind", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		m.Uploads = []string{"pride.txt", "emma.txt"}
		uploads := map[string]io.Reader{
			"pride.txt": strings.NewReader("It is a truth universally acknowledged"),
			"emma.txt":  strings.NewReader(""),
		}
		mustCreate(t, s, m, uploads)
		want := *m
		want.Status = ophicleide.StatusQueued
		wantModel(t, mustFind(t, s, m.ID), &want, true)

		got := readAll(t)(s.OpenUpload(ctx(t), m.ID, "pride.txt"))
		if string(got) != "It is a truth universally acknowledged" {
			t.Errorf("upload = %q", got)
		}
		if got := readAll(t)(s.OpenUpload(ctx(t), m.ID, "emma.txt")); len(got) != 0 {
			t.Errorf("empty upload = %q", got)
		}
		_, err := s.OpenUpload(ctx(t), m.ID, "persuasion.txt")
		wantCode(t, "OpenUpload of an unknown name", err, ophicleide.ENOTFOUND)
	})

	t.Run("NoUploads", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		m.URLs = []string{"https://example.org/only"}
		mustCreate(t, s, m, nil)
		want := *m
		want.Status = ophicleide.StatusQueued
		wantModel(t, mustFind(t, s, m.ID), &want, true)
	})

	t.Run("NotFound", func(t *testing.T) {
		s := open(t)
		id := NewID()
		_, err := s.FindModel(ctx(t), id)
		wantCode(t, "FindModel", err, ophicleide.ENOTFOUND)
		wantCode(t, "DeleteModel", s.DeleteModel(ctx(t), id), ophicleide.ENOTFOUND)
		_, err = s.OpenUpload(ctx(t), id, "a.txt")
		wantCode(t, "OpenUpload", err, ophicleide.ENOTFOUND)
		_, err = s.OpenVectors(ctx(t), id)
		wantCode(t, "OpenVectors", err, ophicleide.ENOTFOUND)
	})

	t.Run("Conflict", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		m.Uploads = []string{"a.txt"}
		mustCreate(t, s, m, map[string]io.Reader{"a.txt": strings.NewReader("first")})
		dup := NewModel(time.Hour)
		dup.ID, dup.Name, dup.Uploads = m.ID, "second", []string{"a.txt"}
		err := s.CreateModel(ctx(t), dup, map[string]io.Reader{"a.txt": strings.NewReader("second")})
		wantCode(t, "CreateModel of an existing ID", err, ophicleide.ECONFLICT)
		if got := mustFind(t, s, m.ID); got.Name != m.Name {
			t.Errorf("name %q after a conflicting create, want %q", got.Name, m.Name)
		}
		if got := readAll(t)(s.OpenUpload(ctx(t), m.ID, "a.txt")); string(got) != "first" {
			t.Errorf("upload %q after a conflicting create, want %q", got, "first")
		}
		wantQueueLength(t, s, 1)
	})

	t.Run("UploadsMismatch", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		m.Uploads = []string{"a.txt"}
		err := s.CreateModel(ctx(t), m, map[string]io.Reader{"b.txt": strings.NewReader("x")})
		wantCode(t, "CreateModel with uploads not matching Model.Uploads", err, ophicleide.EINVALID)
		_, err = s.FindModel(ctx(t), m.ID)
		wantCode(t, "FindModel after a failed create", err, ophicleide.ENOTFOUND)
		wantQueueLength(t, s, 0)
	})

	t.Run("ListNewestFirst", func(t *testing.T) {
		s := open(t)
		ms, err := s.ListModels(ctx(t))
		if err != nil || len(ms) != 0 {
			t.Fatalf("ListModels of an empty store = %v, %v", ms, err)
		}
		a, b, c := NewModel(time.Second), NewModel(3*time.Second), NewModel(2*time.Second)
		for _, m := range []*ophicleide.Model{a, b, c} {
			mustCreate(t, s, m, nil)
		}
		ms, err = s.ListModels(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := modelIDs(ms), []string{b.ID, c.ID, a.ID}; !reflect.DeepEqual(got, want) {
			t.Fatalf("ListModels = %v, want %v", got, want)
		}
		want := *b
		want.Status = ophicleide.StatusQueued
		wantModel(t, ms[0], &want, true)
	})

	t.Run("PageModels", func(t *testing.T) {
		s := open(t)
		page, err := s.PageModels(ctx(t), ophicleide.Page{})
		if err != nil || len(page.Models) != 0 || page.Next != "" {
			t.Fatalf("PageModels of an empty store = %+v, %v", page, err)
		}
		// 3 models per creation time: the cursor must order ties by ID.
		var all []*ophicleide.Model
		for i := range 11 {
			m := NewModel(time.Duration(i/3) * time.Second)
			mustCreate(t, s, m, nil)
			all = append(all, m)
		}
		sortNewestFirst(all, func(m *ophicleide.Model) (time.Time, string) { return m.Created, m.ID })
		for _, limit := range []int{1, 2, 3, 4, 11, 12} {
			if got, want := modelIDs(pageAll(t, s, limit)), modelIDs(all); !reflect.DeepEqual(got, want) {
				t.Fatalf("pages of %d: %v\nwant %v", limit, got, want)
			}
		}
		page, err = s.PageModels(ctx(t), ophicleide.Page{Limit: 4})
		if err != nil {
			t.Fatal(err)
		}
		want := *all[0]
		want.Status = ophicleide.StatusQueued
		wantModel(t, page.Models[0], &want, true)
		wantBadPages(t, func(p ophicleide.Page) error { _, err := s.PageModels(ctx(t), p); return err })
	})

	t.Run("CountModels", func(t *testing.T) {
		s := open(t)
		wantCounts := func(queued, training, ready, failed int, wps float64) {
			t.Helper()
			c, err := s.CountModels(ctx(t))
			if err != nil {
				t.Fatalf("CountModels: %v", err)
			}
			want := map[ophicleide.Status]int{ophicleide.StatusQueued: queued, ophicleide.StatusTraining: training,
				ophicleide.StatusReady: ready, ophicleide.StatusFailed: failed}
			if !reflect.DeepEqual(c.ByStatus, want) || c.WordsPerSecond != wps {
				t.Fatalf("CountModels = %v %v, want %v %v", c.ByStatus, c.WordsPerSecond, want, wps)
			}
		}
		wantCounts(0, 0, 0, 0, 0)
		ms := []*ophicleide.Model{NewModel(0), NewModel(time.Second), NewModel(2 * time.Second), NewModel(3 * time.Second)}
		for _, m := range ms {
			mustCreate(t, s, m, nil)
		}
		imported := NewModel(4 * time.Second)
		if err := s.ImportModel(ctx(t), imported, func(w io.Writer) error { _, err := w.Write([]byte("v")); return err }); err != nil {
			t.Fatal(err)
		}
		wantCounts(4, 0, 1, 0, 0)
		done, failed, slow, fast := mustClaim(t, s, "w", time.Minute), mustClaim(t, s, "w", time.Minute),
			mustClaim(t, s, "w", time.Minute), mustClaim(t, s, "w", -time.Millisecond) // lapsed: still training
		for l, wps := range map[*ophicleide.Lease]float64{slow: 1000.5, fast: 250000} {
			if err := s.UpdateProgress(ctx(t), l, ophicleide.Progress{Phase: "training", WordsPerSecond: wps}); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.CompleteJob(ctx(t), done, ophicleide.Stats{}); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteJob(ctx(t), done, ophicleide.Stats{}); err != nil { // a repeat counts once
			t.Fatal(err)
		}
		if err := s.FailJob(ctx(t), failed, "no"); err != nil {
			t.Fatal(err)
		}
		wantCounts(0, 2, 2, 1, 251000.5)
		if err := s.ReleaseJob(ctx(t), slow); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{done.ModelID, failed.ModelID, imported.ID} {
			if err := s.DeleteModel(ctx(t), id); err != nil {
				t.Fatal(err)
			}
		}
		wantCounts(1, 1, 0, 0, 250000)
	})

	t.Run("Delete", func(t *testing.T) {
		s := open(t)
		keep, del := NewModel(0), NewModel(time.Second)
		del.Uploads = []string{"a.txt"}
		mustCreate(t, s, keep, nil)
		mustCreate(t, s, del, map[string]io.Reader{"a.txt": strings.NewReader("gone")})
		if err := s.DeleteModel(ctx(t), del.ID); err != nil {
			t.Fatalf("DeleteModel: %v", err)
		}
		_, err := s.FindModel(ctx(t), del.ID)
		wantCode(t, "FindModel after DeleteModel", err, ophicleide.ENOTFOUND)
		_, err = s.OpenUpload(ctx(t), del.ID, "a.txt")
		wantCode(t, "OpenUpload after DeleteModel", err, ophicleide.ENOTFOUND)
		wantCode(t, "DeleteModel again", s.DeleteModel(ctx(t), del.ID), ophicleide.ENOTFOUND)
		ms, err := s.ListModels(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		if got := modelIDs(ms); !reflect.DeepEqual(got, []string{keep.ID}) {
			t.Fatalf("ListModels after DeleteModel = %v, want [%s]", got, keep.ID)
		}
		if got := modelIDs(pageAll(t, s, 1)); !reflect.DeepEqual(got, []string{keep.ID}) {
			t.Fatalf("PageModels after DeleteModel = %v, want [%s]", got, keep.ID)
		}
		wantQueueLength(t, s, 1)
		if l := mustClaim(t, s, "w", time.Minute); l.ModelID != keep.ID {
			t.Fatalf("claimed %s, want %s", l.ModelID, keep.ID)
		}
		wantNoClaim(t, s)

		// The ID can be used again, with new uploads.
		again := NewModel(2 * time.Second)
		again.ID, again.Uploads = del.ID, []string{"a.txt"}
		mustCreate(t, s, again, map[string]io.Reader{"a.txt": strings.NewReader("new")})
		if got := readAll(t)(s.OpenUpload(ctx(t), again.ID, "a.txt")); string(got) != "new" {
			t.Errorf("upload of a re-created model = %q", got)
		}
	})
}

// sortNewestFirst sorts items as lists are: by creation time, then ID,
// both descending; times as a store keeping milliseconds keeps them.
func sortNewestFirst[T any](items []T, key func(T) (time.Time, string)) {
	slices.SortStableFunc(items, func(a, b T) int {
		ta, ia := key(a)
		tb, ib := key(b)
		if c := tb.Truncate(time.Millisecond).Compare(ta.Truncate(time.Millisecond)); c != 0 {
			return c
		}
		return strings.Compare(ib, ia)
	})
}

// pageAll reads every model through PageModels, limit at a time, and
// checks that only the last page has no Next.
func pageAll(t *testing.T, s ophicleide.Store, limit int) []*ophicleide.Model {
	t.Helper()
	var all []*ophicleide.Model
	p := ophicleide.Page{Limit: limit}
	for range 1000 {
		page, err := s.PageModels(ctx(t), p)
		if err != nil {
			t.Fatalf("PageModels(%+v): %v", p, err)
		}
		if len(page.Models) > limit || (page.Next != "" && len(page.Models) != limit) {
			t.Fatalf("PageModels(%+v): %d models, next %q", p, len(page.Models), page.Next)
		}
		all = append(all, page.Models...)
		if page.Next == "" {
			return all
		}
		p.After = page.Next
	}
	t.Fatal("PageModels never ended")
	return nil
}

// queryPages reads every query (of model, unless ""), limit at a time.
func queryPages(t *testing.T, s ophicleide.Store, model string, limit int) []*ophicleide.Query {
	t.Helper()
	var all []*ophicleide.Query
	p := ophicleide.Page{Limit: limit}
	for range 1000 {
		page, err := s.PageQueries(ctx(t), model, p)
		if err != nil {
			t.Fatalf("PageQueries(%q, %+v): %v", model, p, err)
		}
		if len(page.Queries) > limit || (page.Next != "" && len(page.Queries) != limit) {
			t.Fatalf("PageQueries(%+v): %d queries, next %q", p, len(page.Queries), page.Next)
		}
		all = append(all, page.Queries...)
		if page.Next == "" {
			return all
		}
		p.After = page.Next
	}
	t.Fatal("PageQueries never ended")
	return nil
}

func queryIDs(qs []*ophicleide.Query) []string {
	var ids []string
	for _, q := range qs {
		ids = append(ids, q.ID)
	}
	return ids
}

// wantBadPages checks that list refuses bad limits and cursors, naming
// the field.
func wantBadPages(t *testing.T, list func(ophicleide.Page) error) {
	t.Helper()
	for _, p := range []ophicleide.Page{{Limit: -1}, {Limit: ophicleide.MaxPageLimit + 1}, {After: "not a cursor!"}, {After: "AAAA"}} {
		err := list(p)
		wantCode(t, fmt.Sprintf("page %+v", p), err, ophicleide.EINVALID)
		var e *ophicleide.Error
		if errors.As(err, &e) && ((p.Limit != 0 && e.Field != "limit") || (p.After != "" && e.Field != "after")) {
			t.Errorf("page %+v: field %q", p, e.Field)
		}
	}
}

func testQueries(t *testing.T, open opener) {
	// newQuery returns a query of model m (a model of its own if nil).
	newQuery := func(t *testing.T, s ophicleide.Store, m *ophicleide.Model, age time.Duration) *ophicleide.Query {
		t.Helper()
		if m == nil {
			m = NewModel(0)
			mustCreate(t, s, m, nil)
		}
		return &ophicleide.Query{
			ID: NewID(), Word: "darcy", ModelID: m.ID, ModelName: m.Name,
			Results: []ophicleide.Result{{Word: "bingley", Score: 0.8125}, {Word: "elizabeth", Score: 0.1 + 0.2}},
			Created: base.Add(age),
		}
	}
	mustQuery := func(t *testing.T, s ophicleide.Store, q *ophicleide.Query) {
		t.Helper()
		if err := s.CreateQuery(ctx(t), q); err != nil {
			t.Fatalf("CreateQuery: %v", err)
		}
	}
	wantQuery := func(t *testing.T, got, want *ophicleide.Query) {
		t.Helper()
		if !sameTime(got.Created, want.Created) {
			t.Errorf("Created %v, want %v", got.Created, want.Created)
		}
		g, w := *got, *want
		g.Created, w.Created = time.Time{}, time.Time{}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("query\n got %+v\nwant %+v", g, w)
		}
	}
	byAge := func(qs []*ophicleide.Query) []*ophicleide.Query {
		qs = slices.Clone(qs)
		sortNewestFirst(qs, func(q *ophicleide.Query) (time.Time, string) { return q.Created, q.ID })
		return qs
	}

	t.Run("CreateFind", func(t *testing.T) {
		s := open(t)
		q := newQuery(t, s, nil, 0)
		mustQuery(t, s, q)
		got, err := s.FindQuery(ctx(t), q.ID)
		if err != nil {
			t.Fatalf("FindQuery: %v", err)
		}
		wantQuery(t, got, q)
		_, err = s.FindQuery(ctx(t), NewID())
		wantCode(t, "FindQuery of an unknown ID", err, ophicleide.ENOTFOUND)
		dup := newQuery(t, s, nil, time.Second)
		dup.ID = q.ID
		wantCode(t, "CreateQuery of an existing ID", s.CreateQuery(ctx(t), dup), ophicleide.ECONFLICT)
		orphan := newQuery(t, s, nil, 0)
		orphan.ModelID = NewID()
		wantCode(t, "CreateQuery of an unknown model", s.CreateQuery(ctx(t), orphan), ophicleide.ENOTFOUND)
		_, err = s.FindQuery(ctx(t), orphan.ID)
		wantCode(t, "FindQuery of a query refused", err, ophicleide.ENOTFOUND)
	})

	t.Run("ListNewestFirst", func(t *testing.T) {
		s := open(t)
		page, err := s.PageQueries(ctx(t), "", ophicleide.Page{})
		if err != nil || len(page.Queries) != 0 || page.Next != "" {
			t.Fatalf("PageQueries of an empty store = %+v, %v", page, err)
		}
		a, b, c := newQuery(t, s, nil, time.Second), newQuery(t, s, nil, 3*time.Second), newQuery(t, s, nil, 2*time.Second)
		for _, q := range []*ophicleide.Query{a, b, c} {
			mustQuery(t, s, q)
		}
		page, err = s.PageQueries(ctx(t), "", ophicleide.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Queries) != 3 || page.Next != "" {
			t.Fatalf("PageQueries returned %d queries, next %q; want 3 and none", len(page.Queries), page.Next)
		}
		for i, want := range []*ophicleide.Query{b, c, a} {
			wantQuery(t, page.Queries[i], want)
		}
	})

	// ListQueriesIsPaginated: issue 10, GET /queries returned all 37k
	// queries (17.5 MB). Pages follow one another by cursor, across equal
	// timestamps, without gaps or repeats, and a cursor stays valid while
	// newer queries arrive.
	t.Run("ListQueriesIsPaginated", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		var all []*ophicleide.Query
		for i := range 23 {
			q := newQuery(t, s, m, time.Duration(i/4)*time.Second) // 4 per timestamp
			mustQuery(t, s, q)
			all = append(all, q)
		}
		want := queryIDs(byAge(all))
		for _, limit := range []int{1, 3, 4, 5, 22, 23, 24} {
			if got := queryIDs(queryPages(t, s, "", limit)); !reflect.DeepEqual(got, want) {
				t.Fatalf("pages of %d:\n got %v\nwant %v", limit, got, want)
			}
		}
		first, err := s.PageQueries(ctx(t), "", ophicleide.Page{Limit: 6})
		if err != nil || len(first.Queries) != 6 || first.Next == "" {
			t.Fatalf("first page: %+v %v", first, err)
		}
		wantQuery(t, first.Queries[0], byAge(all)[0])
		mustQuery(t, s, newQuery(t, s, m, time.Hour)) // newer: not on later pages
		second, err := s.PageQueries(ctx(t), "", ophicleide.Page{Limit: 6, After: first.Next})
		if err != nil {
			t.Fatal(err)
		}
		if got := queryIDs(second.Queries); !reflect.DeepEqual(got, want[6:12]) {
			t.Fatalf("second page after a newer query:\n got %v\nwant %v", got, want[6:12])
		}
		def, err := s.PageQueries(ctx(t), "", ophicleide.Page{})
		if err != nil || len(def.Queries) != 24 {
			t.Fatalf("default page: %d queries, %v", len(def.Queries), err)
		}
		wantBadPages(t, func(p ophicleide.Page) error { _, err := s.PageQueries(ctx(t), "", p); return err })
	})

	t.Run("ModelFilter", func(t *testing.T) {
		s := open(t)
		a, b := NewModel(0), NewModel(time.Second)
		mustCreate(t, s, a, nil)
		mustCreate(t, s, b, nil)
		var ofA, ofB []*ophicleide.Query
		for i := range 9 {
			qa, qb := newQuery(t, s, a, time.Duration(i/2)*time.Second), newQuery(t, s, b, time.Duration(i/2)*time.Second)
			mustQuery(t, s, qa)
			mustQuery(t, s, qb)
			ofA, ofB = append(ofA, qa), append(ofB, qb)
		}
		for _, limit := range []int{2, 9, 10} {
			if got, want := queryIDs(queryPages(t, s, a.ID, limit)), queryIDs(byAge(ofA)); !reflect.DeepEqual(got, want) {
				t.Fatalf("model a, pages of %d:\n got %v\nwant %v", limit, got, want)
			}
		}
		if got, want := queryIDs(queryPages(t, s, b.ID, 4)), queryIDs(byAge(ofB)); !reflect.DeepEqual(got, want) {
			t.Fatalf("model b:\n got %v\nwant %v", got, want)
		}
		if got := queryPages(t, s, NewID(), 5); len(got) != 0 {
			t.Fatalf("queries of an unknown model: %v", queryIDs(got))
		}
	})

	// QueriesOfDeletedModelGo: the history of a deleted model goes with it.
	t.Run("QueriesOfDeletedModelGo", func(t *testing.T) {
		s := open(t)
		del, keep := NewModel(0), NewModel(time.Second)
		mustCreate(t, s, del, nil)
		mustCreate(t, s, keep, nil)
		var gone, kept []*ophicleide.Query
		for i := range 5 {
			qd, qk := newQuery(t, s, del, time.Duration(i)*time.Second), newQuery(t, s, keep, time.Duration(i)*time.Second)
			mustQuery(t, s, qd)
			mustQuery(t, s, qk)
			gone, kept = append(gone, qd), append(kept, qk)
		}
		if err := s.DeleteModel(ctx(t), del.ID); err != nil {
			t.Fatal(err)
		}
		for _, q := range gone {
			_, err := s.FindQuery(ctx(t), q.ID)
			wantCode(t, "FindQuery of a deleted model's query", err, ophicleide.ENOTFOUND)
		}
		if got := queryPages(t, s, del.ID, 2); len(got) != 0 {
			t.Errorf("queries of the deleted model: %v", queryIDs(got))
		}
		if got, want := queryIDs(queryPages(t, s, "", 3)), queryIDs(byAge(kept)); !reflect.DeepEqual(got, want) {
			t.Errorf("queries after the deletion:\n got %v\nwant %v", got, want)
		}
		wantCode(t, "CreateQuery of the deleted model", s.CreateQuery(ctx(t), newQuery(t, s, del, 0)), ophicleide.ENOTFOUND)
		// The same ID again starts with no history.
		again := NewModel(2 * time.Second)
		again.ID = del.ID
		mustCreate(t, s, again, nil)
		if got := queryPages(t, s, again.ID, 10); len(got) != 0 {
			t.Errorf("a re-created model inherited queries: %v", queryIDs(got))
		}
	})

	// QueryRetention: TrimQueries keeps the newest, removes the oldest,
	// and leaves the indexes right (pages, the model filter).
	t.Run("QueryRetention", func(t *testing.T) {
		s := open(t)
		a, b := NewModel(0), NewModel(time.Second)
		mustCreate(t, s, a, nil)
		mustCreate(t, s, b, nil)
		var all []*ophicleide.Query
		for i := range 20 {
			m := a
			if i%3 == 0 {
				m = b
			}
			q := newQuery(t, s, m, time.Duration(i/2)*time.Second)
			mustQuery(t, s, q)
			all = append(all, q)
		}
		all = byAge(all)
		n, err := s.TrimQueries(ctx(t), 7)
		if err != nil || n != 13 {
			t.Fatalf("TrimQueries(7) = %d, %v; want 13 removed", n, err)
		}
		if got, want := queryIDs(queryPages(t, s, "", 3)), queryIDs(all[:7]); !reflect.DeepEqual(got, want) {
			t.Fatalf("after TrimQueries(7):\n got %v\nwant %v", got, want)
		}
		var wantA []string
		for _, q := range all[:7] {
			if q.ModelID == a.ID {
				wantA = append(wantA, q.ID)
			}
		}
		if got := queryIDs(queryPages(t, s, a.ID, 2)); !reflect.DeepEqual(got, wantA) {
			t.Fatalf("model a after TrimQueries(7):\n got %v\nwant %v", got, wantA)
		}
		for _, q := range all[7:] {
			_, err := s.FindQuery(ctx(t), q.ID)
			wantCode(t, "FindQuery of a trimmed query", err, ophicleide.ENOTFOUND)
		}
		if n, err := s.TrimQueries(ctx(t), 7); err != nil || n != 0 {
			t.Fatalf("TrimQueries(7) again = %d, %v; want 0", n, err)
		}
		if n, err := s.TrimQueries(ctx(t), 0); err != nil || n != 7 {
			t.Fatalf("TrimQueries(0) = %d, %v; want 7", n, err)
		}
		if got := queryPages(t, s, "", 10); len(got) != 0 {
			t.Fatalf("queries after TrimQueries(0): %v", queryIDs(got))
		}
		mustQuery(t, s, newQuery(t, s, a, 0))
		if got := queryPages(t, s, a.ID, 10); len(got) != 1 {
			t.Fatalf("a query after TrimQueries(0): %v", queryIDs(got))
		}
	})
}

func putVectors(t *testing.T, s ophicleide.Store, l *ophicleide.Lease, data []byte) error {
	t.Helper()
	return s.PutVectors(ctx(t), l, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// allLeaseMethods calls every method taking a lease and checks that each
// reports the lease lost.
func wantAllLost(t *testing.T, s ophicleide.Store, l *ophicleide.Lease) {
	t.Helper()
	wantLost(t, "RenewLease", s.RenewLease(ctx(t), l, time.Minute))
	wantLost(t, "UpdateProgress", s.UpdateProgress(ctx(t), l, ophicleide.Progress{Phase: "training"}))
	wantLost(t, "PutVectors", putVectors(t, s, l, []byte("stale")))
	wantLost(t, "CompleteJob", s.CompleteJob(ctx(t), l, ophicleide.Stats{}))
	wantLost(t, "FailJob", s.FailJob(ctx(t), l, "stale"))
	wantLost(t, "ReleaseJob", s.ReleaseJob(ctx(t), l))
}

func testJobs(t *testing.T, open opener) {
	t.Run("Enqueue", func(t *testing.T) {
		s := open(t)
		wantQueueLength(t, s, 0)
		wantNoClaim(t, s)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		wantQueueLength(t, s, 1)
		wantStatus(t, s, m.ID, ophicleide.StatusQueued)
	})

	t.Run("Claim", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		before := time.Now()
		l := mustClaim(t, s, "worker-1", time.Minute)
		if l.ModelID != m.ID || l.Owner != "worker-1" || l.Attempt != 1 || l.Token <= 0 {
			t.Errorf("lease %+v, want model %s, owner worker-1, attempt 1, token > 0", l, m.ID)
		}
		if l.Expires.Before(before.Add(time.Minute-time.Second)) || l.Expires.After(time.Now().Add(time.Minute+time.Second)) {
			t.Errorf("lease expires %v, want about a minute from %v", l.Expires, before)
		}
		wantStatus(t, s, m.ID, ophicleide.StatusTraining)
		wantQueueLength(t, s, 1)
		wantNoClaim(t, s) // held until it expires
	})

	t.Run("OldestFirst", func(t *testing.T) {
		s := open(t)
		a, b, c := NewModel(2*time.Second), NewModel(0), NewModel(time.Second)
		for _, m := range []*ophicleide.Model{a, b, c} {
			mustCreate(t, s, m, nil)
		}
		for _, want := range []*ophicleide.Model{b, c, a} {
			if l := mustClaim(t, s, "w", time.Minute); l.ModelID != want.ID {
				t.Fatalf("claimed %s, want %s", l.ModelID, want.ID)
			}
		}
		wantNoClaim(t, s)
	})

	t.Run("LeaseExpires", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		// 500 ms: long enough that a networked store under a loaded test
		// run answers the claim and the next one before it lapses (50 ms
		// made FerretDB under make test fail once).
		l1 := mustClaim(t, s, "w1", 500*time.Millisecond)
		wantNoClaim(t, s)
		time.Sleep(600 * time.Millisecond) // the one wait on the clock: expiry is about time
		l2 := mustClaim(t, s, "w2", time.Minute)
		if l2.ModelID != m.ID || l2.Token <= l1.Token || l2.Attempt != 2 || l2.Owner != "w2" {
			t.Fatalf("second lease %+v after %+v, want a higher token and attempt 2", l2, l1)
		}
	})

	t.Run("Fencing", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l1 := mustClaim(t, s, "w1", -time.Millisecond) // expired at once
		l2 := mustClaim(t, s, "w2", time.Minute)
		if l2.ModelID != m.ID || l2.Token <= l1.Token || l2.Attempt != 2 {
			t.Fatalf("second lease %+v after %+v, want a higher token and attempt 2", l2, l1)
		}
		if err := putVectors(t, s, l2, []byte("fresh")); err != nil {
			t.Fatalf("PutVectors: %v", err)
		}
		wantAllLost(t, s, l1)
		// The stale holder changed nothing.
		got := wantStatus(t, s, m.ID, ophicleide.StatusTraining)
		if got.Progress != nil || got.Error != "" {
			t.Errorf("stale holder changed the model: %+v", got)
		}
		wantNoClaim(t, s)
		if err := s.CompleteJob(ctx(t), l2, ophicleide.Stats{VocabSize: 1}); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		if got := readAll(t)(s.OpenVectors(ctx(t), m.ID)); string(got) != "fresh" {
			t.Errorf("vectors %q, want the current holder's", got)
		}
		wantAllLost(t, s, l1)
	})

	t.Run("Renew", func(t *testing.T) {
		s := open(t)
		mustCreate(t, s, NewModel(0), nil)
		l := mustClaim(t, s, "w", -time.Millisecond)
		if err := s.RenewLease(ctx(t), l, time.Minute); err != nil {
			t.Fatalf("RenewLease: %v", err)
		}
		wantNoClaim(t, s)
		if err := s.UpdateProgress(ctx(t), l, ophicleide.Progress{Phase: "counting"}); err != nil {
			t.Fatalf("UpdateProgress after RenewLease: %v", err)
		}
	})

	t.Run("Progress", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		for _, p := range []ophicleide.Progress{
			{Phase: "fetching"},
			{Phase: "training", Fraction: 0.375, WordsPerSecond: 812345.5, EtaSeconds: 12.25},
		} {
			if err := s.UpdateProgress(ctx(t), l, p); err != nil {
				t.Fatalf("UpdateProgress: %v", err)
			}
			got := wantStatus(t, s, m.ID, ophicleide.StatusTraining)
			if got.Progress == nil || *got.Progress != p {
				t.Fatalf("progress %+v, want %+v", got.Progress, p)
			}
		}
	})

	t.Run("Import", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		m.URLs = []string{}
		write := func(w io.Writer) error { _, err := w.Write([]byte("imported vectors")); return err }
		if err := s.ImportModel(ctx(t), m, write); err != nil {
			t.Fatalf("ImportModel: %v", err)
		}
		wantStatus(t, s, m.ID, ophicleide.StatusReady)
		if got := readAll(t)(s.OpenVectors(ctx(t), m.ID)); string(got) != "imported vectors" {
			t.Errorf("vectors %q", got)
		}
		if n, err := s.QueueLength(ctx(t)); err != nil || n != 0 {
			t.Errorf("an imported model queued a job: %d %v", n, err)
		}
		if err := s.ImportModel(ctx(t), m, write); ophicleide.ErrorCode(err) != ophicleide.ECONFLICT {
			t.Errorf("importing an existing id: %v, want ECONFLICT", err)
		}
		failed := NewModel(1)
		if err := s.ImportModel(ctx(t), failed, func(io.Writer) error { return errors.New("disk full") }); err == nil {
			t.Fatal("a failing write was accepted")
		}
		if _, err := s.FindModel(ctx(t), failed.ID); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
			t.Errorf("a failed import left a model: %v", err)
		}
		if err := s.DeleteModel(ctx(t), m.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.OpenVectors(ctx(t), m.ID); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
			t.Errorf("vectors of a deleted imported model: %v", err)
		}
	})

	t.Run("Complete", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		data := make([]byte, 300_000)
		rand.Read(data)
		if err := s.UpdateProgress(ctx(t), l, ophicleide.Progress{Phase: "saving", Fraction: 1}); err != nil {
			t.Fatalf("UpdateProgress: %v", err)
		}
		if err := putVectors(t, s, l, []byte("an earlier attempt")); err != nil {
			t.Fatalf("PutVectors: %v", err)
		}
		if err := putVectors(t, s, l, data); err != nil {
			t.Fatalf("PutVectors again: %v", err)
		}
		stats := ophicleide.Stats{CorpusWords: 124_000, VocabSize: 6_543, TrainingSeconds: 3.5, Sources: []ophicleide.SourceStats{
			{URL: m.URLs[0], Bytes: 700_000, Words: 120_000},
			{URL: "upload:emma.txt", Bytes: 20_000, Words: 4_000},
		}}
		if err := s.CompleteJob(ctx(t), l, stats); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		got := wantStatus(t, s, m.ID, ophicleide.StatusReady)
		if got.Stats == nil || !reflect.DeepEqual(*got.Stats, stats) {
			t.Errorf("stats %+v, want %+v", got.Stats, stats)
		}
		if got.Progress != nil {
			t.Errorf("a ready model still shows progress %+v", got.Progress)
		}
		if got.Error != "" {
			t.Errorf("error %q on a ready model", got.Error)
		}
		if !bytes.Equal(readAll(t)(s.OpenVectors(ctx(t), m.ID)), data) {
			t.Error("OpenVectors did not return the bytes written")
		}
		wantQueueLength(t, s, 0)
		wantNoClaim(t, s)
		if err := s.CompleteJob(ctx(t), l, stats); err != nil {
			t.Errorf("CompleteJob repeated with the same lease: %v", err)
		}
		wantStatus(t, s, m.ID, ophicleide.StatusReady)
		wantLost(t, "UpdateProgress after CompleteJob", s.UpdateProgress(ctx(t), l, ophicleide.Progress{}))
	})

	t.Run("Fail", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		const reason = "fetching https://example.org/b.txt: 404 Not Found"
		if err := s.FailJob(ctx(t), l, reason); err != nil {
			t.Fatalf("FailJob: %v", err)
		}
		got := wantStatus(t, s, m.ID, ophicleide.StatusFailed)
		if got.Error != reason {
			t.Errorf("error %q, want %q", got.Error, reason)
		}
		wantQueueLength(t, s, 0)
		wantNoClaim(t, s)
		_, err := s.OpenVectors(ctx(t), m.ID)
		wantCode(t, "OpenVectors of a failed model", err, ophicleide.ENOTFOUND)
		wantLost(t, "CompleteJob after FailJob", s.CompleteJob(ctx(t), l, ophicleide.Stats{}))
	})

	t.Run("Release", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l1 := mustClaim(t, s, "w1", time.Minute)
		if err := s.ReleaseJob(ctx(t), l1); err != nil {
			t.Fatalf("ReleaseJob: %v", err)
		}
		wantStatus(t, s, m.ID, ophicleide.StatusQueued)
		wantQueueLength(t, s, 1)
		l2 := mustClaim(t, s, "w2", time.Minute)
		// A release is not a failed attempt.
		if l2.ModelID != m.ID || l2.Token <= l1.Token || l2.Attempt != 1 {
			t.Fatalf("lease %+v after releasing %+v, want a higher token and attempt 1", l2, l1)
		}
		wantStatus(t, s, m.ID, ophicleide.StatusTraining)
		wantAllLost(t, s, l1)
	})

	t.Run("PutVectorsWriteError", func(t *testing.T) {
		s := open(t)
		m, n := NewModel(0), NewModel(time.Second)
		mustCreate(t, s, m, nil)
		mustCreate(t, s, n, nil)
		boom := errors.New("disk on fire")
		failing := func(w io.Writer) error {
			w.Write([]byte("partial"))
			return boom
		}

		// Without earlier vectors: none afterwards.
		l := mustClaim(t, s, "w", time.Minute)
		if err := s.PutVectors(ctx(t), l, failing); !errors.Is(err, boom) {
			t.Fatalf("PutVectors = %v, want an error wrapping the writer's", err)
		}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Stats{}); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		_, err := s.OpenVectors(ctx(t), m.ID)
		wantCode(t, "OpenVectors after a failed write", err, ophicleide.ENOTFOUND)

		// With earlier vectors: those stay.
		l = mustClaim(t, s, "w", time.Minute)
		if err := putVectors(t, s, l, []byte("good")); err != nil {
			t.Fatal(err)
		}
		if err := s.PutVectors(ctx(t), l, failing); !errors.Is(err, boom) {
			t.Fatalf("PutVectors = %v, want an error wrapping the writer's", err)
		}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Stats{}); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		if got := readAll(t)(s.OpenVectors(ctx(t), n.ID)); string(got) != "good" {
			t.Errorf("vectors %q after a failed replacement, want %q", got, "good")
		}
	})

	t.Run("DeleteWhileLeased", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		if err := putVectors(t, s, l, []byte("vectors")); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteModel(ctx(t), m.ID); err != nil {
			t.Fatalf("DeleteModel: %v", err)
		}
		wantAllLost(t, s, l)
		_, err := s.OpenVectors(ctx(t), m.ID)
		wantCode(t, "OpenVectors after DeleteModel", err, ophicleide.ENOTFOUND)
		_, err = s.FindModel(ctx(t), m.ID)
		wantCode(t, "FindModel after DeleteModel", err, ophicleide.ENOTFOUND)
		wantQueueLength(t, s, 0)
		wantNoClaim(t, s)
	})

	t.Run("DeleteReady", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		if err := putVectors(t, s, l, []byte("vectors")); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Stats{}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteModel(ctx(t), m.ID); err != nil {
			t.Fatalf("DeleteModel: %v", err)
		}
		_, err := s.OpenVectors(ctx(t), m.ID)
		wantCode(t, "OpenVectors after DeleteModel", err, ophicleide.ENOTFOUND)
		wantLost(t, "CompleteJob repeated after DeleteModel", s.CompleteJob(ctx(t), l, ophicleide.Stats{}))
	})

	// UploadsGoWhenTheJobEnds: issue 10, uploads were kept forever. They
	// stay while a retry may read them (a lapsed lease, a released job)
	// and go when the model ends ready or failed; the model keeps their
	// names.
	t.Run("UploadsGoWhenTheJobEnds", func(t *testing.T) {
		s := open(t)
		done, failed := NewModel(0), NewModel(time.Second)
		for _, m := range []*ophicleide.Model{done, failed} {
			m.Uploads = []string{"a.txt", "b.txt"}
			mustCreate(t, s, m, map[string]io.Reader{"a.txt": strings.NewReader("a of " + m.ID), "b.txt": strings.NewReader("b")})
		}
		l := mustClaim(t, s, "w1", -time.Millisecond) // lapses at once
		if got := readAll(t)(s.OpenUpload(ctx(t), done.ID, "a.txt")); string(got) != "a of "+done.ID {
			t.Fatalf("upload while training: %q", got)
		}
		l = mustClaim(t, s, "w2", time.Minute) // the retry
		if l.ModelID != done.ID || l.Attempt != 2 {
			t.Fatalf("retry lease %+v", l)
		}
		if err := s.ReleaseJob(ctx(t), l); err != nil {
			t.Fatal(err)
		}
		l = mustClaim(t, s, "w3", time.Minute)
		if got := readAll(t)(s.OpenUpload(ctx(t), done.ID, "a.txt")); string(got) != "a of "+done.ID {
			t.Fatalf("upload on a retry: %q", got)
		}
		if err := putVectors(t, s, l, []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Stats{Sources: []ophicleide.SourceStats{{URL: "upload:a.txt", Bytes: 10}}}); err != nil {
			t.Fatal(err)
		}
		lf := mustClaim(t, s, "w", time.Minute)
		if err := s.FailJob(ctx(t), lf, "no words"); err != nil {
			t.Fatal(err)
		}
		for _, m := range []*ophicleide.Model{done, failed} {
			for _, name := range m.Uploads {
				_, err := s.OpenUpload(ctx(t), m.ID, name)
				wantCode(t, "OpenUpload after the job ended", err, ophicleide.ENOTFOUND)
			}
			if got := mustFind(t, s, m.ID); !reflect.DeepEqual(got.Uploads, m.Uploads) {
				t.Errorf("uploads named %v after the job ended, want %v", got.Uploads, m.Uploads)
			}
		}
		if got := mustFind(t, s, done.ID); got.Stats == nil || len(got.Stats.Sources) != 1 || got.Stats.Sources[0].Bytes != 10 {
			t.Errorf("stats of the ready model %+v", got.Stats)
		}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Stats{}); err != nil {
			t.Errorf("CompleteJob repeated after the uploads went: %v", err)
		}
		if err := s.DeleteModel(ctx(t), done.ID); err != nil {
			t.Errorf("DeleteModel of a model whose uploads went: %v", err)
		}
	})

	t.Run("VectorsOnlyWhenReady", func(t *testing.T) {
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		_, err := s.OpenVectors(ctx(t), m.ID)
		wantCode(t, "OpenVectors of a queued model", err, ophicleide.ENOTFOUND)
	})
}

func testConcurrency(t *testing.T, open opener) {
	s := open(t)
	const models, workers = 50, 8
	for i := range models {
		mustCreate(t, s, NewModel(time.Duration(i)*time.Millisecond), nil)
	}
	var mu sync.Mutex
	claims := map[string]int{}
	tokens := map[string]int64{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			owner := fmt.Sprintf("worker-%d", w)
			for {
				l, err := s.ClaimJob(t.Context(), owner, time.Minute)
				if err != nil {
					t.Errorf("%s: ClaimJob: %v", owner, err)
					return
				}
				if l == nil {
					return
				}
				mu.Lock()
				claims[l.ModelID]++
				tokens[l.ModelID] = l.Token
				mu.Unlock()
				if err := s.CompleteJob(t.Context(), l, ophicleide.Stats{VocabSize: w}); err != nil {
					t.Errorf("%s: CompleteJob: %v", owner, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if len(claims) != models {
		t.Errorf("%d models claimed, want %d", len(claims), models)
	}
	for id, n := range claims {
		if n != 1 {
			t.Errorf("model %s claimed %d times", id, n)
		}
	}
	wantQueueLength(t, s, 0)
	for _, m := range pageAll(t, s, ophicleide.MaxPageLimit) {
		if m.Status != ophicleide.StatusReady {
			t.Errorf("model %s is %s after all jobs completed", m.ID, m.Status)
		}
	}
}
