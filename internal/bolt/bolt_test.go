package bolt

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/storetest"
	bbolt "go.etcd.io/bbolt"
)

func open(t *testing.T, dir string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ophicleide.Store {
		return open(t, t.TempDir())
	})
}

func read(t *testing.T) func(io.ReadCloser, error) string {
	return func(rc io.ReadCloser, err error) string {
		t.Helper()
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		defer rc.Close()
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
}

func TestReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := t.Context()

	ready, held, expired := storetest.NewModel(0), storetest.NewModel(time.Second), storetest.NewModel(2*time.Second)
	ready.Uploads = []string{"a.txt"}
	if err := s.CreateModel(ctx, ready, map[string]io.Reader{"a.txt": strings.NewReader("corpus")}); err != nil {
		t.Fatal(err)
	}
	held.Uploads = []string{"b.txt"}
	if err := s.CreateModel(ctx, held, map[string]io.Reader{"b.txt": strings.NewReader("held corpus")}); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*ophicleide.Model{expired} {
		if err := s.CreateModel(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	q := &ophicleide.Query{ID: storetest.NewID(), Word: "darcy", ModelID: ready.ID, Results: []ophicleide.Result{{Word: "bingley", Score: 0.5}}, Created: time.Now()}
	if err := s.CreateQuery(ctx, q); err != nil {
		t.Fatal(err)
	}
	l, err := s.ClaimJob(ctx, "w", time.Minute)
	if err != nil || l.ModelID != ready.ID {
		t.Fatalf("claim: %+v %v", l, err)
	}
	if err := s.PutVectors(ctx, l, func(w io.Writer) error { _, err := io.WriteString(w, "vectors"); return err }); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteJob(ctx, l, ophicleide.Completion{Stats: ophicleide.Stats{VocabSize: 3}}); err != nil {
		t.Fatal(err)
	}
	lHeld, err := s.ClaimJob(ctx, "w", time.Minute)
	if err != nil || lHeld.ModelID != held.ID {
		t.Fatalf("claim: %+v %v", lHeld, err)
	}
	lExpired, err := s.ClaimJob(ctx, "w", -time.Millisecond)
	if err != nil || lExpired.ModelID != expired.ID {
		t.Fatalf("claim: %+v %v", lExpired, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir)
	defer s.Close()
	m, err := s.FindModel(ctx, ready.ID)
	if err != nil || m.Status != ophicleide.StatusReady || m.Stats == nil || m.Stats.VocabSize != 3 || m.Name != ready.Name {
		t.Fatalf("ready model after reopen: %+v %v", m, err)
	}
	if got := read(t)(s.OpenVectors(ctx, ready.ID)); got != "vectors" {
		t.Errorf("vectors after reopen %q", got)
	}
	if got := read(t)(s.OpenUpload(ctx, held.ID, "b.txt")); got != "held corpus" {
		t.Errorf("upload of a training model after reopen %q", got)
	}
	if _, err := s.OpenUpload(ctx, ready.ID, "a.txt"); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Errorf("upload of a ready model after reopen: %v, want ENOTFOUND (removed when it ended)", err)
	}
	if got, err := s.FindQuery(ctx, q.ID); err != nil || got.Word != "darcy" || len(got.Results) != 1 {
		t.Errorf("query after reopen: %+v %v", got, err)
	}
	if n, err := s.QueueLength(ctx); err != nil || n != 2 {
		t.Errorf("QueueLength after reopen = %d, %v; want 2", n, err)
	}
	l, err = s.ClaimJob(ctx, "w2", time.Minute)
	if err != nil || l == nil || l.ModelID != expired.ID || l.Attempt != 2 || l.Token <= lExpired.Token {
		t.Fatalf("claim after reopen: %+v %v; want the expired job, attempt 2", l, err)
	}
	if l, err := s.ClaimJob(ctx, "w2", time.Minute); err != nil || l != nil {
		t.Fatalf("claim after reopen: %+v %v; the held job is still leased", l, err)
	}
	if err := s.UpdateProgress(ctx, lHeld, ophicleide.Progress{Phase: "training"}); err != nil {
		t.Errorf("a lease held across the reopen: %v", err)
	}
}

func TestOpenTwice(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	old := openTimeout
	openTimeout = 100 * time.Millisecond
	defer func() { openTimeout = old }()
	start := time.Now()
	s2, err := Open(t.Context(), dir)
	if err == nil {
		s2.Close()
		t.Fatal("a second Open of the same directory succeeded")
	}
	if ophicleide.ErrorCode(err) != ophicleide.EUNAVAILABLE || !strings.Contains(ophicleide.ErrorMessage(err), "in use") {
		t.Errorf("second Open: %v (code %s), want EUNAVAILABLE saying the directory is in use", err, ophicleide.ErrorCode(err))
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("second Open took %v", d)
	}
}

// TestSweep checks that Open removes what a crash may leave behind and
// keeps what records point at.
func TestSweep(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	ctx := t.Context()
	m := storetest.NewModel(0)
	m.Uploads = []string{"a.txt"}
	if err := s.CreateModel(ctx, m, map[string]io.Reader{"a.txt": strings.NewReader("corpus")}); err != nil {
		t.Fatal(err)
	}
	l, err := s.ClaimJob(ctx, "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.PutVectors(ctx, l, func(w io.Writer) error { _, err := io.WriteString(w, "v"); return err }); err != nil {
		t.Fatal(err)
	}
	s.Close()
	junk := []string{
		"vectors/" + m.ID + ".bin.0123.tmp",
		"vectors/orphan.bin",
		"uploads/.tmp-x-0123/0",
		"uploads/orphan/0",
		"trash/deleted-0123/0",
	}
	for _, j := range junk {
		p := filepath.Join(dir, j)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s = open(t, dir)
	defer s.Close()
	for _, j := range junk {
		if _, err := os.Stat(filepath.Join(dir, j)); err == nil {
			t.Errorf("%s survived Open", j)
		}
	}
	for _, keep := range []string{"vectors/" + m.ID + ".bin", "uploads/" + m.ID + "/0"} {
		if _, err := os.Stat(filepath.Join(dir, keep)); err != nil {
			t.Errorf("%s: %v", keep, err)
		}
	}
}

const crashEnv = "OPHICLEIDE_BOLT_CRASH_DIR"

// TestCrash runs a child that creates models, each with an upload, and
// completes their jobs with vectors in a loop, printing each model's ID
// once CompleteJob returned, and kills it with SIGKILL. Every model the
// child reported must be there, ready, with its files.
func TestCrash(t *testing.T) {
	if dir := os.Getenv(crashEnv); dir != "" {
		crashChild(dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrash$")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var committed []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if id, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed = append(committed, id)
			if len(committed) == 30 {
				break
			}
		}
	}
	cmd.Process.Signal(syscall.SIGKILL)
	for sc.Scan() { // what the child printed before it died
		if id, ok := strings.CutPrefix(sc.Text(), "committed "); ok {
			committed = append(committed, id)
		}
	}
	cmd.Wait()
	if len(committed) < 30 {
		t.Fatalf("the child committed %d models before it stopped", len(committed))
	}

	s := open(t, dir)
	defer s.Close()
	ctx := t.Context()
	for _, id := range committed {
		m, err := s.FindModel(ctx, id)
		if err != nil || m.Status != ophicleide.StatusReady {
			t.Errorf("model %s after the crash: %+v %v", id, m, err)
			continue
		}
		if got := read(t)(s.OpenVectors(ctx, id)); got != "vectors of "+id {
			t.Errorf("vectors of %s: %q", id, got)
		}
		// Its upload went when it ended (or, if the crash came between the
		// commit and the removal, when Open swept).
		if _, err := os.Stat(filepath.Join(dir, "uploads", id)); !os.IsNotExist(err) {
			t.Errorf("upload of ready model %s after the crash: %v", id, err)
		}
		// The query history is not fsynced, but a killed process loses
		// none of it.
		if q, err := s.FindQuery(ctx, "q-"+id); err != nil || q.ModelID != id {
			t.Errorf("query of %s after the crash: %+v %v", id, q, err)
		}
	}
}

// TestQueriesMovedFromMainDatabase opens a data directory written by an
// earlier version, whose queries lived in ophicleide.db.
func TestQueriesMovedFromMainDatabase(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir)
	m := storetest.NewModel(0)
	if err := s.CreateModel(t.Context(), m, nil); err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := bbolt.Open(filepath.Join(dir, DBFile), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		for i := range 3 {
			q := ophicleide.Query{ID: fmt.Sprintf("old-%d", i), Word: "w", ModelID: m.ID, Created: time.Unix(int64(i), 0).UTC()}
			if err := putJSON(tx.Bucket(bucketQueries), []byte(q.ID), &q); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 { // the second open finds nothing left to move
		s = open(t, dir)
		page, err := s.PageQueries(t.Context(), ophicleide.QueryFilter{Model: m.ID}, ophicleide.Page{})
		if err != nil || len(page.Queries) != 3 || page.Queries[0].ID != "old-2" {
			t.Fatalf("queries after the move: %+v %v", page, err)
		}
		s.db.View(func(tx *bbolt.Tx) error {
			if n := tx.Bucket(bucketQueries).Stats().KeyN; n != 0 {
				t.Errorf("%d queries left in %s", n, DBFile)
			}
			return nil
		})
		s.Close()
	}
}

func crashChild(dir string) {
	ctx := context.Background()
	s, err := Open(ctx, dir)
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	for i := 0; ; i++ {
		m := storetest.NewModel(time.Duration(i) * time.Millisecond)
		m.Uploads = []string{"a.txt"}
		if err := s.CreateModel(ctx, m, map[string]io.Reader{"a.txt": strings.NewReader("corpus of " + m.ID)}); err != nil {
			fmt.Println("create:", err)
			os.Exit(1)
		}
		l, err := s.ClaimJob(ctx, "child", time.Minute)
		if err != nil || l == nil {
			fmt.Println("claim:", l, err)
			os.Exit(1)
		}
		if err := s.PutVectors(ctx, l, func(w io.Writer) error { _, err := io.WriteString(w, "vectors of "+m.ID); return err }); err != nil {
			fmt.Println("put vectors:", err)
			os.Exit(1)
		}
		if err := s.CompleteJob(ctx, l, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil {
			fmt.Println("complete:", err)
			os.Exit(1)
		}
		if err := s.CreateQuery(ctx, &ophicleide.Query{ID: "q-" + m.ID, ModelID: m.ID, Word: "w"}); err != nil {
			fmt.Println("query:", err)
			os.Exit(1)
		}
		fmt.Println("committed", m.ID)
	}
}

// BenchmarkClaims is the embedded store's figure for the same measure as
// internal/mongo's (see storetest.BenchClaims).
func BenchmarkClaims(b *testing.B) {
	storetest.BenchClaims(b, func(b *testing.B) ophicleide.Store {
		s, err := Open(b.Context(), b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

// TestQueryRetention: issue 10, the query history grew without bound. With
// MaxQueries(n) every CreateQuery leaves at most n, the newest; opening
// with a lower cap trims at once.
func TestQueryRetention(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s, err := Open(ctx, dir, MaxQueries(5))
	if err != nil {
		t.Fatal(err)
	}
	m := storetest.NewModel(0)
	if err := s.CreateModel(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 12 {
		q := &ophicleide.Query{ID: fmt.Sprintf("q%02d", i), ModelID: m.ID, Word: "w", Created: time.Unix(int64(i), 0).UTC()}
		if err := s.CreateQuery(ctx, q); err != nil {
			t.Fatal(err)
		}
		ids = append([]string{q.ID}, ids...)
		page, err := s.PageQueries(ctx, ophicleide.QueryFilter{}, ophicleide.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := pageIDs(page), ids[:min(len(ids), 5)]; !slices.Equal(got, want) {
			t.Fatalf("after %d queries: %v, want %v", i+1, got, want)
		}
	}
	s.Close()
	s, err = Open(ctx, dir, MaxQueries(3))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	page, err := s.PageQueries(ctx, ophicleide.QueryFilter{Model: m.ID}, ophicleide.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if got := pageIDs(page); !slices.Equal(got, ids[:3]) {
		t.Fatalf("after reopening with a cap of 3: %v, want %v", got, ids[:3])
	}
	if _, err := s.FindQuery(ctx, ids[3]); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Errorf("a query beyond the cap: %v", err)
	}
}

func pageIDs(p *ophicleide.QueryPage) []string {
	var ids []string
	for _, q := range p.Queries {
		ids = append(ids, q.ID)
	}
	return ids
}

// TestUpgradeFromSchema1 opens a store as version 1 left it: no
// models-by-time index, no counts of ended models, a query history
// without indexes. Open builds them.
func TestUpgradeFromSchema1(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := open(t, dir)
	ready, queued := storetest.NewModel(0), storetest.NewModel(time.Second)
	for _, m := range []*ophicleide.Model{ready, queued} {
		if err := s.CreateModel(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
	}
	l, err := s.ClaimJob(ctx, "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteJob(ctx, l, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := s.CreateQuery(ctx, &ophicleide.Query{ID: fmt.Sprint("q", i), ModelID: ready.ID, Created: time.Unix(int64(i), 0)}); err != nil {
			t.Fatal(err)
		}
	}
	// Back to version 1.
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.db.Update(func(tx *bbolt.Tx) error {
		must(tx.DeleteBucket(bucketModelsByTime))
		must(tx.Bucket(bucketMeta).Delete(endedKey(ophicleide.StatusReady)))
		return tx.Bucket(bucketMeta).Put(keyVersion, []byte("1"))
	}))
	must(s.qdb.Update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketQueriesByTime, bucketQueriesByModel, bucketQueriesMeta} {
			must(tx.DeleteBucket(b))
		}
		return nil
	}))
	s.Close()

	s = open(t, dir)
	defer s.Close()
	mp, err := s.PageModels(ctx, ophicleide.Page{})
	if err != nil || len(mp.Models) != 2 || mp.Models[0].ID != queued.ID {
		t.Fatalf("PageModels after the upgrade: %+v %v", mp, err)
	}
	c, err := s.CountModels(ctx)
	if err != nil || c.ByStatus[ophicleide.StatusReady] != 1 || c.ByStatus[ophicleide.StatusQueued] != 1 {
		t.Fatalf("CountModels after the upgrade: %+v %v", c, err)
	}
	qp, err := s.PageQueries(ctx, ophicleide.QueryFilter{Model: ready.ID}, ophicleide.Page{Limit: 2})
	if err != nil || !slices.Equal(pageIDs(qp), []string{"q2", "q1"}) || qp.Next == "" {
		t.Fatalf("PageQueries after the upgrade: %+v %v", qp, err)
	}
	if n, err := s.TrimQueries(ctx, 1); err != nil || n != 2 {
		t.Fatalf("TrimQueries after the upgrade: %d %v (the count was rebuilt?)", n, err)
	}
}

// TestUpgradeQueriesWithoutOwners opens a query history written before
// owners (no owner indexes, queries-by-time values of the model alone):
// Open builds the owner indexes, so owner pages and trims work on it.
func TestUpgradeQueriesWithoutOwners(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := open(t, dir)
	m := storetest.NewModel(0)
	if err := s.CreateModel(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		q := &ophicleide.Query{ID: fmt.Sprint("q", i), ModelID: m.ID, Created: time.Unix(int64(i), 0)}
		if i == 3 {
			q.Owner = "k\x00ey" // as if a later version wrote it before a downgrade
		}
		if err := s.CreateQuery(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.qdb.Update(func(tx *bbolt.Tx) error {
		must(tx.DeleteBucket(bucketQueriesByOwner))
		must(tx.DeleteBucket(bucketQueriesByOwnerModel))
		byTime := tx.Bucket(bucketQueriesByTime)
		var keys [][]byte
		must(byTime.ForEach(func(k, _ []byte) error { keys = append(keys, bytes.Clone(k)); return nil }))
		for _, k := range keys {
			must(byTime.Put(k, []byte(m.ID)))
		}
		return nil
	}))
	s.Close()

	s = open(t, dir)
	defer s.Close()
	anon, err := s.PageQueries(ctx, ophicleide.QueryFilter{ByOwner: true}, ophicleide.Page{})
	if err != nil || !slices.Equal(pageIDs(anon), []string{"q2", "q1", "q0"}) {
		t.Fatalf("queries without an owner after the upgrade: %v %v", pageIDs(anon), err)
	}
	keyed, err := s.PageQueries(ctx, ophicleide.QueryFilter{ByOwner: true, Owner: "k\x00ey", Model: m.ID}, ophicleide.Page{})
	if err != nil || !slices.Equal(pageIDs(keyed), []string{"q3"}) {
		t.Fatalf("the owner's queries after the upgrade: %v %v", pageIDs(keyed), err)
	}
	if n, err := s.TrimQueries(ctx, 1); err != nil || n != 3 {
		t.Fatalf("TrimQueries: %d %v", n, err)
	}
	anon, err = s.PageQueries(ctx, ophicleide.QueryFilter{ByOwner: true}, ophicleide.Page{})
	if err != nil || len(anon.Queries) != 0 {
		t.Fatalf("queries without an owner after the trim: %v %v", pageIDs(anon), err)
	}
	if err := s.DeleteModel(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	keyed, err = s.PageQueries(ctx, ophicleide.QueryFilter{ByOwner: true, Owner: "k\x00ey"}, ophicleide.Page{})
	if err != nil || len(keyed.Queries) != 0 {
		t.Fatalf("the owner's queries after the deletion: %v %v", pageIDs(keyed), err)
	}
}
