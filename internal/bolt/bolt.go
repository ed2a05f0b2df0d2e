// Package bolt is the embedded store of Ophicleide: models, queries and the
// training job queue in one bbolt file, and the large blobs (uploaded
// corpora, trained vectors) as plain files beside it, all in one data
// directory that one process owns at a time:
//
//	<dir>/ophicleide.db             buckets models, models-by-time, jobs, meta (JSON values)
//	<dir>/queries.db                the query history, with indexes by time, model, owner and owner within model (queries.go)
//	<dir>/vectors/<modelID>.bin     a model's vectors as the caller writes them (vectors.Compact;
//	                                the name is older than the format and kept: directories
//	                                written before hold .bin files, which must open as they are)
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
// file loses only the history. Files are written to a temporary name,
// fsynced, renamed into place and their directory fsynced inside the
// transaction that makes a record point at them; files left over by a
// crash (temporary files, files no record points at, uploads of models
// that ended) are removed by Open. Writes the disk refuses, and writes
// beyond MaxBytes, are EFULL (disk.go).
//
// Jobs are keyed by their model's creation time and ID, so a cursor meets
// the oldest first; a claim finds and leases a job in one transaction.
// The index models-by-time has the same keys for every model, so a page
// of models is a seek; meta counts the models that ended, by status, so
// CountModels reads only the unfinished jobs.
//
// Files of the package, by what the store keeps: bolt.go (this, the
// Store and its records), open.go (Open, schema upgrades, the sweep of
// what a crash left), models.go, jobs.go (claims, leases, the ends of a
// job), files.go (uploads and vectors on disk), queries.go (the
// history), disk.go (space and its limit).
package bolt

import (
	"encoding/json"
	"fmt"
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

var (
	bucketModels       = []byte("models")
	bucketModelsByTime = []byte("models-by-time")
	bucketQueries      = []byte("queries")
	bucketJobs         = []byte("jobs")
	bucketMeta         = []byte("meta")
	keyVersion         = []byte("version")
)

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
