package bolt

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/ophicleide/ophicleide"
	bbolt "go.etcd.io/bbolt"
)

// The query history (queries.db) holds, besides the queries by ID, four
// indexes whose keys are ophicleide.Cursor keys (creation time, then ID),
// so that a page is a cursor seek and a walk backwards, and a count, so
// that the retention cap costs nothing to check:
//
//	queries                 id -> the Query as JSON
//	queries-by-time         time+id -> model id, then, if the query has an
//	                        owner, a 0 byte and the owner (model IDs hold
//	                        no 0 byte, so any owner name splits back)
//	queries-by-model        "m:"+model id -> nested bucket: time+id -> empty
//	queries-by-owner        ownerBucketName(owner) -> nested bucket: time+id -> empty
//	queries-by-owner-model  "m:"+model id -> nested bucket: ownerBucketName(owner)
//	                        -> nested bucket: time+id -> empty
//	queries-meta            "count" -> queries stored (uint64, big-endian)
//
// Owners are arbitrary strings (key names): they are only ever whole
// bucket names, never parts of a key, so no character can confuse an
// index. A history written before owners has no queries-by-owner; Open
// builds both owner indexes from the queries (all of them then have the
// owner "").
var (
	bucketQueriesByTime       = []byte("queries-by-time")
	bucketQueriesByModel      = []byte("queries-by-model")
	bucketQueriesByOwner      = []byte("queries-by-owner")
	bucketQueriesByOwnerModel = []byte("queries-by-owner-model")
	bucketQueriesMeta         = []byte("queries-meta")
	keyCount                  = []byte("count")
)

// trimBatch bounds the queries one transaction of TrimQueries removes.
const trimBatch = 10_000

// openQueries opens the query history database (see the package doc) and
// builds its indexes if an earlier version wrote it without them.
func openQueries(dir string) (*bbolt.DB, error) {
	path := filepath.Join(dir, QueriesFile)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: openTimeout, NoSync: true})
	if err == nil {
		err = db.Update(func(tx *bbolt.Tx) error {
			switch {
			case tx.Bucket(bucketQueriesByTime) == nil: // new, or older than the indexes
				for _, name := range [][]byte{bucketQueries, bucketQueriesByTime, bucketQueriesByModel, bucketQueriesByOwner, bucketQueriesByOwnerModel, bucketQueriesMeta} {
					if _, err := tx.CreateBucketIfNotExists(name); err != nil {
						return err
					}
				}
				return indexQueries(tx)
			case tx.Bucket(bucketQueriesByOwner) == nil: // older than owners
				for _, name := range [][]byte{bucketQueriesByOwner, bucketQueriesByOwnerModel} {
					if _, err := tx.CreateBucketIfNotExists(name); err != nil {
						return err
					}
				}
				return indexOwners(tx)
			}
			return nil
		})
		if err != nil {
			db.Close()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("bolt: open the query history %s (if it is damaged, deleting it loses only past queries): %w", path, err)
	}
	return db, nil
}

// indexQueries builds the indexes and the count of queries stored
// without them (by earlier versions).
func indexQueries(tx *bbolt.Tx) error {
	var n uint64
	err := tx.Bucket(bucketQueries).ForEach(func(k, v []byte) error {
		var q ophicleide.Query
		if err := json.Unmarshal(v, &q); err != nil {
			return fmt.Errorf("decode query %s: %w", k, err)
		}
		q.ID = string(k)
		n++
		return indexQuery(tx, &q)
	})
	if err != nil {
		return err
	}
	return putCount(tx, n)
}

// indexOwners builds the owner indexes of a history written before
// owners, and the owner part of its queries-by-time values.
func indexOwners(tx *bbolt.Tx) error {
	return tx.Bucket(bucketQueries).ForEach(func(k, v []byte) error {
		var q ophicleide.Query
		if err := json.Unmarshal(v, &q); err != nil {
			return fmt.Errorf("decode query %s: %w", k, err)
		}
		q.ID = string(k)
		key := queryKey(&q)
		if err := tx.Bucket(bucketQueriesByTime).Put(key, timeValue(&q)); err != nil {
			return err
		}
		return indexOwner(tx, key, q.ModelID, q.Owner)
	})
}

func queryKey(q *ophicleide.Query) []byte {
	return ophicleide.Cursor{Created: q.Created, ID: q.ID}.Key()
}

// timeValue is q's value in queries-by-time: its model, and its owner
// after a 0 byte if it has one.
func timeValue(q *ophicleide.Query) []byte {
	v := []byte(q.ModelID)
	if q.Owner != "" {
		v = append(append(v, 0), q.Owner...)
	}
	return v
}

// splitTimeValue reads a value of queries-by-time (of any version).
func splitTimeValue(v []byte) (model, owner string) {
	if i := bytes.IndexByte(v, 0); i >= 0 {
		return string(v[:i]), string(v[i+1:])
	}
	return string(v), ""
}

func indexQuery(tx *bbolt.Tx, q *ophicleide.Query) error {
	key := queryKey(q)
	if err := tx.Bucket(bucketQueriesByTime).Put(key, timeValue(q)); err != nil {
		return err
	}
	b, err := tx.Bucket(bucketQueriesByModel).CreateBucketIfNotExists(modelBucketName(q.ModelID))
	if err != nil {
		return err
	}
	if err := b.Put(key, []byte{}); err != nil {
		return err
	}
	return indexOwner(tx, key, q.ModelID, q.Owner)
}

// indexOwner puts key in the owner's index and the owner's index of the
// model.
func indexOwner(tx *bbolt.Tx, key []byte, model, owner string) error {
	b, err := tx.Bucket(bucketQueriesByOwner).CreateBucketIfNotExists(ownerBucketName(owner))
	if err != nil {
		return err
	}
	if err := b.Put(key, []byte{}); err != nil {
		return err
	}
	if b, err = tx.Bucket(bucketQueriesByOwnerModel).CreateBucketIfNotExists(modelBucketName(model)); err != nil {
		return err
	}
	if b, err = b.CreateBucketIfNotExists(ownerBucketName(owner)); err != nil {
		return err
	}
	return b.Put(key, []byte{})
}

// unindex removes key, a query of model by owner, from the model's and
// the owner's indexes (not from queries-by-time).
func unindex(tx *bbolt.Tx, key []byte, model, owner string) error {
	if b := tx.Bucket(bucketQueriesByModel).Bucket(modelBucketName(model)); b != nil {
		if err := b.Delete(key); err != nil {
			return err
		}
	}
	if b := tx.Bucket(bucketQueriesByOwner).Bucket(ownerBucketName(owner)); b != nil {
		if err := b.Delete(key); err != nil {
			return err
		}
	}
	if b := tx.Bucket(bucketQueriesByOwnerModel).Bucket(modelBucketName(model)); b != nil {
		if b = b.Bucket(ownerBucketName(owner)); b != nil {
			return b.Delete(key)
		}
	}
	return nil
}

// modelBucketName: bbolt refuses empty bucket names.
func modelBucketName(id string) []byte { return []byte("m:" + id) }

// ownerBucketName is the name of an owner's index bucket: "o:" and the
// owner ("o:" for none), or, for a name too long for a bbolt key, "h:"
// and its SHA-256.
func ownerBucketName(owner string) []byte {
	if len(owner) > 512 {
		sum := sha256.Sum256([]byte(owner))
		return append([]byte("h:"), sum[:]...)
	}
	return []byte("o:" + owner)
}

func count(tx *bbolt.Tx) uint64 {
	v := tx.Bucket(bucketQueriesMeta).Get(keyCount)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

func putCount(tx *bbolt.Tx, n uint64) error {
	return tx.Bucket(bucketQueriesMeta).Put(keyCount, binary.BigEndian.AppendUint64(nil, n))
}

// insertQuery stores and indexes q, whose ID is new.
func insertQuery(tx *bbolt.Tx, q *ophicleide.Query) error {
	if err := putJSON(tx.Bucket(bucketQueries), []byte(q.ID), q); err != nil {
		return err
	}
	if err := indexQuery(tx, q); err != nil {
		return err
	}
	return putCount(tx, count(tx)+1)
}

// trimOldest removes the oldest queries, at most max of them, until at
// most keep are left, and returns how many it removed.
func trimOldest(tx *bbolt.Tx, keep uint64, max int) (int, error) {
	n := count(tx)
	byTime := tx.Bucket(bucketQueriesByTime)
	removed := 0
	c := byTime.Cursor()
	for k, v := c.First(); k != nil && n > keep && removed < max; k, v = c.First() {
		key := bytes.Clone(k)
		model, owner := splitTimeValue(v)
		if err := tx.Bucket(bucketQueries).Delete(key[12:]); err != nil {
			return removed, err
		}
		if err := unindex(tx, key, model, owner); err != nil {
			return removed, err
		}
		if err := c.Delete(); err != nil {
			return removed, err
		}
		n--
		removed++
	}
	if removed == 0 {
		return 0, nil
	}
	return removed, putCount(tx, n)
}

// deleteModelQueries removes every query of a model.
func deleteModelQueries(tx *bbolt.Tx, modelID string) error {
	byModel := tx.Bucket(bucketQueriesByModel)
	name := modelBucketName(modelID)
	b := byModel.Bucket(name)
	if b == nil {
		return nil
	}
	queries, byTime, byOwner := tx.Bucket(bucketQueries), tx.Bucket(bucketQueriesByTime), tx.Bucket(bucketQueriesByOwner)
	var n uint64
	err := b.ForEach(func(k, _ []byte) error {
		if err := queries.Delete(k[12:]); err != nil {
			return err
		}
		n++
		_, owner := splitTimeValue(byTime.Get(k))
		if ob := byOwner.Bucket(ownerBucketName(owner)); ob != nil {
			if err := ob.Delete(k); err != nil {
				return err
			}
		}
		return byTime.Delete(k)
	})
	if err != nil {
		return err
	}
	if err := byModel.DeleteBucket(name); err != nil {
		return err
	}
	if err := tx.Bucket(bucketQueriesByOwnerModel).DeleteBucket(name); err != nil && !errors.Is(err, bbolt.ErrBucketNotFound) {
		return err
	}
	return putCount(tx, count(tx)-min(n, count(tx)))
}

// CreateQuery stores a copy of q, or returns ECONFLICT if its ID exists,
// EINVALID if it has none and ENOTFOUND if its model does not exist. If
// the history then holds more queries than the store keeps, the oldest
// one goes, in the same transaction.
func (s *Store) CreateQuery(ctx context.Context, q *ophicleide.Query) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if q.ID == "" {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "id", Message: "a query needs an ID"}
	}
	if err := s.checkSpace(); err != nil {
		return fmt.Errorf("bolt: create query: %w", err)
	}
	err := s.qdb.Update(func(tx *bbolt.Tx) error {
		if tx.Bucket(bucketQueries).Get([]byte(q.ID)) != nil {
			return ophicleide.Errorf(ophicleide.ECONFLICT, "query %q exists", q.ID)
		}
		// Checked inside the write transaction of the history: a
		// DeleteModel that committed before this sees this query when it
		// removes the model's queries (it waits for this transaction).
		if err := s.db.View(func(mtx *bbolt.Tx) error {
			_, err := getModel(mtx, q.ModelID)
			return err
		}); err != nil {
			return err
		}
		if err := insertQuery(tx, q); err != nil {
			return err
		}
		if s.maxQueries > 0 {
			_, err := trimOldest(tx, uint64(s.maxQueries), 16)
			return err
		}
		return nil
	})
	if err != nil {
		return fileError("create query", err)
	}
	return nil
}

// FindQuery returns the query, or ENOTFOUND.
func (s *Store) FindQuery(ctx context.Context, id string) (*ophicleide.Query, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var q ophicleide.Query
	err := s.qdb.View(func(tx *bbolt.Tx) error {
		ok, err := getJSON(tx.Bucket(bucketQueries), []byte(id), &q)
		if err == nil && !ok {
			err = notFound("query", id)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: find query: %w", err)
	}
	return &q, nil
}

// PageQueries returns one page of the queries f selects, newest first,
// ties by descending ID: a seek in the index of f (by time, model, owner,
// or owner within model) and p.Limit reads.
func (s *Store) PageQueries(ctx context.Context, f ophicleide.QueryFilter, p ophicleide.Page) (*ophicleide.QueryPage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	limit, after, err := p.Parse()
	if err != nil {
		return nil, err
	}
	page := &ophicleide.QueryPage{Queries: []*ophicleide.Query{}}
	err = s.qdb.View(func(tx *bbolt.Tx) error {
		idx := queryIndex(tx, f)
		if idx == nil {
			return nil
		}
		queries := tx.Bucket(bucketQueries)
		next, err := walkBack(idx, after, limit, func(k []byte) error {
			var q ophicleide.Query
			ok, err := getJSON(queries, k[12:], &q)
			if ok {
				page.Queries = append(page.Queries, &q)
			}
			return err
		})
		page.Next = next
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("bolt: list queries: %w", err)
	}
	return page, nil
}

// queryIndex is the index bucket of the queries f selects, or nil if
// there is none (no such query).
func queryIndex(tx *bbolt.Tx, f ophicleide.QueryFilter) *bbolt.Bucket {
	switch {
	case f.Model != "" && f.ByOwner:
		if b := tx.Bucket(bucketQueriesByOwnerModel).Bucket(modelBucketName(f.Model)); b != nil {
			return b.Bucket(ownerBucketName(f.Owner))
		}
		return nil
	case f.Model != "":
		return tx.Bucket(bucketQueriesByModel).Bucket(modelBucketName(f.Model))
	case f.ByOwner:
		return tx.Bucket(bucketQueriesByOwner).Bucket(ownerBucketName(f.Owner))
	}
	return tx.Bucket(bucketQueriesByTime)
}

// walkBack calls fn with the keys of idx (ophicleide.Cursor keys) below
// after, or from the last when after is nil, in descending order, at most
// limit of them, and returns the cursor of the next page: "" when no key
// is left below the last one passed to fn.
func walkBack(idx *bbolt.Bucket, after *ophicleide.Cursor, limit int, fn func(k []byte) error) (string, error) {
	c := idx.Cursor()
	var k []byte
	if after == nil {
		k, _ = c.Last()
	} else if k, _ = c.Seek(after.Key()); k == nil {
		k, _ = c.Last()
	} else {
		k, _ = c.Prev() // Seek found the first key >= after
	}
	var last []byte
	for n := 0; k != nil && n < limit; k, _ = c.Prev() {
		if len(k) < 12 {
			continue
		}
		if err := fn(k); err != nil {
			return "", err
		}
		last = k
		n++
	}
	if k == nil || last == nil {
		return "", nil
	}
	return base64.RawURLEncoding.EncodeToString(last), nil // = ophicleide.Cursor.String
}

// TrimQueries removes the oldest queries until at most keep are left, in
// transactions of at most 10,000 removals.
func (s *Store) TrimQueries(ctx context.Context, keep int) (int, error) {
	if keep < 0 {
		return 0, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "keep", Message: "keep must be 0 or more"}
	}
	total := 0
	for {
		if err := ctx.Err(); err != nil {
			return total, err
		}
		var n int
		err := s.qdb.Update(func(tx *bbolt.Tx) error {
			var err error
			n, err = trimOldest(tx, uint64(keep), trimBatch)
			return err
		})
		total += n
		if err != nil {
			return total, fileError("trim queries", err)
		}
		if n < trimBatch {
			return total, nil
		}
	}
}

// moveQueries moves queries that earlier versions kept in the main
// database into the query history, synced before they are deleted there.
func (s *Store) moveQueries() error {
	return s.update(func(tx *bbolt.Tx) error {
		old := tx.Bucket(bucketQueries)
		if old.Stats().KeyN == 0 {
			return nil
		}
		err := s.qdb.Update(func(qtx *bbolt.Tx) error {
			return old.ForEach(func(k, v []byte) error {
				if qtx.Bucket(bucketQueries).Get(k) != nil {
					return nil
				}
				var q ophicleide.Query
				if err := json.Unmarshal(v, &q); err != nil {
					return fmt.Errorf("decode query %s: %w", k, err)
				}
				q.ID = string(k)
				return insertQuery(qtx, &q)
			})
		})
		if err == nil {
			err = s.qdb.Sync()
		}
		if err != nil {
			return fmt.Errorf("move queries to %s: %w", QueriesFile, err)
		}
		if err := tx.DeleteBucket(bucketQueries); err != nil {
			return err
		}
		_, err = tx.CreateBucket(bucketQueries)
		return err
	})
}

// sweepQueries removes the queries of models that no longer exist (a
// crash between a model's deletion and its queries').
func (s *Store) sweepQueries(models map[string]bool) error {
	var gone []string
	err := s.qdb.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bucketQueriesByModel).ForEachBucket(func(k []byte) error {
			if id := string(k[2:]); !models[id] {
				gone = append(gone, id)
			}
			return nil
		})
	})
	if err != nil || len(gone) == 0 {
		return err
	}
	return s.qdb.Update(func(tx *bbolt.Tx) error {
		for _, id := range gone {
			if err := deleteModelQueries(tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}
