package word2vec

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// corpusFiles returns the descriptors of this process open on corpus
// files of dir: the files have no name, so the directory is always
// empty; a descriptor left open is what would hold their space.
func corpusFiles(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	var open []string
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, filepath.Join(dir, ".ophicleide-corpus-")) {
			open = append(open, target)
		}
	}
	if names, err := os.ReadDir(dir); err != nil || len(names) > 0 {
		t.Fatalf("temporary directory: %v %v", names, err)
	}
	return open
}

// TestCorpusFileReleased: the corpus file is unlinked while training and
// closed when Train returns, after success, an error and a cancellation,
// in counting and in training.
func TestCorpusFileReleased(t *testing.T) {
	dir := t.TempDir()
	cfg := smallConfig()
	cfg.DiskCorpus, cfg.TempDir = true, dir
	during := 0
	cfg.Progress = func(Progress) {
		if during == 0 {
			during = len(corpusFiles(t, dir))
		}
	}
	if _, err := Train(context.Background(), cfg, src(synthetic(200, 1))); err != nil {
		t.Fatal(err)
	}
	if during != 1 {
		t.Fatalf("%d corpus files open while training, want 1", during)
	}
	if open := corpusFiles(t, dir); len(open) > 0 {
		t.Fatalf("after training: %v", open)
	}

	cfg.Progress = nil
	cfg.MemoryLimit = 1000 // the weights do not fit
	var me *MemoryError
	if _, err := Train(context.Background(), cfg, src(synthetic(200, 1))); !errors.As(err, &me) {
		t.Fatalf("memory limit: %v", err)
	}
	if open := corpusFiles(t, dir); len(open) > 0 {
		t.Fatalf("after a memory error: %v", open)
	}
	cfg.MemoryLimit = 0
	if _, err := Train(context.Background(), cfg, src("one two")); err == nil {
		t.Fatal("no frequent word, no error")
	}
	if open := corpusFiles(t, dir); len(open) > 0 {
		t.Fatalf("after a vocabulary error: %v", open)
	}

	for _, phase := range []Phase{PhaseCounting, PhaseTraining} {
		ctx, cancel := context.WithCancel(context.Background())
		cfg.Epochs = 100
		cfg.Progress = func(p Progress) {
			if p.Phase == phase {
				cancel()
			}
		}
		cfg.ProgressInterval = 1
		if _, err := Train(ctx, cfg, src(synthetic(100000, 1))); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled in %s: %v", phase, err)
		}
		cancel()
		if open := corpusFiles(t, dir); len(open) > 0 {
			t.Fatalf("after a cancellation in %s: %v", phase, open)
		}
	}
}

// TestDiskFull trains on file in a real 256 KiB tmpfs (mounting needs
// root): the corpus does not fit, Train says so and frees the space.
func TestDiskFull(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=256k"); err != nil {
		t.Skipf("cannot mount a tmpfs (needs root): %v", err)
	}
	t.Cleanup(func() { unix.Unmount(dir, unix.MNT_DETACH) })
	var before unix.Statfs_t
	if err := unix.Statfs(dir, &before); err != nil {
		t.Fatal(err)
	}
	text := synthetic(100000, 1) // 1.3M ids: 5.2 MB
	for _, cfg := range []Config{
		{DiskCorpus: true},                               // on file from the start: the first block's write
		{MemoryLimit: 6 << 20},                           // spilled while counting
		{DiskCorpus: true, InputBytes: int64(len(text))}, // with the input's size, an estimate
	} {
		cfg.TempDir, cfg.Dim, cfg.Threads = dir, 10, 1
		_, err := Train(context.Background(), cfg, countedSrc(text))
		var de *DiskSpaceError
		if !errors.As(err, &de) || !errors.Is(err, syscall.ENOSPC) || strings.Contains(err.Error(), dir) ||
			!strings.HasPrefix(err.Error(), "not enough disk space in the temporary directory for the corpus (") {
			t.Fatalf("%+v: %v", cfg, err)
		}
		if cfg.InputBytes > 0 && (de.AtLeast || de.Need < 4<<20 || de.Need > 8<<20) {
			t.Fatalf("estimate from the input's size: %v (%d bytes)", err, de.Need)
		}
		t.Log(err)
		var after unix.Statfs_t
		if err := unix.Statfs(dir, &after); err != nil {
			t.Fatal(err)
		}
		if open := corpusFiles(t, dir); len(open) > 0 || after.Bfree != before.Bfree {
			t.Fatalf("after a full disk: %v open, %d of %d blocks free", open, after.Bfree, before.Bfree)
		}
	}
}

// countedSrc is src that reports the bytes it has read, as corpus.Reader
// does.
func countedSrc(text string) Sentences {
	cr := &countedReader{r: strings.NewReader(text)}
	return byteSource{newFieldsSource(cr, 10000), cr}
}

type countedReader struct {
	r io.Reader
	n int64
}

func (c *countedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

type byteSource struct {
	*fieldsSource
	cr *countedReader
}

func (s byteSource) Bytes() int64 { return s.cr.n }
