package http

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CleanStaleMultipartFiles removes the files that net/http's multipart
// parser left in dir (os.TempDir() for the server's uploads) when a
// process was killed while a large upload was spooled to disk: regular
// files named multipart-* last modified more than olderThan ago. A file
// being written now is younger (its modification time moves with every
// write), so another process uploading at the same time keeps its file
// as long as olderThan is longer than an upload takes to arrive (an hour
// is). It returns how many files it removed; a file that vanishes
// meanwhile is not an error.
func CleanStaleMultipartFiles(dir string, olderThan time.Duration) (int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	cutoff := time.Now().Add(-olderThan)
	removed := 0
	var errs []error
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "multipart-") || !e.Type().IsRegular() {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue // gone meanwhile, or recent
		}
		switch err := os.Remove(filepath.Join(dir, e.Name())); {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist):
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}
