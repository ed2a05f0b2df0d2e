package vectorcache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/mongo"
	"github.com/ophicleide/ophicleide/internal/mongo/mongotest"
	"github.com/ophicleide/ophicleide/internal/storetest"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// The cache over the real MongoDB store (FerretDB, internal/mongo/
// mongotest). The store's reads are counted by wrapping it: the store
// itself is the real one.

// counted is a store whose OpenVectors calls are counted.
type counted struct {
	ophicleide.Store
	opens atomic.Int64
}

func (c *counted) OpenVectors(ctx context.Context, id string) (io.ReadCloser, error) {
	c.opens.Add(1)
	return c.Store.OpenVectors(ctx, id)
}

func (c *counted) VectorVersion(ctx context.Context, id string) (string, int64, error) {
	return c.Store.(ophicleide.VectorVersioner).VectorVersion(ctx, id)
}

func openMongo(t testing.TB) *counted {
	t.Helper()
	s, err := mongo.Open(context.Background(), mongo.Config{URL: mongotest.URL(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &counted{Store: s}
}

// compact is a Compact file of rows random vectors of dimension dim.
func compact(t testing.TB, rows, dim int, seed uint64) []byte {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	words := make([]string, rows)
	vecs := make([]float32, rows*dim)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	for i := range vecs {
		vecs[i] = rng.Float32()*2 - 1
	}
	set, err := vectors.New(words, dim, vecs)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := vectors.WriteCompact(&b, set); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// importBytes stores a ready model (id "" for a new one) with file as its
// vectors and returns its id.
func importBytes(t testing.TB, s ophicleide.Store, id string, file []byte) string {
	t.Helper()
	m := storetest.NewModel(0)
	if id != "" {
		m.ID = id
	}
	if err := s.ImportModel(context.Background(), m, func(w io.Writer) error { _, err := w.Write(file); return err }); err != nil {
		t.Fatal(err)
	}
	return m.ID
}

func readAll(t *testing.T, rc io.ReadCloser) []byte {
	t.Helper()
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// logged is a logger whose lines the test reads.
type logged struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logged) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logged) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestOpenDownloadsOnceAndMaps(t *testing.T) {
	ctx := context.Background()
	s := openMongo(t)
	file := compact(t, 3000, 100, 1) // 1.2 MB: above vectors' mapping threshold
	id := importBytes(t, s, "", file)
	dir := t.TempDir()
	c, err := Open(s, dir, 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.OpenVectors(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rc.(*os.File); !ok {
		t.Fatalf("OpenVectors returned a %T, not an *os.File", rc)
	}
	set, err := vectors.Load(rc) // mapped
	rc.Close()
	if err != nil || set.Len() != 3000 {
		t.Fatalf("Load: %v", err)
	}
	if n := s.opens.Load(); n != 1 {
		t.Fatalf("first open read the store %d times", n)
	}
	for range 3 {
		if got := readAll(t, must(c.OpenVectors(ctx, id))); !bytes.Equal(got, file) {
			t.Fatal("the local copy differs from the stored vectors")
		}
	}
	if n, d := s.opens.Load(), c.Downloads(); n != 1 || d != 1 {
		t.Fatalf("after 4 opens: %d store reads, %d downloads", n, d)
	}
	// A new Cache on the directory (the replica restarted) keeps the copy.
	c2, err := Open(s, dir, 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if used, files := c2.Used(); used != int64(len(file)) || files != 1 {
		t.Fatalf("reopened: %d bytes in %d files", used, files)
	}
	readAll(t, must(c2.OpenVectors(ctx, id)))
	if n := s.opens.Load(); n != 1 {
		t.Fatalf("after a restart: %d store reads", n)
	}
	// The model deleted: ENOTFOUND, and its copy goes.
	if err := s.DeleteModel(ctx, id); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.OpenVectors(ctx, id); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Fatalf("deleted model: %v", err)
	}
	if used, files := c2.Used(); used != 0 || files != 0 {
		t.Fatalf("deleted model: %d bytes in %d files kept", used, files)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("deleted model: %d files left in the directory", len(ents))
	}
}

func must(rc io.ReadCloser, err error) io.ReadCloser {
	if err != nil {
		panic(err)
	}
	return rc
}

// TestReplacedVersionDownloadedAgain: a model whose vectors were replaced
// (deleted and imported again under its id: a new GridFS file) is read
// from the store again, and its old copy removed.
func TestReplacedVersionDownloadedAgain(t *testing.T) {
	ctx := context.Background()
	s := openMongo(t)
	v1, v2 := compact(t, 50, 8, 1), compact(t, 50, 8, 2) // same size, other bytes
	id := importBytes(t, s, "", v1)
	c, err := Open(s, t.TempDir(), 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readAll(t, must(c.OpenVectors(ctx, id))), v1) {
		t.Fatal("v1")
	}
	if err := s.DeleteModel(ctx, id); err != nil {
		t.Fatal(err)
	}
	importBytes(t, s, id, v2)
	if !bytes.Equal(readAll(t, must(c.OpenVectors(ctx, id))), v2) {
		t.Fatal("the replaced vectors were served from the old copy")
	}
	if n, d := s.opens.Load(), c.Downloads(); n != 2 || d != 2 {
		t.Fatalf("%d store reads, %d downloads", n, d)
	}
	if used, files := c.Used(); used != int64(len(v2)) || files != 1 {
		t.Fatalf("%d bytes in %d files: the old copy was kept", used, files)
	}
}

// TestEvictsLeastRecentlyOpenedNotOpen: the copies stay within the byte
// limit, the least recently opened going first, but never one a reader
// has open; a model larger than the limit is streamed from the store.
func TestEvictsLeastRecentlyOpenedNotOpen(t *testing.T) {
	ctx := context.Background()
	s := openMongo(t)
	file := compact(t, 100, 16, 1) // ~7.5 KB each
	size := int64(len(file))
	var ids []string
	for range 4 {
		ids = append(ids, importBytes(t, s, "", file))
	}
	c, err := Open(s, t.TempDir(), 3*size, nil) // room for 3
	if err != nil {
		t.Fatal(err)
	}
	held := must(c.OpenVectors(ctx, ids[1])) // the least recently opened, but open
	readAll(t, must(c.OpenVectors(ctx, ids[0])))
	readAll(t, must(c.OpenVectors(ctx, ids[2])))
	readAll(t, must(c.OpenVectors(ctx, ids[3]))) // 4 copies: one must go, not 1
	if used, files := c.Used(); used != 3*size || files != 3 {
		t.Fatalf("%d bytes in %d files, want %d in 3", used, files, 3*size)
	}
	before := s.opens.Load()
	for _, id := range []string{ids[1], ids[2], ids[3]} {
		readAll(t, must(c.OpenVectors(ctx, id)))
	}
	if n := s.opens.Load() - before; n != 0 {
		t.Fatalf("the kept copies were read from the store %d times", n)
	}
	readAll(t, must(c.OpenVectors(ctx, ids[0]))) // evicted: downloaded again
	if n := s.opens.Load() - before; n != 1 {
		t.Fatalf("the evicted copy: %d store reads", n)
	}
	held.Close()
	// Bigger than the limit: the store's stream every time, nothing kept.
	big := importBytes(t, s, "", compact(t, 1000, 16, 3))
	before = s.opens.Load()
	for range 2 {
		rc := must(c.OpenVectors(ctx, big))
		if _, ok := rc.(*os.File); ok {
			t.Fatal("a model over the limit was copied")
		}
		readAll(t, rc)
	}
	if n := s.opens.Load() - before; n != 2 {
		t.Fatalf("over the limit: %d store reads", n)
	}
	if used, _ := c.Used(); used > 3*size {
		t.Fatalf("%d bytes kept", used)
	}
}

// TestTruncatedCopyReplaced: a local copy whose size is not its
// version's (truncated, a crash of the disk) is never opened; it is
// copied again. A temporary file left by an interrupted download is
// removed when the directory is opened.
func TestTruncatedCopyReplaced(t *testing.T) {
	ctx := context.Background()
	s := openMongo(t)
	file := compact(t, 200, 16, 1)
	id := importBytes(t, s, "", file)
	dir := t.TempDir()
	var log logged
	c, err := Open(s, dir, 1<<20, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, must(c.OpenVectors(ctx, id)))
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Fatalf("%d files", len(ents))
	}
	path := filepath.Join(dir, ents[0].Name())
	if err := os.Truncate(path, int64(len(file)/2)); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, must(c.OpenVectors(ctx, id))); !bytes.Equal(got, file) {
		t.Fatalf("a truncated copy was served (%d bytes)", len(got))
	}
	if n := s.opens.Load(); n != 2 || !strings.Contains(log.String(), "does not match its version") {
		t.Fatalf("%d store reads; log %q", n, log.String())
	}
	// Truncated while no Cache had the directory, and a temporary file.
	os.Truncate(path, 10)
	tmp := filepath.Join(dir, tmpPrefix+id+"-123")
	os.WriteFile(tmp, file[:100], 0o644)
	c2, err := Open(s, dir, 1<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(tmp); !os.IsNotExist(err) {
		t.Fatalf("temporary file kept: %v", err)
	}
	if got := readAll(t, must(c2.OpenVectors(ctx, id))); !bytes.Equal(got, file) {
		t.Fatalf("a truncated copy was served after a restart (%d bytes)", len(got))
	}
}

// TestConcurrentOpensDownloadOnce: many first opens of one model at once
// read the store once.
func TestConcurrentOpensDownloadOnce(t *testing.T) {
	ctx := context.Background()
	s := openMongo(t)
	file := compact(t, 5000, 50, 1) // 1 MB: a download that takes a while
	id := importBytes(t, s, "", file)
	c, err := Open(s, t.TempDir(), 64<<20, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			rc, err := c.OpenVectors(ctx, id)
			if err != nil {
				t.Error(err)
				return
			}
			if _, ok := rc.(*os.File); !ok {
				t.Errorf("a %T", rc)
			}
			b, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(b, file) {
				t.Error("wrong bytes")
			}
		})
	}
	wg.Wait()
	if n, d := s.opens.Load(), c.Downloads(); n != 1 || d != 1 {
		t.Fatalf("16 concurrent opens: %d store reads, %d downloads", n, d)
	}
}

// TestUnwritableDirFallsBack: when the directory cannot be written, the
// store's stream is returned and a warning logged.
func TestUnwritableDirFallsBack(t *testing.T) {
	ctx := context.Background()
	s := openMongo(t)
	file := compact(t, 100, 8, 1)
	id := importBytes(t, s, "", file)
	dir := filepath.Join(t.TempDir(), "cache")
	var log logged
	c, err := Open(s, dir, 1<<20, slog.New(slog.NewTextHandler(&log, nil)))
	if err != nil {
		t.Fatal(err)
	}
	// The directory replaced by a file: nothing can be created in it,
	// whoever runs the test (root ignores permissions).
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		rc, err := c.OpenVectors(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(readAll(t, rc), file) {
			t.Fatal("wrong bytes")
		}
	}
	if n := s.opens.Load(); n != 2 || !strings.Contains(log.String(), "cannot keep a local copy") {
		t.Fatalf("%d store reads; log %q", n, log.String())
	}
	if _, err := Open(s, filepath.Join(dir, "sub"), 1<<20, nil); err == nil {
		t.Fatal("Open of a directory under a file")
	}
	if _, err := Open(s, t.TempDir(), 0, nil); err == nil {
		t.Fatal("Open with no room")
	}
}

// TestVectorVersion: both stores' versions name the bytes OpenVectors
// reads (their length) and change when the vectors are replaced.
func TestVectorVersion(t *testing.T) {
	ctx := context.Background()
	b, err := bolt.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for name, s := range map[string]ophicleide.Store{"bolt": b, "mongo": openMongo(t).Store} {
		vv := s.(ophicleide.VectorVersioner)
		if _, _, err := vv.VectorVersion(ctx, storetest.NewID()); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
			t.Errorf("%s: unknown model: %v", name, err)
		}
		queued := storetest.NewModel(0)
		if err := s.CreateModel(ctx, queued, nil); err != nil {
			t.Fatal(err)
		}
		if _, _, err := vv.VectorVersion(ctx, queued.ID); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
			t.Errorf("%s: queued model: %v", name, err)
		}
		file := compact(t, 30, 4, 1)
		id := importBytes(t, s, "", file)
		v1, size, err := vv.VectorVersion(ctx, id)
		if err != nil || size != int64(len(file)) || v1 == "" {
			t.Fatalf("%s: %q %d %v", name, v1, size, err)
		}
		if again, _, _ := vv.VectorVersion(ctx, id); again != v1 {
			t.Errorf("%s: the version changed by itself: %q, %q", name, v1, again)
		}
		time.Sleep(2 * time.Millisecond) // (bolt's version has the file's mtime)
		if err := s.DeleteModel(ctx, id); err != nil {
			t.Fatal(err)
		}
		importBytes(t, s, id, compact(t, 30, 4, 2))
		if v2, size2, err := vv.VectorVersion(ctx, id); err != nil || v2 == v1 || size2 != size {
			t.Errorf("%s: replaced: %q (was %q) %d %v", name, v2, v1, size2, err)
		}
	}
}
