package service

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/ann"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/mongo"
	"github.com/ophicleide/ophicleide/internal/mongo/mongotest"
)

// clustered writes n words of dim dimensions as a word2vec text file:
// rows drawn around 40 centres, as trained vectors gather, so that
// neighbours mean something and an index's recall is that of real use.
func clustered(n, dim int, seed uint64) string {
	rng := rand.New(rand.NewPCG(seed, 7))
	centres := make([][]float32, 40)
	for i := range centres {
		centres[i] = make([]float32, dim)
		for j := range centres[i] {
			centres[i][j] = float32(rng.NormFloat64())
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %d\n", n, dim)
	for i := range n {
		c := centres[rng.IntN(len(centres))]
		fmt.Fprintf(&b, "w%d", i)
		for j := range dim {
			fmt.Fprintf(&b, " %.4f", c[j]+float32(rng.NormFloat64()))
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// logBuffer is a slog handler's output, safe for the builds' goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// indexed is the services over store with indexes from 1,000 words, and
// the log of their builds; the indexes stop with the test.
func indexed(t *testing.T, store ophicleide.Store) (*Models, *Queries, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	cache := NewCache(store, 256<<20)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		cache.RunIndexes(ctx, IndexConfig{Store: store, MinRows: 1000, Build: ann.Config{EfConstruction: 48}, TempDir: t.TempDir(), Log: log})
		close(done)
	}()
	t.Cleanup(func() { cancel(); <-done })
	for cache.idx.Load() == nil {
		time.Sleep(time.Millisecond)
	}
	return NewModels(store, cache, Config{Log: log}), NewQueries(store, cache), logs
}

// waitIndex polls FindModel until the model's index has status want.
func waitIndex(t *testing.T, models *Models, id, want string) *ophicleide.Model {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		m, err := models.FindModel(context.Background(), id)
		if err != nil {
			t.Fatalf("FindModel: %v", err)
		}
		if m.Index != nil && m.Index.Status == want {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("index of the model: %+v, want status %s", m.Index, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// recall compares the service's answers (through the index once
// attached) with the exact ones (Search with Exact) on a sample of words,
// and checks that the exact ones are the exact scan's.
func recall(t *testing.T, queries *Queries, id string, words int) float64 {
	t.Helper()
	ctx := context.Background()
	var found, total int
	for i := 0; i < words; i += words / 100 {
		w := fmt.Sprintf("w%d", i)
		got, err := queries.SimilarWords(ctx, ophicleide.SimilarRequest{ModelID: id, Word: w, Count: 10})
		if err != nil {
			t.Fatal(err)
		}
		ex, err := queries.Search(ctx, ophicleide.SearchRequest{ModelID: id, Queries: []ophicleide.SearchQuery{{Word: w}}, Count: 10, Exact: true})
		if err != nil || ex[0].Err != nil {
			t.Fatal(err, ex[0].Err)
		}
		_, set, _ := queries.readyModel(ctx, id)
		if set.Approx() == nil {
			t.Fatal("no index attached")
		}
		if got.Exact || !ex[0].Exact {
			t.Fatalf("answers say exact %v (index) and %v (Exact asked)", got.Exact, ex[0].Exact)
		}
		row, _ := set.Index(w)
		want := set.SearchExact(set.Row(row), 10, 0, []int{row})
		exact := map[string]bool{}
		for j, r := range ex[0].Results {
			if r.Word != want[j].Word || r.Score != float64(want[j].Score) {
				t.Fatalf("exact search of %s: %v, want the exact scan's %v", w, ex[0].Results, want)
			}
			exact[r.Word] = true
		}
		for _, r := range got.Results {
			if exact[r.Word] {
				found++
			}
		}
		total += len(ex[0].Results)
	}
	return float64(found) / float64(total)
}

// TestIndexLifecycle, in both stores: a model worth an index answers at
// once (exactly), gets its index built in the background (progress
// shown), stored and attached, with recall@10 >= 0.98 against the exact
// scan, which exact=true still gives; another process finds the stored
// index without building; a corrupted stored index, and another model's,
// are refused and built again.
func TestIndexLifecycle(t *testing.T) {
	const n, dim = 6000, 32
	text := clustered(n, dim, 3)
	run := func(t *testing.T, open func(t *testing.T) ophicleide.Store) {
		ctx := context.Background()
		store := open(t)
		models, queries, logs := indexed(t, store)
		m, err := models.Import(ctx, "clustered", strings.NewReader(text))
		if err != nil {
			t.Fatal(err)
		}
		// Answered before the index exists.
		if _, err := queries.SimilarWords(ctx, ophicleide.SimilarRequest{ModelID: m.ID, Word: "w1", Count: 10}); err != nil {
			t.Fatal(err)
		}
		got := waitIndex(t, models, m.ID, ophicleide.IndexReady)
		if got.Index.Bytes <= 0 || got.Index.Fraction != 1 {
			t.Errorf("ready index: %+v", got.Index)
		}
		if r := recall(t, queries, m.ID, n); r < 0.98 {
			t.Errorf("recall@10 %.3f through the service, want >= 0.98", r)
		} else {
			t.Logf("recall@10 %.4f", r)
		}
		if c := logs.count("building an index"); c != 1 {
			t.Errorf("%d builds, want 1", c)
		}
		rc, err := store.OpenIndex(ctx, m.ID)
		if err != nil {
			t.Fatalf("the index was not stored: %v", err)
		}
		rc.Close()

		// Another process (a new cache) finds it stored: no build.
		models2, queries2, logs2 := indexed(t, store)
		if _, err := queries2.SimilarWords(ctx, ophicleide.SimilarRequest{ModelID: m.ID, Word: "w1", Count: 10}); err != nil {
			t.Fatal(err)
		}
		waitIndex(t, models2, m.ID, ophicleide.IndexReady)
		if c := logs2.count("building an index"); c != 0 {
			t.Errorf("a stored index was built again (%d builds)", c)
		}
		if r := recall(t, queries2, m.ID, n); r < 0.98 {
			t.Errorf("recall@10 %.3f from the stored index", r)
		}

		// A corrupted one is refused and built again, and stored again.
		if err := store.PutIndex(ctx, m.ID, func(w io.Writer) error { _, err := w.Write([]byte("not an index")); return err }); err != nil {
			t.Fatal(err)
		}
		models3, queries3, logs3 := indexed(t, store)
		if _, err := models3.FindModel(ctx, m.ID); err != nil { // warms it: no query needed
			t.Fatal(err)
		}
		waitIndex(t, models3, m.ID, ophicleide.IndexReady)
		if logs3.count("stored index refused") != 1 || logs3.count("building an index") != 1 {
			t.Errorf("a corrupted stored index: log %q", logs3.b.String())
		}
		if r := recall(t, queries3, m.ID, n); r < 0.98 {
			t.Errorf("recall@10 %.3f after the rebuild", r)
		}
		rc, err = store.OpenIndex(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		head := make([]byte, 12)
		io.ReadFull(rc, head)
		rc.Close()
		if string(head) == "not an index" {
			t.Error("the rebuilt index was not stored")
		}

		// One larger than any index of its set: refused before it is all
		// read (by its length from a file, by the copy's bound from a
		// stream), and built again.
		huge := make([]byte, n*4*(4*128+2)+2<<20)
		if err := store.PutIndex(ctx, m.ID, func(w io.Writer) error { _, err := w.Write(huge); return err }); err != nil {
			t.Fatal(err)
		}
		models5, _, logs5 := indexed(t, store)
		waitIndex(t, models5, m.ID, ophicleide.IndexReady)
		if logs5.count("stored index refused") != 1 || logs5.count("building an index") != 1 {
			t.Errorf("a huge stored index: log %q", logs5.b.String())
		}
		if _, file := rc.(*os.File); !file && logs5.count("larger than any") != 1 {
			t.Errorf("a huge stored stream was not stopped by the copy's bound: %q", logs5.b.String())
		}

		// A foreign one (another model's, same size) is refused too.
		other, err := models.Import(ctx, "other", strings.NewReader(clustered(n, dim, 4)))
		if err != nil {
			t.Fatal(err)
		}
		waitIndex(t, models, other.ID, ophicleide.IndexReady)
		rc, err = store.OpenIndex(ctx, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		foreign, _ := io.ReadAll(rc)
		rc.Close()
		if err := store.PutIndex(ctx, other.ID, func(w io.Writer) error { _, err := w.Write(foreign); return err }); err != nil {
			t.Fatal(err)
		}
		models4, queries4, logs4 := indexed(t, store)
		waitIndex(t, models4, other.ID, ophicleide.IndexReady)
		if logs4.count("another vector set") != 1 || logs4.count("building an index") != 1 {
			t.Errorf("a foreign stored index: log %q", logs4.b.String())
		}
		if r := recall(t, queries4, other.ID, n); r < 0.98 {
			t.Errorf("recall@10 %.3f after the foreign index was rebuilt", r)
		}
	}
	t.Run("bolt", func(t *testing.T) {
		run(t, func(t *testing.T) ophicleide.Store {
			s, err := bolt.Open(context.Background(), t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
	t.Run("mongo", func(t *testing.T) {
		run(t, func(t *testing.T) ophicleide.Store {
			s, err := mongo.Open(context.Background(), mongo.Config{URL: mongotest.URL(t)})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		})
	})
}

// TestIndexSmallModelExact: below MinRows nothing is built and the model
// answers show no index.
func TestIndexSmallModelExact(t *testing.T) {
	ctx := context.Background()
	store, err := bolt.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	models, queries, logs := indexed(t, store)
	m, err := models.Import(ctx, "small", strings.NewReader(clustered(500, 8, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := queries.SimilarWords(ctx, ophicleide.SimilarRequest{ModelID: m.ID, Word: "w1", Count: 10}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if got, _ := models.FindModel(ctx, m.ID); got.Index != nil || logs.count("building") != 0 {
		t.Errorf("a small model: index %+v, log %q", got.Index, logs.b.String())
	}
	if _, err := store.OpenIndex(ctx, m.ID); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Errorf("a small model has a stored index: %v", err)
	}
}

// TestIndexDeletedWhileBuilding: a model deleted while its index is built
// stops the build; nothing is stored, nothing panics, its state goes.
func TestIndexDeletedWhileBuilding(t *testing.T) {
	ctx := context.Background()
	store, err := bolt.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	models, _, logs := indexed(t, store)
	m, err := models.Import(ctx, "to delete", strings.NewReader(clustered(40000, 32, 5)))
	if err != nil {
		t.Fatal(err)
	}
	waitIndex(t, models, m.ID, ophicleide.IndexBuilding)
	if err := models.Delete(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if _, err := store.OpenIndex(ctx, m.ID); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Errorf("OpenIndex of the deleted model: %v", err)
	}
	if c := logs.count("index attached"); c != 0 {
		t.Errorf("an index was attached for a deleted model: %q", logs.b.String())
	}
	x := models.cache.idx.Load()
	if st := x.state(m.ID); st != nil {
		t.Errorf("state of a deleted model's index: %+v", st)
	}
}

// TestIndexWarmedByFindModelOnly: a ready big model nobody queried is
// loaded (and indexed) when FindModel shows it, not when a page of models
// lists it (a list of many big models must not load them all).
func TestIndexWarmedByFindModelOnly(t *testing.T) {
	ctx := context.Background()
	store, err := bolt.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	plain, _ := New(store, 64<<20, Config{}) // no indexes: the import warms nothing
	m, err := plain.Import(ctx, "listed", strings.NewReader(clustered(3000, 16, 2)))
	if err != nil {
		t.Fatal(err)
	}
	models, _, logs := indexed(t, store)
	for range 3 {
		page, err := models.PageModels(ctx, ophicleide.Page{Limit: 10})
		if err != nil || len(page.Models) != 1 {
			t.Fatal(page, err)
		}
		if page.Models[0].Index != nil {
			t.Fatalf("listed, never loaded: index %+v", page.Models[0].Index)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n, _ := models.cache.sets.Stats(); n != 0 || logs.count("index") != 0 {
		t.Fatalf("PageModels loaded %d models: %q", n, logs.b.String())
	}
	waitIndex(t, models, m.ID, ophicleide.IndexReady)
	page, _ := models.PageModels(ctx, ophicleide.Page{Limit: 10})
	if st := page.Models[0].Index; st == nil || st.Status != ophicleide.IndexReady {
		t.Errorf("PageModels after the load: %+v", st)
	}
}
