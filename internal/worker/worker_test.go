package worker

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/trainer/native"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// httpError is what the test fetcher returns for a bad status.
type httpError struct {
	url  string
	code int
}

func (e *httpError) Error() string {
	return fmt.Sprintf("fetching %s: the server answered %d", e.url, e.code)
}

// httpFetch is a plain net/http fetcher (the real one, internal/fetch,
// adds limits and address checks that a loopback test server would trip).
func httpFetch(ctx context.Context, url string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, &httpError{url, resp.StatusCode}
	}
	return resp.Body, nil
}

type fixture struct {
	store *bolt.Store
	srv   *httptest.Server
}

func newFixture(t *testing.T) *fixture { return newFixtureIn(t, t.TempDir()) }

// newServer serves h on 127.0.0.1 and returns its URL.
func newServer(t *testing.T, h http.HandlerFunc) string {
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func newFixtureIn(t *testing.T, dir string) *fixture {
	t.Helper()
	st, err := bolt.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	book, err := os.ReadFile("../../testdata/pride-and-prejudice_1342-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: st}
	mux := http.NewServeMux()
	mux.HandleFunc("/austen.txt", func(w http.ResponseWriter, r *http.Request) { w.Write(book) })
	mux.HandleFunc("/rare.txt", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "one two three") })
	mux.HandleFunc("/flaky.txt", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "busy", 503) })
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fixture) model(t *testing.T, urls ...string) string {
	t.Helper()
	return f.modelWith(t, ophicleide.Params{Epochs: 3, Dim: 50}, urls...)
}

func (f *fixture) modelWith(t *testing.T, p ophicleide.Params, urls ...string) string {
	t.Helper()
	now := time.Now()
	m := &ophicleide.Model{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", now.UnixNano()%1e12), Name: "m", URLs: urls,
		Status: ophicleide.StatusQueued, Params: p, Created: now, Updated: now}
	if err := f.store.CreateModel(context.Background(), m, nil); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

// oneThread is the native engine on one goroutine (the race-free mode).
var oneThread = native.New(native.Config{Threads: 1})

func (f *fixture) worker() *Worker {
	return New(f.store, oneThread, httpFetch, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Owner: "test", Lease: 10 * time.Second})
}

func TestTrainsModelFromURL(t *testing.T) {
	f := newFixture(t)
	id := f.model(t, f.srv.URL+"/austen.txt", "  ")
	ran, err := f.worker().RunOnce(context.Background())
	if err != nil || !ran {
		t.Fatalf("RunOnce: %v %v", ran, err)
	}
	m, err := f.store.FindModel(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != ophicleide.StatusReady || m.Stats == nil || m.Stats.VocabSize < 1000 || len(m.Stats.Sources) != 1 || m.Stats.Sources[0].Words != m.Stats.CorpusWords {
		t.Fatalf("model after training: %+v %+v", m, m.Stats)
	}
	rc, err := f.store.OpenVectors(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	set, err := vectors.ReadCompact(rc)
	if err != nil {
		t.Fatal(err)
	}
	ns, err := set.Nearest("darcy", 10)
	if err != nil {
		t.Fatal(err)
	}
	var words []string
	for _, n := range ns {
		words = append(words, n.Word)
	}
	joined := " " + strings.Join(words, " ") + " "
	if !strings.Contains(joined, " bingley ") && !strings.Contains(joined, " wickham ") && !strings.Contains(joined, " elizabeth ") {
		t.Fatalf("neighbours of darcy: %v", words)
	}
	if ran, _ := f.worker().RunOnce(context.Background()); ran {
		t.Fatal("a second job appeared")
	}
}

func TestFailures(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		urls []string
		want string
	}{
		{[]string{f.srv.URL + "/missing.txt"}, "404"},
		{[]string{f.srv.URL + "/rare.txt"}, "min count"},
		{[]string{"", " "}, "no URLs"},
		{[]string{f.srv.URL + "/flaky.txt"}, "503"},
	}
	for _, c := range cases {
		id := f.model(t, c.urls...)
		if _, err := f.worker().RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		m, _ := f.store.FindModel(context.Background(), id)
		if m.Status != ophicleide.StatusFailed || !strings.Contains(m.Error, c.want) {
			t.Errorf("%v: status %s, error %q; want failed with %q", c.urls, m.Status, m.Error, c.want)
		}
	}
}

// signalStore is the real store, telling the test when training starts.
type signalStore struct {
	*bolt.Store
	once     sync.Once
	training chan struct{}
}

func (s *signalStore) UpdateProgress(ctx context.Context, l *ophicleide.Lease, p ophicleide.Progress) error {
	if p.Phase == "training" {
		s.once.Do(func() { close(s.training) })
	}
	return s.Store.UpdateProgress(ctx, l, p)
}

func TestShutdownHandsJobBack(t *testing.T) {
	f := newFixture(t)
	id := f.model(t, f.srv.URL+"/austen.txt")
	st := &signalStore{Store: f.store, training: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	w := New(st, oneThread, httpFetch, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Owner: "a", Progress: time.Millisecond})
	go func() {
		<-st.training
		cancel()
	}()
	w.RunOnce(ctx)
	m, _ := f.store.FindModel(context.Background(), id)
	if m.Status != ophicleide.StatusQueued {
		t.Fatalf("after shutdown the job should be queued, status %s", m.Status)
	}
	if ran, err := f.worker().RunOnce(context.Background()); !ran || err != nil {
		t.Fatalf("the handed-back job was not claimable: %v %v", ran, err)
	}
	m, _ = f.store.FindModel(context.Background(), id)
	if m.Status != ophicleide.StatusReady {
		t.Fatalf("resumed job: status %s (%s)", m.Status, m.Error)
	}
}

// deletingStore deletes the model as soon as training starts.
type deletingStore struct {
	*bolt.Store
	once sync.Once
}

func (s *deletingStore) UpdateProgress(ctx context.Context, l *ophicleide.Lease, p ophicleide.Progress) error {
	if p.Phase == "training" {
		s.once.Do(func() { s.Store.DeleteModel(ctx, l.ModelID) })
	}
	return s.Store.UpdateProgress(ctx, l, p)
}

func TestDeletedModelStopsTraining(t *testing.T) {
	f := newFixture(t)
	// 2,000 epochs take minutes, and the lease is renewed only every 20
	// minutes: only a prompt stop ends this test in time.
	id := f.modelWith(t, ophicleide.Params{Epochs: 2000, Dim: 20}, f.srv.URL+"/austen.txt")
	st := &deletingStore{Store: f.store}
	w := New(st, oneThread, httpFetch, slog.New(slog.NewTextHandler(io.Discard, nil)), Config{Owner: "a", Progress: 10 * time.Millisecond, Lease: time.Hour})
	done := make(chan struct{})
	go func() {
		w.RunOnce(context.Background())
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("training went on after the model was deleted")
	}
	if _, err := f.store.FindModel(context.Background(), id); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Fatalf("deleted model: %v", err)
	}
}
