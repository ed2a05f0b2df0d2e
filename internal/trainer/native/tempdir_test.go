package native

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"github.com/ophicleide/ophicleide/internal/word2vec"
)

// TestTempDir: a run whose text does not fit in the memory limit beside
// the weights keeps it in TempDir and trains; a TempDir that cannot be
// written is an internal error whose message names no path.
func TestTempDir(t *testing.T) {
	text := strings.Repeat("the cat sat on the mat ", 500)
	p := ophicleide.Params{Dim: 10, MinCount: 1, Epochs: 1}
	// The weights take a few KB; the text's one block of ids 4 MiB.
	e := New(Config{Threads: 1, MemoryLimit: 4 << 20, TempDir: t.TempDir()})
	res, err := e.Train(context.Background(), trainer.Job{Params: p, Inputs: inputs(text)})
	if err != nil || res.Vectors.Len() != 5 {
		t.Fatalf("trained with the text on file: %v", err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	e = New(Config{Threads: 1, MemoryLimit: 4 << 20, TempDir: missing})
	_, err = e.Train(context.Background(), trainer.Job{Params: p, Inputs: inputs(text)})
	var ae *ophicleide.Error
	if !errors.As(err, &ae) || ae.Code != ophicleide.EINTERNAL || strings.Contains(ae.Message, missing) ||
		ae.Message != "the server could not keep the corpus on disk (creating the temporary file for the corpus: no such file or directory)" {
		t.Fatalf("unwritable temporary directory: %v", err)
	}
	// Without a memory limit nothing goes to the directory.
	if _, err := New(Config{Threads: 1, TempDir: missing}).Train(context.Background(), trainer.Job{Params: p, Inputs: inputs(text)}); err != nil {
		t.Fatalf("no memory limit: %v", err)
	}
}

// TestDiskFullIsEFULL: word2vec's full-disk error (made by hand: the real
// one needs a full filesystem, which word2vec's TestDiskFull mounts) is
// the server's EFULL with word2vec's message.
func TestDiskFullIsEFULL(t *testing.T) {
	err := failure(&word2vec.DiskSpaceError{Need: 3 << 30, Err: syscall.ENOSPC})
	var ae *ophicleide.Error
	if !errors.As(err, &ae) || ae.Code != ophicleide.EFULL || !errors.Is(err, syscall.ENOSPC) ||
		ae.Message != "the server ran out of room: not enough disk space in the temporary directory for the corpus (about 3 GiB needed); try again later or ask its operator" {
		t.Fatalf("got %v", err)
	}
}
