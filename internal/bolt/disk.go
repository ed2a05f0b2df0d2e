package bolt

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/ophicleide/ophicleide/internal/bytesize"

	"github.com/ophicleide/ophicleide"
)

// Disk space. A write the disk refuses (ENOSPC, EDQUOT: from a file's
// write or sync, or from a bbolt commit) is EFULL with words, never a bare
// internal error. With MaxBytes, the data directory (vectors, uploads and
// both databases) is also kept under a limit: its size is measured at
// Open and tracked in memory as files are written and removed, so a check
// is two stats of the database files, not a walk of the directory.

// MaxBytes limits the data directory to n bytes (n <= 0: no limit, the
// default): a write that would take it beyond fails with EFULL, and so do
// new models and queries once it is there. Progress, claims and the end
// of jobs are never refused, so that a job can still fail or finish.
func MaxBytes(n int64) Option { return func(o *options) { o.maxBytes = n } }

// createFile creates a file to be written: os.OpenFile, except in the test
// that makes it /dev/full, whose writes fail with ENOSPC in the kernel.
var createFile = func(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
}

// diskError gives a write the disk refused the code EFULL and a message
// that says so; other errors pass unchanged.
func diskError(err error) error {
	var e *ophicleide.Error
	switch {
	case err == nil, errors.As(err, &e) && e.Code == ophicleide.EFULL:
		return err
	case errors.Is(err, syscall.ENOSPC):
		return &ophicleide.Error{Code: ophicleide.EFULL, Err: err,
			Message: "the server's disk is full (no space left on device): nothing was stored; free space or delete models, then retry"}
	case errors.Is(err, syscall.EDQUOT):
		return &ophicleide.Error{Code: ophicleide.EFULL, Err: err,
			Message: "the server's disk quota is used up: nothing was stored; free space or delete models, then retry"}
	}
	return err
}

// limitError is the error of a write beyond MaxBytes.
func (s *Store) limitError() error {
	return ophicleide.Errorf(ophicleide.EFULL, "the data directory has reached its limit of %s: nothing was stored; delete models or raise the limit, then retry", bytesize.Format(s.maxBytes))
}

// used is the size of the data directory as tracked: files plus the two
// database files.
func (s *Store) used() int64 {
	n := s.files.Load()
	for _, name := range []string{DBFile, QueriesFile} {
		if fi, err := os.Stat(filepath.Join(s.dir, name)); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// checkSpace refuses new data once the data directory is at its limit.
func (s *Store) checkSpace() error {
	if s.maxBytes > 0 && s.used() >= s.maxBytes {
		return s.limitError()
	}
	return nil
}

// treeSize is the size of the regular files under path (0 if it is gone).
func treeSize(path string) int64 {
	var n int64
	filepath.WalkDir(path, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// removeAll removes path and forgets its bytes.
func (s *Store) removeAll(path string) error {
	n := treeSize(path)
	err := os.RemoveAll(path)
	if err == nil {
		s.files.Add(-n)
	}
	return err
}

// limitedWriter counts what it writes into the store's files, and fails
// a write that would take the data directory beyond MaxBytes.
type limitedWriter struct {
	s *Store
	w io.Writer
	n int64 // written
}

func (w *limitedWriter) Write(p []byte) (int, error) {
	if w.s.maxBytes > 0 && w.s.used()+int64(len(p)) > w.s.maxBytes {
		return 0, w.s.limitError()
	}
	n, err := w.w.Write(p)
	w.n += int64(n)
	w.s.files.Add(int64(n))
	return n, err
}

// writeFile creates path, fills it with write and fsyncs it. On failure
// the file is removed.
func (s *Store) writeFile(path string, write func(io.Writer) error) error {
	f, err := createFile(path)
	if err != nil {
		return diskError(err)
	}
	lw := &limitedWriter{s: s, w: f}
	err = write(lw)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		s.files.Add(-lw.n)
		return diskError(err)
	}
	return nil
}

// fileError wraps the error of a write whose cause the caller's writer
// may have hidden: the disk's answer is kept in the chain with %w.
func fileError(op string, err error) error {
	return fmt.Errorf("bolt: %s: %w", op, diskError(err))
}
