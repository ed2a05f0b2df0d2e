package bolt

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ophicleide/ophicleide"
	bbolt "go.etcd.io/bbolt"
)

// schemaVersion is stored in the meta bucket; Open upgrades version 1
// (no models-by-time index, no counts) and refuses other versions.
const schemaVersion = "2"

// openTimeout bounds the wait for the database file's lock: a second
// process opening the same directory fails after it instead of hanging.
var openTimeout = time.Second

// Open opens the store in dir, creating the directory and the database if
// they are missing, and removes files left over by a crash. It fails with
// EUNAVAILABLE if another process has the directory open.
func Open(ctx context.Context, dir string, opts ...Option) (*Store, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	o := options{maxQueries: ophicleide.DefaultMaxQueries}
	for _, opt := range opts {
		opt(&o)
	}
	for _, d := range []string{dir, filepath.Join(dir, "vectors"), filepath.Join(dir, "uploads"), filepath.Join(dir, "trash"), filepath.Join(dir, indexDir)} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("bolt: open: %w", err)
		}
	}
	db, err := bbolt.Open(filepath.Join(dir, DBFile), 0o600, &bbolt.Options{Timeout: openTimeout})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, &ophicleide.Error{
			Code:    ophicleide.EUNAVAILABLE,
			Message: fmt.Sprintf("data directory %s is in use by another process", dir),
			Err:     err,
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open %s: %w", dir, err)
	}
	s := &Store{dir: dir, db: db, maxQueries: max(o.maxQueries, 0), maxBytes: max(o.maxBytes, 0)}
	if s.qdb, err = openQueries(dir); err != nil {
		db.Close()
		return nil, err
	}
	err = s.update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bucketModels, bucketModelsByTime, bucketQueries, bucketJobs, bucketMeta} {
			if tx.Bucket(name) != nil {
				continue
			}
			if _, err := tx.CreateBucket(name); err != nil {
				return err
			}
		}
		meta := tx.Bucket(bucketMeta)
		switch v := meta.Get(keyVersion); {
		case v == nil:
			return meta.Put(keyVersion, []byte(schemaVersion))
		case string(v) == "1":
			if err := indexModels(tx); err != nil {
				return fmt.Errorf("upgrade from schema version 1: %w", err)
			}
			return meta.Put(keyVersion, []byte(schemaVersion))
		case string(v) != schemaVersion:
			return fmt.Errorf("schema version %q, this program knows %q", v, schemaVersion)
		}
		return nil
	})
	if err == nil {
		err = s.moveQueries()
	}
	if err == nil {
		err = s.sweep()
	}
	if err == nil && s.maxQueries > 0 {
		_, err = s.TrimQueries(ctx, s.maxQueries)
	}
	s.files.Store(treeSize(filepath.Join(dir, "vectors")) + treeSize(filepath.Join(dir, "uploads")) + treeSize(filepath.Join(dir, indexDir)))
	if err != nil {
		db.Close()
		s.qdb.Close()
		return nil, fmt.Errorf("bolt: open %s: %w", dir, err)
	}
	return s, nil
}

// update runs fn in a read-write transaction of the main database only if
// a read-only run of fn (whose writes fail with bbolt.ErrTxNotWritable)
// needed to write: opening an unchanged store commits (and fsyncs)
// nothing.
func (s *Store) update(fn func(tx *bbolt.Tx) error) error {
	err := s.db.View(fn)
	if errors.Is(err, bbolt.ErrTxNotWritable) {
		err = s.db.Update(fn)
	}
	return err
}

// Close closes the databases. Calling it again is a no-op.
func (s *Store) Close() error {
	err := s.qdb.Close()
	if err2 := s.db.Close(); err2 != nil {
		err = err2
	}
	if err != nil {
		return fmt.Errorf("bolt: close: %w", err)
	}
	return nil
}

// sweep removes what a crash may have left: the trash, temporary files,
// and vectors, uploads and indexes that no model record points at.
func (s *Store) sweep() error {
	vectors := map[string]bool{}
	models := map[string]bool{}
	unfinished := map[string]bool{} // whose uploads a job still needs
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketModels).ForEach(func(k, v []byte) error {
			var r modelRecord
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("model %s: %w", k, err)
			}
			models[string(k)] = true
			if st := r.Model.Status; st == ophicleide.StatusQueued || st == ophicleide.StatusTraining {
				unfinished[string(k)] = true
			}
			if r.Vectors != "" {
				vectors[r.Vectors] = true
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	clean := func(sub string, keep func(name string) bool) error {
		entries, err := os.ReadDir(filepath.Join(s.dir, sub))
		if err != nil {
			return err
		}
		for _, e := range entries {
			if !keep(e.Name()) {
				if err := os.RemoveAll(filepath.Join(s.dir, sub, e.Name())); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if err := clean("trash", func(string) bool { return false }); err != nil {
		return err
	}
	if err := clean("vectors", func(name string) bool { return vectors[name] }); err != nil {
		return err
	}
	if err := clean("uploads", func(name string) bool { return unfinished[name] }); err != nil {
		return err
	}
	// Indexes of ready models only (a crash mid-PutIndex leaves a
	// temporary file; one between DeleteModel's commit and its trash, an
	// orphan).
	if err := clean(indexDir, func(name string) bool {
		id, ok := strings.CutSuffix(name, ".ann")
		return ok && models[id] && vectors[id+".bin"]
	}); err != nil {
		return err
	}
	return s.sweepQueries(models)
}

// indexModels fills models-by-time and the counts of ended models for a
// database written by schema version 1.
func indexModels(tx *bbolt.Tx) error {
	ended := map[ophicleide.Status]uint64{}
	byTime := tx.Bucket(bucketModelsByTime)
	err := tx.Bucket(bucketModels).ForEach(func(k, v []byte) error {
		var r modelRecord
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("model %s: %w", k, err)
		}
		ended[r.Model.Status]++
		return byTime.Put(timeKey(r.Model.Created, string(k)), []byte{})
	})
	if err != nil {
		return err
	}
	meta := tx.Bucket(bucketMeta)
	for _, st := range []ophicleide.Status{ophicleide.StatusReady, ophicleide.StatusFailed} {
		if err := meta.Put(endedKey(st), binary.BigEndian.AppendUint64(nil, ended[st])); err != nil {
			return err
		}
	}
	return nil
}
