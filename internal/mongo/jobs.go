package mongo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/ophicleide/ophicleide"
)

// currentJob checks that l holds the job's current lease (PutVectors asks
// before it uploads a file for nothing).
func (s *Store) currentJob(ctx context.Context, op string, l *ophicleide.Lease) error {
	n, err := s.jobs.CountDocuments(ctx, bson.M{"_id": l.ModelID, "token": l.Token, "leased": true})
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, unavailable(err))
	}
	if n == 0 {
		return leaseLost(op)
	}
	return nil
}

// RenewLease extends the lease to now+d. It does not change l.
func (s *Store) RenewLease(ctx context.Context, l *ophicleide.Lease, d time.Duration) error {
	expires := time.Now().Add(d)
	res, err := s.jobs.UpdateOne(ctx, bson.M{"_id": l.ModelID, "token": l.Token, "leased": true}, bson.M{"$set": bson.M{"expires": expires}})
	if err != nil {
		return fmt.Errorf("mongo: renew lease: %w", unavailable(err))
	}
	if res.MatchedCount == 0 {
		return leaseLost("renew lease")
	}
	return nil
}

// updateTraining applies update to the model of l while l holds it: the
// model's jobToken is the current lease's token, and a released job's
// model is queued again.
func (s *Store) updateTraining(ctx context.Context, op string, l *ophicleide.Lease, update bson.M) error {
	res, err := s.models.UpdateOne(ctx, bson.M{"_id": l.ModelID, "jobToken": l.Token, "status": ophicleide.StatusTraining}, update)
	if err != nil {
		return fmt.Errorf("mongo: %s: %w", op, unavailable(err))
	}
	if res.MatchedCount == 0 {
		return leaseLost(op)
	}
	return nil
}

// UpdateProgress records the job's progress on its model.
func (s *Store) UpdateProgress(ctx context.Context, l *ophicleide.Lease, p ophicleide.Progress) error {
	return s.updateTraining(ctx, "update progress", l, bson.M{"$set": bson.M{"progress": p, "updated": time.Now()}})
}

// finish ends the job of l with the model update, then removes the job.
// Repeating it after it succeeded, with the same lease and status, is a
// no-op.
func (s *Store) finish(ctx context.Context, op string, l *ophicleide.Lease, status ophicleide.Status, set bson.M, unset bson.M) error {
	set["status"], set["updated"] = status, time.Now()
	unset["uploadFiles"] = "" // no retry will read them: deleted below
	var old modelDoc
	err := s.models.FindOneAndUpdate(ctx, bson.M{"_id": l.ModelID, "jobToken": l.Token, "status": ophicleide.StatusTraining},
		bson.M{"$set": set, "$unset": unset}).Decode(&old)
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("mongo: %s: %w", op, unavailable(err))
	}
	if errors.Is(err, mongo.ErrNoDocuments) {
		// Done already by this lease (a repeat), or lost.
		doc, err := s.findModel(ctx, l.ModelID)
		if err == nil && doc.JobToken == l.Token && doc.Status == status {
			return nil
		}
		return leaseLost(op)
	}
	var job jobDoc
	if s.jobs.FindOneAndDelete(ctx, bson.M{"_id": l.ModelID, "token": l.Token}).Decode(&job) == nil {
		s.leases.DeleteMany(ctx, bson.M{"job": job.Nonce})
	}
	for _, u := range old.UploadFiles {
		deleteFiles(ctx, s.uploads, u.File)
	}
	return nil
}

// CompleteJob marks the model ready with c's stats, params and
// evaluation and removes its job.
func (s *Store) CompleteJob(ctx context.Context, l *ophicleide.Lease, c ophicleide.Completion) error {
	set, unset := bson.M{"stats": c.Stats}, bson.M{"progress": "", "error": ""}
	if c.Params != nil {
		set["params"] = *c.Params
	}
	if c.Evaluation != nil {
		set["evaluation"] = *c.Evaluation
	} else {
		unset["evaluation"] = ""
	}
	return s.finish(ctx, "complete job", l, ophicleide.StatusReady, set, unset)
}

// FailJob marks the model failed with reason and removes its job.
func (s *Store) FailJob(ctx context.Context, l *ophicleide.Lease, reason string) error {
	return s.finish(ctx, "fail job", l, ophicleide.StatusFailed, bson.M{"error": reason}, bson.M{"progress": ""})
}

// ReleaseJob puts the job back in the queue and the model back to queued.
func (s *Store) ReleaseJob(ctx context.Context, l *ophicleide.Lease) error {
	res, err := s.jobs.UpdateOne(ctx, bson.M{"_id": l.ModelID, "token": l.Token, "leased": true},
		bson.M{"$set": bson.M{"leased": false, "released": true, "owner": ""}})
	if err != nil {
		return fmt.Errorf("mongo: release job: %w", unavailable(err))
	}
	if res.MatchedCount == 0 {
		return leaseLost("release job")
	}
	_, err = s.models.UpdateOne(ctx, bson.M{"_id": l.ModelID, "jobToken": l.Token},
		bson.M{"$set": bson.M{"status": ophicleide.StatusQueued, "updated": time.Now()}, "$unset": bson.M{"progress": ""}})
	if err != nil {
		return fmt.Errorf("mongo: release job: %w", unavailable(err))
	}
	return nil
}

// QueueLength counts unfinished jobs.
func (s *Store) QueueLength(ctx context.Context) (int, error) {
	n, err := s.jobs.CountDocuments(ctx, bson.M{})
	if err != nil {
		return 0, fmt.Errorf("mongo: queue length: %w", unavailable(err))
	}
	return int(n), nil
}
