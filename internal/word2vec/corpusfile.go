package word2vec

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/ophicleide/ophicleide/internal/bytesize"
)

// The stored corpus on disk. When the corpus as word ids would not fit in
// Config.MemoryLimit beside the weights (or with Config.DiskCorpus), the
// counting pass writes it to a temporary file in Config.TempDir and
// training reads it through a shared read-write mapping (corpusfile_unix.go).
// The file is unlinked as soon as it is created, so it never has a name a
// crash could leave behind: its space is freed when the store is closed
// (Train and Estimate close it when they return), or at the latest when the
// process exits. A file in page cache trains as fast as memory: the
// trainer reads the same blocks through the same index.

// DiskSpaceError is returned when the temporary directory has no room
// left for the stored corpus (ENOSPC or EDQUOT while writing it). Need is
// an estimate of the room the whole corpus needs: from the share of the
// input read when its size is known (Config.InputBytes), else a lower
// bound (AtLeast).
type DiskSpaceError struct {
	Need    int64
	AtLeast bool
	Err     error // the system's error, without the file's path
}

func (e *DiskSpaceError) Error() string {
	about := "about "
	if e.AtLeast {
		about = "more than "
	}
	return fmt.Sprintf("not enough disk space in the temporary directory for the corpus (%s%s needed)", about, bytesize.Format(e.Need))
}

func (e *DiskSpaceError) Unwrap() error { return e.Err }

// CorpusFileError is any other failure of the stored corpus's temporary
// file: creating it (a missing or read-only directory), writing or mapping
// it. Its message names what failed and the system's reason, never the
// path, which is the server's business.
type CorpusFileError struct {
	Op  string // "creating", "writing", "mapping"
	Err error  // without the path
}

func (e *CorpusFileError) Error() string {
	return fmt.Sprintf("%s the temporary file for the corpus: %v", e.Op, e.Err)
}

func (e *CorpusFileError) Unwrap() error { return e.Err }

// fileError wraps err, of op on the corpus file, as a *DiskSpaceError for
// a full disk or quota and a *CorpusFileError otherwise, dropping any path
// (*fs.PathError).
func fileError(op string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return &DiskSpaceError{Err: err}
	}
	return &CorpusFileError{Op: op, Err: err}
}

// tempDir is the directory of the corpus file for dir ("" is the system's).
func tempDir(dir string) string {
	if dir == "" {
		return os.TempDir()
	}
	return dir
}
