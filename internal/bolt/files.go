package bolt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/ophicleide/ophicleide"
	bbolt "go.etcd.io/bbolt"
)

func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

func randomSuffix() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// writeUploads writes the uploads, fsynced, to a new temporary directory
// under uploads/ and returns its path.
func (s *Store) writeUploads(ctx context.Context, id string, names []string, uploads map[string]io.Reader) (string, error) {
	tmp := filepath.Join(s.dir, "uploads", ".tmp-"+id+"-"+randomSuffix())
	if err := os.Mkdir(tmp, 0o755); err != nil {
		return "", err
	}
	for i, name := range names {
		if err := ctx.Err(); err != nil {
			s.removeAll(tmp)
			return "", err
		}
		if err := s.writeFile(filepath.Join(tmp, strconv.Itoa(i)), func(w io.Writer) error {
			_, err := io.Copy(w, uploads[name])
			return err
		}); err != nil {
			s.removeAll(tmp)
			return "", fmt.Errorf("upload %q: %w", name, err)
		}
	}
	if err := syncDir(tmp); err != nil {
		s.removeAll(tmp)
		return "", err
	}
	return tmp, nil
}

// move is a file moved to the trash.
type move struct{ from, to string }

// trash moves the paths that exist to the trash, inside the transaction
// that stops records pointing at them; emptyTrash removes them after the
// commit, untrash puts them back if it failed.
func (s *Store) trash(id string, paths ...string) ([]move, error) {
	var moved []move
	for _, from := range paths {
		to := filepath.Join(s.dir, "trash", id+"-"+randomSuffix())
		switch err := os.Rename(from, to); {
		case err == nil:
			moved = append(moved, move{from, to})
		case !errors.Is(err, fs.ErrNotExist):
			return moved, err
		}
	}
	return moved, nil
}

func untrash(moved []move) {
	for _, m := range moved {
		os.Rename(m.to, m.from)
	}
}

func (s *Store) emptyTrash(moved []move) error {
	var err error
	for _, m := range moved {
		if rerr := s.removeAll(m.to); err == nil {
			err = rerr
		}
	}
	return err
}

// OpenUpload reads an uploaded corpus file of a model, or returns
// ENOTFOUND. The caller closes it.
func (s *Store) OpenUpload(ctx context.Context, modelID, name string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	n := -1
	err := s.db.View(func(tx *bbolt.Tx) error {
		r, err := getModel(tx, modelID)
		if err != nil {
			return err
		}
		if n = slices.Index(r.Model.Uploads, name); n < 0 {
			return notFound("upload", name)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: open upload: %w", err)
	}
	f, err := os.Open(filepath.Join(s.dir, "uploads", modelID, strconv.Itoa(n)))
	if errors.Is(err, fs.ErrNotExist) { // deleted meanwhile
		return nil, fmt.Errorf("bolt: open upload: %w", notFound("upload", name))
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open upload: %w", err)
	}
	return f, nil
}

// PutVectors writes the vectors with write to a temporary file, fsyncs
// it, and, if l is still current, renames it over the model's vectors in
// the transaction that records them. If write fails, the error wraps
// write's and nothing changes.
func (s *Store) PutVectors(ctx context.Context, l *ophicleide.Lease, write func(io.Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// Fail early, before a long write, if the lease is already lost.
	if err := s.db.View(func(tx *bbolt.Tx) error {
		_, _, _, err := current(tx, l)
		return err
	}); err != nil {
		return fmt.Errorf("bolt: put vectors: %w", err)
	}
	dir := filepath.Join(s.dir, "vectors")
	tmp := filepath.Join(dir, l.ModelID+".bin."+randomSuffix()+".tmp")
	defer s.removeAll(tmp) // a no-op once renamed
	if err := s.writeFile(tmp, write); err != nil {
		return fileError("put vectors", err)
	}
	name := l.ModelID + ".bin"
	err := s.leased(ctx, l, func(tx *bbolt.Tx, _ []byte, _ *jobRecord, r *modelRecord) error {
		replaced := treeSize(filepath.Join(dir, name))
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return err
		}
		s.files.Add(-replaced)
		if err := syncDir(dir); err != nil {
			return err
		}
		r.Vectors = name
		r.Model.Updated = time.Now().Round(0)
		return putJSON(tx.Bucket(bucketModels), []byte(l.ModelID), r)
	})
	if err != nil {
		return fileError("put vectors", err)
	}
	return nil
}

// OpenVectors reads the vectors of a ready model, or returns ENOTFOUND.
// The caller closes it.
func (s *Store) OpenVectors(ctx context.Context, modelID string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var name string
	err := s.db.View(func(tx *bbolt.Tx) error {
		r, err := getModel(tx, modelID)
		if err != nil {
			return err
		}
		if r.Model.Status != ophicleide.StatusReady || r.Vectors == "" {
			return notFound("vectors of model", modelID)
		}
		name = r.Vectors
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: open vectors: %w", err)
	}
	f, err := os.Open(filepath.Join(s.dir, "vectors", name))
	if errors.Is(err, fs.ErrNotExist) { // deleted meanwhile
		return nil, fmt.Errorf("bolt: open vectors: %w", notFound("vectors of model", modelID))
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open vectors: %w", err)
	}
	return f, nil
}

var _ ophicleide.VectorVersioner = (*Store)(nil)

// VectorVersion implements ophicleide.VectorVersioner from the model's
// vectors file: its name (always ID.bin, replaced by a rename), size and
// modification time, which a replacement changes. The embedded store's
// vectors are local files already: nothing caches them, but the
// interface is the stores' to keep alike.
func (s *Store) VectorVersion(ctx context.Context, modelID string) (string, int64, error) {
	f, err := s.OpenVectors(ctx, modelID)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	fi, err := f.(*os.File).Stat()
	if err != nil {
		return "", 0, fmt.Errorf("bolt: vector version: %w", err)
	}
	return fmt.Sprintf("%s@%d", fi.Name(), fi.ModTime().UnixNano()), fi.Size(), nil
}

var _ ophicleide.IndexStore = (*Store)(nil)

// indexDir holds the models' approximate indexes, one file a model
// (ID.ann), apart from vectors/ so that the sweep of vectors no record
// names leaves them alone.
const indexDir = "index"

// PutIndex implements ophicleide.IndexStore: the index is written to a
// temporary file, fsynced, and renamed over the model's in a transaction
// that finds the model ready, so a DeleteModel (whose transaction moves
// the file to the trash) either comes after and removes it or came before
// and nothing is kept.
func (s *Store) PutIndex(ctx context.Context, modelID string, write func(io.Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	ready := func(tx *bbolt.Tx) error {
		r, err := getModel(tx, modelID)
		if err != nil {
			return err
		}
		if r.Model.Status != ophicleide.StatusReady || r.Vectors == "" {
			return notFound("vectors of model", modelID)
		}
		return nil
	}
	// Fail early, before a long write, if there is nothing to index.
	if err := s.db.View(ready); err != nil {
		return fmt.Errorf("bolt: put index: %w", err)
	}
	dir := filepath.Join(s.dir, indexDir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fileError("put index", err)
	}
	name := filepath.Join(dir, modelID+".ann")
	tmp := name + "." + randomSuffix() + ".tmp"
	defer s.removeAll(tmp) // a no-op once renamed
	if err := s.writeFile(tmp, write); err != nil {
		return fileError("put index", err)
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		if err := ready(tx); err != nil {
			return err
		}
		replaced := treeSize(name)
		if err := os.Rename(tmp, name); err != nil {
			return err
		}
		s.files.Add(-replaced)
		return syncDir(dir)
	})
	if err != nil {
		return fileError("put index", err)
	}
	return nil
}

// OpenIndex implements ophicleide.IndexStore: the model's index file,
// which ann.Load maps.
func (s *Store) OpenIndex(ctx context.Context, modelID string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		r, err := getModel(tx, modelID)
		if err != nil {
			return err
		}
		if r.Model.Status != ophicleide.StatusReady || r.Vectors == "" {
			return notFound("index of model", modelID)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: open index: %w", err)
	}
	f, err := os.Open(filepath.Join(s.dir, indexDir, modelID+".ann"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("bolt: open index: %w", notFound("index of model", modelID))
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open index: %w", err)
	}
	return f, nil
}
