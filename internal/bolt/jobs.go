package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/ophicleide/ophicleide"
	bbolt "go.etcd.io/bbolt"
)

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

// CompleteJob marks the model ready with c's stats, params and
// evaluation and removes its job. Repeating it with the same lease is a
// no-op.
func (s *Store) CompleteJob(ctx context.Context, l *ophicleide.Lease, c ophicleide.Completion) error {
	err := s.finish(ctx, l, ophicleide.StatusReady, func(m *ophicleide.Model) {
		m.Stats = &c.Stats
		if c.Params != nil {
			m.Params = *c.Params
		}
		m.Evaluation = c.Evaluation
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
