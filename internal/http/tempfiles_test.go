package http

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestCleanStaleMultipartFiles: files a killed process left (multipart-*,
// older than the limit) go; a recent one (an upload in progress in another
// process), other names and directories stay.
func TestCleanStaleMultipartFiles(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-2 * time.Hour)
	write := func(name string, mtime time.Time) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("spooled upload"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	write("multipart-123456", old)
	write("multipart-999", old)
	write("multipart-uploading-now", time.Now())
	write("multipart-almost", time.Now().Add(-59*time.Minute))
	write("other-123", old)
	write("notmultipart-1", old)
	if err := os.Mkdir(filepath.Join(dir, "multipart-dir"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(filepath.Join(dir, "multipart-dir"), old, old); err != nil {
		t.Fatal(err)
	}
	n, err := CleanStaleMultipartFiles(dir, time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("CleanStaleMultipartFiles = %d, %v; want 2", n, err)
	}
	for name, want := range map[string]bool{
		"multipart-123456": false, "multipart-999": false, "multipart-uploading-now": true, "multipart-almost": true,
		"other-123": true, "notmultipart-1": true, "multipart-dir": true,
	} {
		_, err := os.Stat(filepath.Join(dir, name))
		if got := err == nil; got != want {
			t.Errorf("%s: kept %v, want %v", name, got, want)
		}
	}
	if n, err := CleanStaleMultipartFiles(dir, time.Hour); err != nil || n != 0 {
		t.Errorf("again: %d, %v", n, err)
	}
	if _, err := CleanStaleMultipartFiles(filepath.Join(dir, "missing"), time.Hour); err == nil {
		t.Error("a missing directory gave no error")
	}
}
