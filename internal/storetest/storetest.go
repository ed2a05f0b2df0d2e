// Package storetest is the conformance suite of ophicleide.Store: every
// store (the embedded one, MongoDB) runs Run against a fresh instance and
// so keeps the contracts written in the domain package — error codes,
// orderings, round-tripped fields, and the job queue's claims, leases and
// fencing tokens.
//
// The suite is split by area: models.go, queries.go, jobs.go (claims,
// leases, the ends of a job and what a lease may do after them), files.go
// (uploads, imports, vectors), concurrency.go, evaluation.go (what a
// model keeps of its end, SetEvaluation), owners.go (what owners
// hold: Usage; the owner filter of queries is in queries.go). Every leaf test opens a
// store of its own and runs in parallel with the others.
package storetest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strings"
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
	// Each leaf has a store of its own and runs in parallel with the
	// others.
	t.Run("Models", func(t *testing.T) { testModels(t, newStore) })
	t.Run("Queries", func(t *testing.T) { testQueries(t, newStore) })
	t.Run("QueryOwners", func(t *testing.T) { testQueryOwners(t, newStore) })
	t.Run("Usage", func(t *testing.T) { testUsage(t, newStore) })
	t.Run("Jobs", func(t *testing.T) { testJobs(t, newStore) })
	t.Run("Files", func(t *testing.T) { testFiles(t, newStore) })
	t.Run("Imports", func(t *testing.T) { Imports(t, open) })
	t.Run("Concurrency", func(t *testing.T) { testConcurrency(t, newStore) })
	t.Run("Evaluation", func(t *testing.T) { testEvaluation(t, newStore) })
	t.Run("SubwordVectors", func(t *testing.T) { testSubwordVectors(t, newStore) })
	t.Run("Index", func(t *testing.T) { testIndex(t, newStore) })
	t.Run("CloseTwice", func(t *testing.T) {
		t.Parallel()
		s := newStore(t) // and closed a third time by its cleanup
		for range 2 {
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
	})
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

// wantField checks the code of err and the field it names.
func wantField(t *testing.T, what string, err error, code, field string) {
	t.Helper()
	wantCode(t, what, err, code)
	var e *ophicleide.Error
	if errors.As(err, &e) && e.Field != field {
		t.Errorf("%s: field %q, want %q", what, e.Field, field)
	}
}

func modelIDs(ms []*ophicleide.Model) []string {
	var ids []string
	for _, m := range ms {
		ids = append(ids, m.ID)
	}
	return ids
}
