package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"github.com/ophicleide/ophicleide/internal/trainer/native"
)

func (f *fixture) workerWith(cfg Config) *Worker {
	return f.workerOn(oneThread, cfg)
}

func (f *fixture) workerOn(engine trainer.Engine, cfg Config) *Worker {
	if cfg.Owner == "" {
		cfg.Owner = "test"
	}
	return New(f.store, engine, httpFetch, slog.New(slog.NewTextHandler(io.Discard, nil)), cfg)
}

func (f *fixture) find(t *testing.T, id string) *ophicleide.Model {
	t.Helper()
	m, err := f.store.FindModel(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestDivergingModelFailsWithReason reproduces issue 10: alpha 5 crashed
// the process. It now ends the model failed with a reason the user can act on.
func TestDivergingModelFailsWithReason(t *testing.T) {
	f := newFixture(t)
	id := f.modelWith(t, ophicleide.Params{Alpha: 5, Dim: 50, Epochs: 1}, f.srv.URL+"/austen.txt")
	if ran, err := f.worker().RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	m := f.find(t, id)
	if m.Status != ophicleide.StatusFailed || !strings.Contains(m.Error, "diverged") || !strings.Contains(m.Error, "lower alpha") {
		t.Fatalf("status %s, error %q", m.Status, m.Error)
	}
}

// TestPoisonJobGivesUpAfterMaxAttempts reproduces the crash loop of issue
// 10: a job whose worker dies every time was claimed forever. Three
// workers that "die" (claim with a lease that lapses and never end the
// job) use up its attempts; the fourth claim fails it.
func TestPoisonJobGivesUpAfterMaxAttempts(t *testing.T) {
	f := newFixture(t)
	id := f.model(t, f.srv.URL+"/austen.txt")
	for i := range 3 {
		l, err := f.store.ClaimJob(context.Background(), fmt.Sprintf("doomed-%d", i), time.Millisecond)
		if err != nil || l == nil || l.Attempt != i+1 {
			t.Fatalf("claim %d: %+v %v", i, l, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if ran, err := f.workerWith(Config{MaxAttempts: 3}).RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	m := f.find(t, id)
	if m.Status != ophicleide.StatusFailed || !strings.Contains(m.Error, "gave up after 3 attempts") {
		t.Fatalf("status %s, error %q", m.Status, m.Error)
	}
	if ran, _ := f.worker().RunOnce(context.Background()); ran {
		t.Fatal("the failed job was claimed again")
	}
}

// TestPanicInJobFailsOnlyThatJob: a panic while a job runs (here in the
// fetch function) fails that model; the worker goes on to the next job.
func TestPanicInJobFailsOnlyThatJob(t *testing.T) {
	f := newFixture(t)
	bad := f.model(t, f.srv.URL+"/panic")
	good := f.model(t, f.srv.URL+"/austen.txt")
	fetch := func(ctx context.Context, url string) (io.ReadCloser, error) {
		if strings.HasSuffix(url, "/panic") {
			panic("fetcher bug")
		}
		return httpFetch(ctx, url)
	}
	w := New(f.store, oneThread, fetch, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Owner: "t"})
	for range 2 {
		if ran, err := w.runOnceSafe(context.Background()); !ran || err != nil {
			t.Fatalf("RunOnce: %v %v", ran, err)
		}
	}
	if m := f.find(t, bad); m.Status != ophicleide.StatusFailed || !strings.Contains(m.Error, "internal error") {
		t.Fatalf("panicking job: status %s, error %q", m.Status, m.Error)
	}
	if m := f.find(t, good); m.Status != ophicleide.StatusReady {
		t.Fatalf("next job: status %s, error %q", m.Status, m.Error)
	}
}

// TestMaxJobTime: a URL that trickles forever ends the model failed at the
// job time limit, naming it.
func TestMaxJobTime(t *testing.T) {
	f := newFixture(t)
	slow := func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 600; i++ {
			if _, err := io.WriteString(w, "word "); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	srv := newServer(t, slow)
	id := f.model(t, srv+"/slow")
	start := time.Now()
	if ran, err := f.workerWith(Config{MaxJobTime: 700 * time.Millisecond}).RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	m := f.find(t, id)
	if m.Status != ophicleide.StatusFailed || !strings.Contains(m.Error, "limit of 700ms") {
		t.Fatalf("status %s, error %q", m.Status, m.Error)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Fatalf("took %s", el)
	}
}

// TestFailureReasonHidesServerPaths: an upload the store can no longer
// read (its file removed behind the store's back) fails the model without
// showing the server's paths.
func TestFailureReasonHidesServerPaths(t *testing.T) {
	dir := t.TempDir()
	f := newFixtureIn(t, dir)
	now := time.Now()
	m := &ophicleide.Model{ID: "00000000-0000-4000-8000-000000000001", Name: "m", URLs: []string{}, Uploads: []string{"book"},
		Status: ophicleide.StatusQueued, Created: now, Updated: now}
	if err := f.store.CreateModel(context.Background(), m, map[string]io.Reader{"book": strings.NewReader("some text")}); err != nil {
		t.Fatal(err)
	}
	removed := 0
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.Contains(p, "upload") {
			os.Remove(p)
			removed++
		}
		return nil
	})
	if removed == 0 {
		t.Fatal("found no upload file to remove")
	}
	if ran, err := f.worker().RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	got := f.find(t, m.ID)
	if got.Status != ophicleide.StatusFailed || strings.Contains(got.Error, dir) || regexp.MustCompile(`/[a-z]+/`).MatchString(got.Error) {
		t.Fatalf("status %s, error %q", got.Status, got.Error)
	}
	t.Logf("reason: %s", got.Error)
}

// unavailableStore is the real store whose PutVectors fails as a store
// that went away does (a fake only for what bolt cannot be made to do).
type unavailableStore struct {
	Store
	fails int
}

func (s *unavailableStore) PutVectors(ctx context.Context, l *ophicleide.Lease, write func(io.Writer) error) error {
	if s.fails > 0 {
		s.fails--
		return ophicleide.Errorf(ophicleide.EUNAVAILABLE, "the store is unavailable")
	}
	return s.Store.PutVectors(ctx, l, write)
}

// TestTransientStoreErrorRetries: a store that is briefly unavailable
// hands the job back (its lease lapses) instead of failing the model.
func TestTransientStoreErrorRetries(t *testing.T) {
	f := newFixture(t)
	id := f.model(t, f.srv.URL+"/austen.txt")
	st := &unavailableStore{Store: f.store, fails: 1}
	w := New(st, oneThread, httpFetch, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Owner: "t", Lease: 300 * time.Millisecond})
	if ran, err := w.RunOnce(context.Background()); !ran || err != errTransient {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	if m := f.find(t, id); m.Status == ophicleide.StatusFailed {
		t.Fatalf("failed for good: %q", m.Error)
	}
	time.Sleep(400 * time.Millisecond)
	if ran, err := w.RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("retry: %v %v", ran, err)
	}
	if m := f.find(t, id); m.Status != ophicleide.StatusReady {
		t.Fatalf("after the retry: status %s, error %q", m.Status, m.Error)
	}
}

// TestJobOverMemoryLimitFails reproduces issue 10's 67 GiB request: a
// job whose estimate is over the worker's memory limit fails before the
// matrices are allocated, naming the estimate and the limit.
func TestJobOverMemoryLimitFails(t *testing.T) {
	f := newFixture(t)
	id := f.modelWith(t, ophicleide.Params{Dim: 1000, MinCount: 1}, f.srv.URL+"/austen.txt")
	if ran, err := f.workerOn(native.New(native.Config{Threads: 1, MemoryLimit: 16 << 20}), Config{}).RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	m := f.find(t, id)
	if m.Status != ophicleide.StatusFailed || !strings.Contains(m.Error, "more than the memory limit of 16 MiB") {
		t.Fatalf("status %s, error %q", m.Status, m.Error)
	}
}
