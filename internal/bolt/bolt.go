// Package bolt is the embedded store of Ophicleide: models, queries and the
// training job queue in one bbolt file, and the large blobs (uploaded
// corpora, trained vectors) as plain files beside it, all in one data
// directory that one process owns at a time:
//
//	<dir>/ophicleide.db             buckets models, models-by-time, jobs, meta (JSON values)
//	<dir>/queries.db                the query history, with indexes by time and by model (queries.go)
//	<dir>/vectors/<modelID>.bin     a model's vectors as the caller writes them (vectors.Compact)
//	<dir>/uploads/<modelID>/<n>     the n-th upload of a model (0-based, as in Model.Uploads),
//	                                kept while its job is unfinished (a retry reads it again)
//	<dir>/trash/                    files of deleted models, emptied after the commit
//
// Every change is one bbolt read-write transaction, which bbolt fsyncs
// before it returns, so a crash keeps every committed change and none of an
// uncommitted one. The query history is the exception: it lives in a
// database of its own that is written without fsync (NoSync), because an
// fsync per POST /queries costs ~3 ms here, most of that request's time.
// A killed process loses nothing (written pages are in the OS cache); an
// operating-system crash or power cut may lose the last queries or, in the
// worst case, damage queries.db, which Open then reports; deleting that
// file loses only the history. Files are written to a temporary name, fsynced, renamed
// into place and their directory fsynced inside the transaction that makes
// a record point at them; files left over by a crash (temporary files,
// files no record points at, uploads of models that ended) are removed by
// Open. Writes the disk refuses, and writes beyond MaxBytes, are EFULL
// (disk.go).
//
// Jobs are keyed by their model's creation time and ID, so a cursor meets
// the oldest first; a claim finds and leases a job in one transaction.
// The index models-by-time has the same keys for every model, so a page
// of models is a seek; meta counts the models that ended, by status, so
// CountModels reads only the unfinished jobs.
package bolt

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/ophicleide/ophicleide"
	bbolt "go.etcd.io/bbolt"
)

var _ ophicleide.Store = (*Store)(nil)

// DBFile is the name of the database file inside the data directory.
const DBFile = "ophicleide.db"

// QueriesFile is the name of the query history's database file.
const QueriesFile = "queries.db"

// schemaVersion is stored in the meta bucket; Open upgrades version 1
// (no models-by-time index, no counts) and refuses other versions.
const schemaVersion = "2"

// openTimeout bounds the wait for the database file's lock: a second
// process opening the same directory fails after it instead of hanging.
var openTimeout = time.Second

var (
	bucketModels       = []byte("models")
	bucketModelsByTime = []byte("models-by-time")
	bucketQueries      = []byte("queries")
	bucketJobs         = []byte("jobs")
	bucketMeta         = []byte("meta")
	keyVersion         = []byte("version")
)

// endedKey is the meta key counting the models in an ended status.
func endedKey(st ophicleide.Status) []byte { return []byte("ended:" + string(st)) }

// Store is the embedded store. Create it with Open; it is safe for
// concurrent use by many goroutines of one process.
type Store struct {
	dir string
	db  *bbolt.DB // models, jobs, meta: fsynced on every commit
	qdb *bbolt.DB // the query history: not fsynced (see the package doc)

	maxQueries int   // 0: no cap
	maxBytes   int64 // 0: no limit on the data directory
	// files is the size of the files under vectors/ and uploads/ (and
	// trash/ until emptied), measured by Open and tracked since.
	files atomic.Int64
}

// An Option configures Open.
type Option func(*options)

type options struct {
	maxQueries int
	maxBytes   int64
}

// MaxQueries caps the query history at n queries (the oldest go first;
// each CreateQuery removes the excess in its own transaction, and Open
// trims a history above n). Without this option the cap is
// ophicleide.DefaultMaxQueries; n <= 0 means no cap.
func MaxQueries(n int) Option { return func(o *options) { o.maxQueries = n } }

// modelRecord is the value of the models bucket.
type modelRecord struct {
	Model *ophicleide.Model `json:"model"`
	// Vectors is the file name under vectors/ once PutVectors committed.
	Vectors string `json:"vectors,omitempty"`
	// DoneToken is the token of the lease that completed or failed the
	// job, so that repeating CompleteJob with it is a no-op.
	DoneToken int64 `json:"doneToken,omitempty"`
}

// jobRecord is the value of the jobs bucket.
type jobRecord struct {
	ModelID string    `json:"modelId"`
	Leased  bool      `json:"leased"`
	Owner   string    `json:"owner,omitempty"`
	Token   int64     `json:"token"`   // the last token handed out (from the jobs bucket's sequence)
	Attempt int       `json:"attempt"` // claims that counted
	Expires time.Time `json:"expires"`
}

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
	for _, d := range []string{dir, filepath.Join(dir, "vectors"), filepath.Join(dir, "uploads"), filepath.Join(dir, "trash")} {
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
	s.files.Store(treeSize(filepath.Join(dir, "vectors")) + treeSize(filepath.Join(dir, "uploads")))
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
// and vectors and uploads that no model record points at.
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

func notFound(what, id string) error {
	return ophicleide.Errorf(ophicleide.ENOTFOUND, "%s %q not found", what, id)
}

// timeKey encodes (t, id) so that byte order is (time, id) order: the key
// of an ophicleide.Cursor.
func timeKey(t time.Time, id string) []byte {
	return ophicleide.Cursor{Created: t, ID: id}.Key()
}

func getJSON(b *bbolt.Bucket, key []byte, v any) (bool, error) {
	data := b.Get(key)
	if data == nil {
		return false, nil
	}
	if err := json.Unmarshal(data, v); err != nil {
		return false, fmt.Errorf("decode %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bbolt.Bucket, key []byte, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, data)
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
	limit, err := p.CheckLimit()
	if err != nil {
		return nil, err
	}
	after, err := p.Cursor()
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
	}}
	err := s.db.View(func(tx *bbolt.Tx) error {
		meta := tx.Bucket(bucketMeta)
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
		moved, err = s.trash(id, filepath.Join(s.dir, "vectors", id+".bin"), filepath.Join(s.dir, "uploads", id))
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

// ClaimJob leases the oldest job that is queued or whose lease has
// expired to owner until now+d (d <= 0 gives a lease that has already
// expired) and marks its model training, without the progress of an
// earlier attempt. It returns (nil, nil) if there is none.
func (s *Store) ClaimJob(ctx context.Context, owner string, d time.Duration) (*ophicleide.Lease, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var lease *ophicleide.Lease
	err := s.db.Update(func(tx *bbolt.Tx) error {
		now := time.Now().Round(0)
		jobs := tx.Bucket(bucketJobs)
		c := jobs.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			var j jobRecord
			if err := json.Unmarshal(v, &j); err != nil {
				return fmt.Errorf("decode job %x: %w", k, err)
			}
			if j.Leased && j.Expires.After(now) {
				continue
			}
			r, err := getModel(tx, j.ModelID)
			if err != nil {
				return fmt.Errorf("job %x: %w", k, err)
			}
			// Tokens come from one sequence for the whole store, so that
			// the lease of a deleted model never matches the job of a
			// model created again with its ID (a job's own count would
			// start again at 1).
			seq, err := jobs.NextSequence()
			if err != nil {
				return err
			}
			j.Leased, j.Owner, j.Expires = true, owner, now.Add(d)
			j.Token = max(j.Token+1, int64(seq))
			j.Attempt++
			if err := putJSON(jobs, bytes.Clone(k), &j); err != nil {
				return err
			}
			r.Model.Status = ophicleide.StatusTraining
			r.Model.Progress = nil // an earlier attempt's
			r.Model.Updated = now
			if err := putJSON(tx.Bucket(bucketModels), []byte(j.ModelID), r); err != nil {
				return err
			}
			lease = &ophicleide.Lease{ModelID: j.ModelID, Owner: owner, Token: j.Token, Attempt: j.Attempt, Expires: j.Expires}
			return nil
		}
		return nil
	})
	if err != nil {
		return nil, fileError("claim job", err)
	}
	return lease, nil
}

// leased runs fn in a read-write transaction if l is the current lease of
// its job, and returns ErrLeaseLost otherwise. A lease that has expired
// but was not claimed again is still current.
func (s *Store) leased(ctx context.Context, l *ophicleide.Lease, fn func(tx *bbolt.Tx, key []byte, j *jobRecord, r *modelRecord) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		r, j, key, err := current(tx, l)
		if err != nil {
			return err
		}
		return fn(tx, key, j, r)
	})
}

func current(tx *bbolt.Tx, l *ophicleide.Lease) (*modelRecord, *jobRecord, []byte, error) {
	r, err := getModel(tx, l.ModelID)
	if ophicleide.ErrorCode(err) == ophicleide.ENOTFOUND {
		return nil, nil, nil, ophicleide.ErrLeaseLost
	}
	if err != nil {
		return nil, nil, nil, err
	}
	key := timeKey(r.Model.Created, l.ModelID)
	var j jobRecord
	ok, err := getJSON(tx.Bucket(bucketJobs), key, &j)
	if err != nil {
		return nil, nil, nil, err
	}
	if !ok || !j.Leased || j.Token != l.Token {
		return r, nil, nil, ophicleide.ErrLeaseLost
	}
	return r, &j, key, nil
}

// RenewLease extends the lease to now+d. It does not change l.
func (s *Store) RenewLease(ctx context.Context, l *ophicleide.Lease, d time.Duration) error {
	err := s.leased(ctx, l, func(tx *bbolt.Tx, key []byte, j *jobRecord, _ *modelRecord) error {
		j.Expires = time.Now().Round(0).Add(d)
		return putJSON(tx.Bucket(bucketJobs), key, j)
	})
	if err != nil {
		return fileError("renew lease", err)
	}
	return nil
}

// UpdateProgress sets the model's progress.
func (s *Store) UpdateProgress(ctx context.Context, l *ophicleide.Lease, p ophicleide.Progress) error {
	err := s.leased(ctx, l, func(tx *bbolt.Tx, _ []byte, _ *jobRecord, r *modelRecord) error {
		r.Model.Progress = &p
		r.Model.Updated = time.Now().Round(0)
		return putJSON(tx.Bucket(bucketModels), []byte(l.ModelID), r)
	})
	if err != nil {
		return fileError("update progress", err)
	}
	return nil
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

// finish ends the job of l with the model in status, and removes the
// model's uploads (no retry will read them), unless the same lease already
// ended it that way, which is a no-op.
func (s *Store) finish(ctx context.Context, l *ophicleide.Lease, status ophicleide.Status, update func(m *ophicleide.Model)) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var moved []move
	err := s.db.Update(func(tx *bbolt.Tx) error {
		r, _, key, err := current(tx, l)
		if errors.Is(err, ophicleide.ErrLeaseLost) && r != nil && r.DoneToken == l.Token && r.Model.Status == status {
			return nil
		}
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketJobs).Delete(key); err != nil {
			return err
		}
		r.Model.Status = status
		r.Model.Updated = time.Now().Round(0)
		update(r.Model)
		r.DoneToken = l.Token
		if err := addEnded(tx, status, 1); err != nil {
			return err
		}
		if err := putJSON(tx.Bucket(bucketModels), []byte(l.ModelID), r); err != nil {
			return err
		}
		moved, err = s.trash(l.ModelID, filepath.Join(s.dir, "uploads", l.ModelID))
		return err
	})
	if err != nil {
		untrash(moved)
		return diskError(err)
	}
	return s.emptyTrash(moved)
}

// CompleteJob marks the model ready with stats and removes its job.
// Repeating it with the same lease is a no-op.
func (s *Store) CompleteJob(ctx context.Context, l *ophicleide.Lease, stats ophicleide.Stats) error {
	err := s.finish(ctx, l, ophicleide.StatusReady, func(m *ophicleide.Model) {
		m.Stats = &stats
		m.Progress = nil // finished: progress no longer means anything
		m.Error = ""
	})
	if err != nil {
		return fileError("complete job", err)
	}
	return nil
}

// FailJob marks the model failed with reason and removes its job.
// Repeating it with the same lease is a no-op.
func (s *Store) FailJob(ctx context.Context, l *ophicleide.Lease, reason string) error {
	err := s.finish(ctx, l, ophicleide.StatusFailed, func(m *ophicleide.Model) {
		m.Error = reason
		m.Progress = nil
	})
	if err != nil {
		return fileError("fail job", err)
	}
	return nil
}

// ReleaseJob puts the job back in the queue, claimable at once, and the
// model back to queued, without progress. The released claim does not count as an attempt:
// the next claim has the same Attempt (and a higher Token).
func (s *Store) ReleaseJob(ctx context.Context, l *ophicleide.Lease) error {
	err := s.leased(ctx, l, func(tx *bbolt.Tx, key []byte, j *jobRecord, r *modelRecord) error {
		j.Leased, j.Owner, j.Expires = false, "", time.Time{}
		j.Attempt--
		if err := putJSON(tx.Bucket(bucketJobs), key, j); err != nil {
			return err
		}
		r.Model.Status = ophicleide.StatusQueued
		r.Model.Progress = nil
		r.Model.Updated = time.Now().Round(0)
		return putJSON(tx.Bucket(bucketModels), []byte(l.ModelID), r)
	})
	if err != nil {
		return fileError("release job", err)
	}
	return nil
}

// QueueLength counts the jobs not yet finished: queued or leased.
func (s *Store) QueueLength(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int
	err := s.db.View(func(tx *bbolt.Tx) error {
		n = tx.Bucket(bucketJobs).Stats().KeyN
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("bolt: queue length: %w", err)
	}
	return n, nil
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
