package bolt

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/storetest"
)

func wantFull(t *testing.T, what string, err error, words string) {
	t.Helper()
	if ophicleide.ErrorCode(err) != ophicleide.EFULL || !strings.Contains(ophicleide.ErrorMessage(err), words) {
		t.Errorf("%s: %v (code %q, message %q), want EFULL saying %q", what, err, ophicleide.ErrorCode(err), ophicleide.ErrorMessage(err), words)
	}
}

// TestDevFull: writes of uploads and vectors that the kernel refuses with
// ENOSPC are EFULL with words, and leave nothing behind. The store's files
// are made /dev/full (createFile), whose writes fail with a real ENOSPC
// from the kernel: filling a disk takes a mount (TestDiskFull).
func TestDevFull(t *testing.T) {
	if _, err := os.Stat("/dev/full"); err != nil {
		t.Skip("no /dev/full:", err)
	}
	dir := t.TempDir()
	s := open(t, dir)
	defer s.Close()
	ctx := t.Context()
	m := storetest.NewModel(0)
	if err := s.CreateModel(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	l, err := s.ClaimJob(ctx, "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	orig := createFile
	createFile = func(string) (*os.File, error) { return os.OpenFile("/dev/full", os.O_WRONLY, 0) }
	defer func() { createFile = orig }()

	err = s.PutVectors(ctx, l, func(w io.Writer) error { _, err := w.Write(make([]byte, 1<<16)); return err })
	wantFull(t, "PutVectors on a full disk", err, "disk is full")
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("PutVectors: %v does not wrap ENOSPC", err)
	}
	up := storetest.NewModel(time.Second)
	up.Uploads = []string{"a.txt"}
	err = s.CreateModel(ctx, up, map[string]io.Reader{"a.txt": strings.NewReader("corpus")})
	wantFull(t, "CreateModel with an upload on a full disk", err, "disk is full")
	err = s.ImportModel(ctx, storetest.NewModel(2*time.Second), func(w io.Writer) error { _, err := w.Write([]byte("v")); return err })
	wantFull(t, "ImportModel on a full disk", err, "disk is full")
	createFile = orig

	if _, err := s.FindModel(ctx, up.ID); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Errorf("a model whose upload failed was stored: %v", err)
	}
	for _, sub := range []string{"vectors", "uploads"} {
		if entries, _ := os.ReadDir(filepath.Join(dir, sub)); len(entries) != 0 {
			t.Errorf("%s/ holds %d entries after failed writes", sub, len(entries))
		}
	}
	// With space again, the job goes on.
	if err := s.PutVectors(ctx, l, func(w io.Writer) error { _, err := w.Write([]byte("v")); return err }); err != nil {
		t.Errorf("PutVectors with space again: %v", err)
	}
}

// TestDiskErrors: ENOSPC and EDQUOT however deep in a chain are EFULL, with
// the cause kept; others pass. EDQUOT cannot be made to happen in a test
// (it takes a file system with quotas), so this is a named fake: the error
// a write(2) beyond a quota returns, as os wraps it.
func TestDiskErrors(t *testing.T) {
	fakeQuotaError := &os.PathError{Op: "write", Path: "queries.db", Err: syscall.EDQUOT}
	fakeFullError := fmt.Errorf("commit: %w", &os.PathError{Op: "write", Path: "ophicleide.db", Err: syscall.ENOSPC})
	for _, c := range []struct {
		err   error
		code  string
		words string
	}{
		{fakeQuotaError, ophicleide.EFULL, "quota"},
		{fakeFullError, ophicleide.EFULL, "disk is full"},
		{errors.New("other"), ophicleide.EINTERNAL, "internal error"},
		{notFound("model", "x"), ophicleide.ENOTFOUND, "not found"},
	} {
		err := fileError("op", c.err)
		if ophicleide.ErrorCode(err) != c.code || !strings.Contains(ophicleide.ErrorMessage(err), c.words) || !errors.Is(err, c.err) {
			t.Errorf("%v -> %v (%s, %q), want %s saying %q, wrapping the cause", c.err, err, ophicleide.ErrorCode(err), ophicleide.ErrorMessage(err), c.code, c.words)
		}
	}
}

// TestMaxBytes: with MaxBytes the data directory stays under its limit:
// a write that would pass it is EFULL naming the limit and leaves nothing;
// once at the limit new models and queries are refused, and the job in
// progress can still end; deleting a model frees room. The size is
// measured again by Open.
func TestMaxBytes(t *testing.T) {
	dir := t.TempDir()
	ctx := t.Context()
	s := open(t, dir)
	s.Close()
	base := treeSize(filepath.Join(dir, DBFile)) + treeSize(filepath.Join(dir, QueriesFile))
	const room = 1 << 20
	s, err := Open(ctx, dir, MaxBytes(base+room))
	if err != nil {
		t.Fatal(err)
	}
	m := storetest.NewModel(0)
	m.Uploads = []string{"big.txt"}
	err = s.CreateModel(ctx, m, map[string]io.Reader{"big.txt": bytes.NewReader(make([]byte, 2*room))})
	wantFull(t, "an upload beyond the limit", err, "the data directory has reached its limit of")
	if entries, _ := os.ReadDir(filepath.Join(dir, "uploads")); len(entries) != 0 {
		t.Errorf("uploads/ holds %d entries after a refused upload", len(entries))
	}
	if got := s.files.Load(); got != 0 {
		t.Errorf("%d bytes counted after a refused upload", got)
	}
	m.Uploads = []string{"small.txt"}
	if err := s.CreateModel(ctx, m, map[string]io.Reader{"small.txt": bytes.NewReader(make([]byte, room/2))}); err != nil {
		t.Fatalf("an upload within the limit: %v", err)
	}
	l, err := s.ClaimJob(ctx, "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	err = s.PutVectors(ctx, l, func(w io.Writer) error {
		for range 8 {
			if _, err := w.Write(make([]byte, room/8)); err != nil {
				return err
			}
		}
		return nil
	})
	wantFull(t, "vectors beyond the limit", err, "limit of")
	// Fill up to the limit: then nothing new is taken.
	if err := s.PutVectors(ctx, l, func(w io.Writer) error {
		_, err := w.Write(make([]byte, base+room-s.used()))
		return err
	}); err != nil {
		t.Fatalf("vectors up to the limit: %v", err)
	}
	if used := s.used(); used != base+room && used < base+room-4096 {
		t.Fatalf("used %d, want about %d", used, base+room)
	}
	if s.used() < base+room {
		t.Skip("the database files grew meanwhile; the rest needs the directory exactly full")
	}
	wantFull(t, "a model at the limit", s.CreateModel(ctx, storetest.NewModel(time.Second), nil), "limit of")
	q := &ophicleide.Query{ID: storetest.NewID(), ModelID: m.ID, Created: time.Now()}
	wantFull(t, "a query at the limit", s.CreateQuery(ctx, q), "limit of")
	if err := s.CompleteJob(ctx, l, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil {
		t.Fatalf("CompleteJob at the limit: %v", err)
	}
	// The ended model's upload went, and with it its bytes.
	tracked := s.files.Load()
	if want := treeSize(filepath.Join(dir, "vectors")); tracked != want {
		t.Errorf("%d bytes tracked after CompleteJob, %d on disk", tracked, want)
	}
	s.Close()
	s, err = Open(ctx, dir, MaxBytes(base+room))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := s.files.Load(); got != tracked {
		t.Errorf("Open measured %d bytes, %d were tracked", got, tracked)
	}
	if err := s.DeleteModel(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if got := s.files.Load(); got != 0 {
		t.Errorf("%d bytes counted after the only model was deleted", got)
	}
	if err := s.CreateModel(ctx, storetest.NewModel(time.Second), nil); err != nil {
		t.Errorf("a model after room was made: %v", err)
	}
}

const diskFullEnv = "OPHICLEIDE_BOLT_DISK_FULL_DIR"

// TestDiskFull fills a real file system: a child process of this test, in
// a mount namespace of its own (and a user namespace when that is what
// allows it), mounts a 4 MiB tmpfs and runs diskFullChild on it. Skipped
// where neither namespace can be had.
func TestDiskFull(t *testing.T) {
	if dir := os.Getenv(diskFullEnv); dir != "" {
		diskFullChild(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a child process")
	}
	attrs := []*syscall.SysProcAttr{
		{Cloneflags: syscall.CLONE_NEWNS},
		{Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWUSER,
			UidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}},
			GidMappings:                []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}},
			GidMappingsEnableSetgroups: false},
	}
	var tried []string
	for _, attr := range attrs {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDiskFull$", "-test.v")
		cmd.Env = append(os.Environ(), diskFullEnv+"="+t.TempDir())
		cmd.SysProcAttr = attr
		out, err := cmd.CombinedOutput()
		if err != nil && (errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EINVAL) || bytes.Contains(out, []byte("mount tmpfs: "))) {
			tried = append(tried, fmt.Sprintf("%v %s", err, bytes.TrimSpace(out)))
			continue // no such namespace here
		}
		if err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		if !bytes.Contains(out, []byte("--- PASS: TestDiskFull")) {
			t.Fatalf("child did not pass:\n%s", out)
		}
		t.Logf("child:\n%s", out)
		return
	}
	t.Skipf("no mount namespace for a small tmpfs: %v", tried)
}

// diskFullChild: on a full file system every write is EFULL with words;
// the store stays usable and works again once there is room.
func diskFullChild(t *testing.T, dir string) {
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		t.Fatalf("mount tmpfs: make / private: %v", err)
	}
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=4m"); err != nil {
		t.Fatalf("mount tmpfs: %v", err)
	}
	defer syscall.Unmount(dir, syscall.MNT_DETACH)
	ctx := t.Context()
	s := open(t, dir)
	defer s.Close()
	m := storetest.NewModel(0)
	if err := s.CreateModel(ctx, m, nil); err != nil {
		t.Fatal(err)
	}

	// An upload larger than the disk.
	big := storetest.NewModel(time.Second)
	big.Uploads = []string{"big.txt"}
	err := s.CreateModel(ctx, big, map[string]io.Reader{"big.txt": bytes.NewReader(make([]byte, 8<<20))})
	wantFull(t, "an upload larger than the disk", err, "disk is full")
	if !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("%v does not wrap ENOSPC", err)
	}
	if _, err := s.FindModel(ctx, big.ID); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Errorf("the refused model was stored: %v", err)
	}

	// Fill the rest, then write queries until the query database's
	// commits meet the full disk.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := f.Write(make([]byte, 4096)); err != nil {
			break
		}
	}
	f.Close()
	results := make([]ophicleide.Result, 100)
	for i := range results {
		results[i] = ophicleide.Result{Word: strings.Repeat("w", 40) + fmt.Sprint(i), Score: 0.5}
	}
	var qerr error
	stored := 0
	for range 10000 {
		q := &ophicleide.Query{ID: storetest.NewID(), ModelID: m.ID, Word: "w", Results: results, Created: time.Now()}
		if qerr = s.CreateQuery(ctx, q); qerr != nil {
			break
		}
		stored++
	}
	wantFull(t, fmt.Sprintf("a query on a full disk (after %d stored)", stored), qerr, "disk is full")
	t.Logf("queries stored before the disk was full: %d; error: %v", stored, qerr)
	err = s.CreateModel(ctx, storetest.NewModel(2*time.Second), nil)
	if err != nil {
		wantFull(t, "a model on a full disk", err, "disk is full")
	}

	// Room again: the store works.
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	q := &ophicleide.Query{ID: storetest.NewID(), ModelID: m.ID, Word: "w", Created: time.Now()}
	if err := s.CreateQuery(ctx, q); err != nil {
		t.Fatalf("a query once there is room: %v", err)
	}
	if got, err := s.FindQuery(ctx, q.ID); err != nil || got.ID != q.ID {
		t.Fatalf("FindQuery once there is room: %v %v", got, err)
	}
	page, err := s.PageQueries(ctx, ophicleide.QueryFilter{Model: m.ID}, ophicleide.Page{Limit: ophicleide.MaxPageLimit})
	if err != nil || len(page.Queries) != min(stored+1, ophicleide.MaxPageLimit) {
		t.Fatalf("queries once there is room: %d, %v; want %d", len(page.Queries), err, stored+1)
	}
	s.Close()
	s = open(t, dir) // and opens again
}
