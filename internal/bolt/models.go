package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ophicleide/ophicleide"
	bbolt "go.etcd.io/bbolt"
)

// endedKey is the meta key counting the models in an ended status.
func endedKey(st ophicleide.Status) []byte { return []byte("ended:" + string(st)) }

// addEnded adds d to the count of models in status st, if st is an ended
// status.
func addEnded(tx *bbolt.Tx, st ophicleide.Status, d int) error {
	if st != ophicleide.StatusReady && st != ophicleide.StatusFailed {
		return nil
	}
	meta := tx.Bucket(bucketMeta)
	var n uint64
	if v := meta.Get(endedKey(st)); len(v) == 8 {
		n = binary.BigEndian.Uint64(v)
	}
	n = uint64(max(int64(n)+int64(d), 0))
	return meta.Put(endedKey(st), binary.BigEndian.AppendUint64(nil, n))
}

// putModelIndex records a new model in models-by-time.
func putModelIndex(tx *bbolt.Tx, m *ophicleide.Model) error {
	return tx.Bucket(bucketModelsByTime).Put(timeKey(m.Created, m.ID), []byte{})
}

func getModel(tx *bbolt.Tx, id string) (*modelRecord, error) {
	var r modelRecord
	ok, err := getJSON(tx.Bucket(bucketModels), []byte(id), &r)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, notFound("model", id)
	}
	return &r, nil
}

// CreateModel stores a copy of m with status queued, its uploads and its
// job. It returns EINVALID if the ID cannot name a model or uploads does
// not hold exactly the names in m.Uploads, and ECONFLICT if the ID exists.
// m and the readers are not kept.
func (s *Store) CreateModel(ctx context.Context, m *ophicleide.Model, uploads map[string]io.Reader) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ophicleide.CheckModelID(m.ID); err != nil {
		return err
	}
	if err := ophicleide.CheckUploads(m.Uploads, uploads); err != nil {
		return err
	}
	if err := s.checkSpace(); err != nil {
		return fmt.Errorf("bolt: create model: %w", err)
	}
	model := *m
	model.Status = ophicleide.StatusQueued
	rec := modelRecord{Model: &model}

	// Uploads go to a temporary directory first; the transaction that
	// stores the record renames it into place.
	var tmp string
	if len(m.Uploads) > 0 {
		var err error
		if tmp, err = s.writeUploads(ctx, m.ID, m.Uploads, uploads); err != nil {
			return fileError("create model", err)
		}
		defer s.removeAll(tmp) // a no-op once renamed
	}
	final := filepath.Join(s.dir, "uploads", m.ID)
	renamed := false
	err := s.db.Update(func(tx *bbolt.Tx) error {
		models := tx.Bucket(bucketModels)
		if models.Get([]byte(m.ID)) != nil {
			return ophicleide.Errorf(ophicleide.ECONFLICT, "model %q exists", m.ID)
		}
		if err := putJSON(models, []byte(m.ID), &rec); err != nil {
			return err
		}
		if err := putModelIndex(tx, m); err != nil {
			return err
		}
		job := jobRecord{ModelID: m.ID}
		if err := putJSON(tx.Bucket(bucketJobs), timeKey(m.Created, m.ID), &job); err != nil {
			return err
		}
		if tmp == "" {
			return nil
		}
		// Left over by a crash between a deletion's commit and its cleanup.
		if err := s.removeAll(final); err != nil {
			return err
		}
		if err := os.Rename(tmp, final); err != nil {
			return err
		}
		renamed = true
		return syncDir(filepath.Dir(final))
	})
	if err != nil {
		if renamed {
			s.removeAll(final) // the commit failed after the rename
		}
		return fileError("create model", err)
	}
	return nil
}

// ImportModel stores a copy of m as a ready model with the vectors write
// writes, and no job. The vectors file is written and synced before the
// transaction that records it; a crash in between leaves a file no record
// points at, which Open removes.
func (s *Store) ImportModel(ctx context.Context, m *ophicleide.Model, write func(io.Writer) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ophicleide.CheckModelID(m.ID); err != nil {
		return err
	}
	if err := s.checkSpace(); err != nil {
		return fmt.Errorf("bolt: import model: %w", err)
	}
	// Checked before write (which may read a long upload) and again in
	// the transaction that stores m.
	if err := s.db.View(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketModels).Get([]byte(m.ID)) != nil {
			return ophicleide.Errorf(ophicleide.ECONFLICT, "model %q exists", m.ID)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("bolt: import model: %w", err)
	}
	dir := filepath.Join(s.dir, "vectors")
	tmp := filepath.Join(dir, m.ID+".bin."+randomSuffix()+".tmp")
	defer s.removeAll(tmp) // a no-op once renamed
	if err := s.writeFile(tmp, write); err != nil {
		return fileError("import model", err)
	}
	name := m.ID + ".bin"
	model := *m
	model.Status = ophicleide.StatusReady
	rec := modelRecord{Model: &model, Vectors: name}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		models := tx.Bucket(bucketModels)
		if models.Get([]byte(m.ID)) != nil {
			return ophicleide.Errorf(ophicleide.ECONFLICT, "model %q exists", m.ID)
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return err
		}
		if err := syncDir(dir); err != nil {
			return err
		}
		if err := putModelIndex(tx, m); err != nil {
			return err
		}
		if err := addEnded(tx, ophicleide.StatusReady, 1); err != nil {
			return err
		}
		return putJSON(models, []byte(m.ID), &rec)
	})
	if err != nil {
		return fileError("import model", err)
	}
	return nil
}

// importingKey is the meta key that marks a model importing: CountModels
// and FailStaleImports find them without reading every model.
func importingKey(id string) []byte { return []byte("importing:" + id) }

const importingPrefix = "importing:"

// BeginImport stores a copy of m as importing, with no job and no
// vectors.
func (s *Store) BeginImport(ctx context.Context, m *ophicleide.Model) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ophicleide.CheckModelID(m.ID); err != nil {
		return err
	}
	if err := s.checkSpace(); err != nil {
		return fmt.Errorf("bolt: begin import: %w", err)
	}
	model := *m
	model.Status = ophicleide.StatusImporting
	err := s.db.Update(func(tx *bbolt.Tx) error {
		models := tx.Bucket(bucketModels)
		if models.Get([]byte(m.ID)) != nil {
			return ophicleide.Errorf(ophicleide.ECONFLICT, "model %q exists", m.ID)
		}
		if err := putJSON(models, []byte(m.ID), &modelRecord{Model: &model}); err != nil {
			return err
		}
		if err := putModelIndex(tx, m); err != nil {
			return err
		}
		return tx.Bucket(bucketMeta).Put(importingKey(m.ID), []byte{})
	})
	if err != nil {
		return fileError("begin import", err)
	}
	return nil
}

// importing returns the record of the importing model id.
func importing(tx *bbolt.Tx, id string) (*modelRecord, error) {
	r, err := getModel(tx, id)
	if err != nil {
		return nil, err
	}
	if r.Model.Status != ophicleide.StatusImporting {
		return nil, ophicleide.Errorf(ophicleide.ECONFLICT, "model %q is not importing (status %s)", r.Model.Name, r.Model.Status)
	}
	return r, nil
}

// SetImportProgress stores p as the progress of the importing model id.
func (s *Store) SetImportProgress(ctx context.Context, id string, p ophicleide.Progress) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		r, err := importing(tx, id)
		if err != nil {
			return err
		}
		r.Model.Progress = &p
		r.Model.Updated = time.Now().Round(0)
		return putJSON(tx.Bucket(bucketModels), []byte(id), r)
	})
	if err != nil {
		return fileError("import progress", err)
	}
	return nil
}

// EndImport writes the vectors to a temporary file and synced, then, in
// one transaction, renames it into place and stores m as ready; or stores
// the model failed when write fails.
func (s *Store) EndImport(ctx context.Context, m *ophicleide.Model, write func(io.Writer) error) error {
	if err := s.db.View(func(tx *bbolt.Tx) error { _, err := importing(tx, m.ID); return err }); err != nil {
		return fmt.Errorf("bolt: end import: %w", err)
	}
	dir := filepath.Join(s.dir, "vectors")
	tmp := filepath.Join(dir, m.ID+".bin."+randomSuffix()+".tmp")
	defer s.removeAll(tmp) // a no-op once renamed
	if werr := s.writeFile(tmp, write); werr != nil {
		reason := ophicleide.ErrorMessage(diskError(werr))
		err := s.db.Update(func(tx *bbolt.Tx) error {
			r, err := importing(tx, m.ID)
			if err != nil {
				return err
			}
			r.Model.Status, r.Model.Error, r.Model.Progress = ophicleide.StatusFailed, reason, nil
			r.Model.Updated = time.Now().Round(0)
			if err := tx.Bucket(bucketMeta).Delete(importingKey(m.ID)); err != nil {
				return err
			}
			if err := addEnded(tx, ophicleide.StatusFailed, 1); err != nil {
				return err
			}
			return putJSON(tx.Bucket(bucketModels), []byte(m.ID), r)
		})
		if err != nil && ophicleide.ErrorCode(err) == ophicleide.EINTERNAL {
			return fileError("end import", errors.Join(werr, err))
		}
		return fileError("end import", werr)
	}
	name := m.ID + ".bin"
	model := *m
	model.Status, model.Progress, model.Error = ophicleide.StatusReady, nil, ""
	model.Updated = time.Now().Round(0)
	err := s.db.Update(func(tx *bbolt.Tx) error {
		r, err := importing(tx, m.ID)
		if err != nil {
			return err
		}
		model.Created = r.Model.Created // the index's key
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return err
		}
		if err := syncDir(dir); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Delete(importingKey(m.ID)); err != nil {
			return err
		}
		if err := addEnded(tx, ophicleide.StatusReady, 1); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketModels), []byte(m.ID), &modelRecord{Model: &model, Vectors: name})
	})
	if err != nil {
		return fileError("end import", err)
	}
	return nil
}

// FailStaleImports fails the importing models last updated before
// before: one transaction over the importing marks.
func (s *Store) FailStaleImports(ctx context.Context, before time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		var ids []string
		c := meta.Cursor()
		for k, _ := c.Seek([]byte(importingPrefix)); k != nil && bytes.HasPrefix(k, []byte(importingPrefix)); k, _ = c.Next() {
			ids = append(ids, string(k[len(importingPrefix):]))
		}
		now := time.Now().Round(0)
		for _, id := range ids {
			r, err := getModel(tx, id)
			if ophicleide.ErrorCode(err) == ophicleide.ENOTFOUND || err == nil && r.Model.Status != ophicleide.StatusImporting {
				if err := meta.Delete(importingKey(id)); err != nil { // a stray mark
					return err
				}
				continue
			}
			if err != nil {
				return err
			}
			if !r.Model.Updated.Before(before) {
				continue
			}
			r.Model.Status, r.Model.Error, r.Model.Progress, r.Model.Updated = ophicleide.StatusFailed, ophicleide.ImportInterrupted, nil, now
			if err := meta.Delete(importingKey(id)); err != nil {
				return err
			}
			if err := addEnded(tx, ophicleide.StatusFailed, 1); err != nil {
				return err
			}
			if err := putJSON(tx.Bucket(bucketModels), []byte(id), r); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fileError("fail stale imports", err)
	}
	return n, nil
}

// FindModel returns the model, or ENOTFOUND.
func (s *Store) FindModel(ctx context.Context, id string) (*ophicleide.Model, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var m *ophicleide.Model
	err := s.db.View(func(tx *bbolt.Tx) error {
		r, err := getModel(tx, id)
		if err == nil {
			m = r.Model
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: find model: %w", err)
	}
	return m, nil
}

// PageModels returns one page of the models, newest first (ties by
// descending ID): a seek in models-by-time and p.Limit reads.
func (s *Store) PageModels(ctx context.Context, p ophicleide.Page) (*ophicleide.ModelPage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit, after, err := p.Parse()
	if err != nil {
		return nil, err
	}
	page := &ophicleide.ModelPage{Models: []*ophicleide.Model{}}
	err = s.db.View(func(tx *bbolt.Tx) error {
		models := tx.Bucket(bucketModels)
		next, err := walkBack(tx.Bucket(bucketModelsByTime), after, limit, func(k []byte) error {
			var r modelRecord
			ok, err := getJSON(models, k[12:], &r)
			if ok {
				page.Models = append(page.Models, r.Model)
			}
			return err
		})
		page.Next = next
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: list models: %w", err)
	}
	return page, nil
}

// CountModels counts the models by status: the ended ones from counts
// kept in meta, the others from the unfinished jobs (queued: not leased;
// training: leased), whose models it reads for their speed.
func (s *Store) CountModels(ctx context.Context) (*ophicleide.ModelCounts, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	c := &ophicleide.ModelCounts{ByStatus: map[ophicleide.Status]int{
		ophicleide.StatusQueued: 0, ophicleide.StatusTraining: 0, ophicleide.StatusReady: 0, ophicleide.StatusFailed: 0,
		ophicleide.StatusImporting: 0,
	}}
	err := s.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
		cur := meta.Cursor()
		for k, _ := cur.Seek([]byte(importingPrefix)); k != nil && bytes.HasPrefix(k, []byte(importingPrefix)); k, _ = cur.Next() {
			c.ByStatus[ophicleide.StatusImporting]++
		}
		for _, st := range []ophicleide.Status{ophicleide.StatusReady, ophicleide.StatusFailed} {
			if v := meta.Get(endedKey(st)); len(v) == 8 {
				c.ByStatus[st] = int(binary.BigEndian.Uint64(v))
			}
		}
		return tx.Bucket(bucketJobs).ForEach(func(k, v []byte) error {
			var j jobRecord
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("decode job %x: %w", k, err)
			}
			if !j.Leased {
				c.ByStatus[ophicleide.StatusQueued]++
				return nil
			}
			c.ByStatus[ophicleide.StatusTraining]++
			r, err := getModel(tx, j.ModelID)
			if err == nil && r.Model.Progress != nil {
				c.WordsPerSecond += r.Model.Progress.WordsPerSecond
			}
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: count models: %w", err)
	}
	return c, nil
}

// DeleteModel removes the model, its job, uploads, vectors and queries,
// or returns ENOTFOUND. The holder of the job's lease loses it. The
// queries are removed after the model's commit (a crash in between
// leaves them to Open's sweep).
func (s *Store) DeleteModel(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The files are moved to the trash inside the transaction, so that a
	// model created again with the same ID cannot lose its new files, and
	// removed after the commit.
	var moved []move
	err := s.db.Update(func(tx *bbolt.Tx) error {
		r, err := getModel(tx, id)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketModels).Delete([]byte(id)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketJobs).Delete(timeKey(r.Model.Created, id)); err != nil {
			return err
		}
		if err := tx.Bucket(bucketModelsByTime).Delete(timeKey(r.Model.Created, id)); err != nil {
			return err
		}
		if err := addEnded(tx, r.Model.Status, -1); err != nil {
			return err
		}
		if err := tx.Bucket(bucketMeta).Delete(importingKey(id)); err != nil {
			return err
		}
		moved, err = s.trash(id, filepath.Join(s.dir, "vectors", id+".bin"), filepath.Join(s.dir, "uploads", id),
			filepath.Join(s.dir, indexDir, id+".ann"))
		return err
	})
	if err != nil {
		untrash(moved)
		return fileError("delete model", err)
	}
	err = s.qdb.Update(func(tx *bbolt.Tx) error { return deleteModelQueries(tx, id) })
	if rerr := s.emptyTrash(moved); err == nil {
		err = rerr
	}
	if err != nil {
		return fileError("delete model", err)
	}
	return nil
}

// Usage counts the models of owner queued or training and the bytes of
// their files (uploads still kept, vectors): a walk of the models bucket
// (models are few) and a stat of the files of the owner's.
func (s *Store) Usage(ctx context.Context, owner string) (ophicleide.Usage, error) {
	var u ophicleide.Usage
	if err := ctx.Err(); err != nil {
		return u, err
	}
	var ids []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketModels).ForEach(func(k, v []byte) error {
			var r struct {
				Model struct {
					Owner  string            `json:"owner"`
					Status ophicleide.Status `json:"status"`
				} `json:"model"`
			}
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode model %s: %w", k, err)
			}
			if r.Model.Owner != owner {
				return nil
			}
			if st := r.Model.Status; st == ophicleide.StatusQueued || st == ophicleide.StatusTraining {
				u.Active++
			}
			ids = append(ids, string(k))
			return nil
		})
	})
	if err != nil {
		return ophicleide.Usage{}, fmt.Errorf("bolt: usage: %w", err)
	}
	for _, id := range ids {
		u.Bytes += treeSize(filepath.Join(s.dir, "vectors", id+".bin")) + treeSize(filepath.Join(s.dir, "uploads", id))
	}
	return u, nil
}

// SetEvaluation stores e as the evaluation of the ready model id.
func (s *Store) SetEvaluation(ctx context.Context, id string, e *ophicleide.Evaluation) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		r, err := getModel(tx, id)
		if err != nil {
			return err
		}
		if r.Model.Status != ophicleide.StatusReady {
			return ophicleide.Errorf(ophicleide.ECONFLICT, "model %q is not ready (status %s): it has no vectors to evaluate", r.Model.Name, r.Model.Status)
		}
		r.Model.Evaluation = e
		r.Model.Updated = time.Now().Round(0)
		return putJSON(tx.Bucket(bucketModels), []byte(id), r)
	})
	if err != nil {
		return fileError("set evaluation", err)
	}
	return nil
}
