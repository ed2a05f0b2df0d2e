// The claim protocol.
//
// Claims do not rely on findOneAndUpdate being atomic (FerretDB's is not
// under concurrency, measured: 8 racers on 200 jobs gave ~200 double
// claims). A claimer reads a claimable job with its current token t and
// inserts the lease document "<nonce>/<t+1>"; of all claimers that read t,
// exactly one insert succeeds (a duplicate _id fails on MongoDB and on
// FerretDB alike), and only the winner then moves the job to token t+1
// (filtering on t, so a job deleted or re-created meanwhile is not
// touched) and then the model (status training, jobToken t+1). Every
// later write by a lease holder filters on its token (the job's for
// RenewLease and ReleaseJob, the model's jobToken for progress, vectors
// and the end), so a holder whose lease lapsed and was claimed again
// changes nothing. A job's tokens start at the clock (firstToken), so the
// leases of a deleted model never match a model created again with its ID.
//
// A crash after a winner moved the job but before it moved the model
// leaves a job whose lease lapses and is claimed again. A crash (or a
// lost answer) between the lease insert and the job's move leaves a lease
// document that no job token follows: a claimer that meets it older than
// staleClaim (a live claimer moves the job milliseconds after its insert)
// deletes it, filtering on its time, and inserts its own; the unique _id
// still lets one claimer win, and the job's move, filtered on token t,
// still lets one holder have t+1 even if the first claimer was only slow.
// ClaimJob gives up after claimRounds rounds in which every candidate
// went to someone else, so a worker never spins on the store.

package mongo

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/ophicleide/ophicleide"
)

// firstToken is the token a new job starts from: the clock in
// nanoseconds, so that the leases of a deleted model (whose tokens
// started at an earlier clock and grew by one per claim) never match the
// job of a model created again with its ID.
func firstToken() int64 { return time.Now().UnixNano() }

// claimBatch is how many claimable jobs ClaimJob reads at once.
const claimBatch = 16

// staleClaim is the age beyond which a lease document whose job never
// moved to its token is taken for the trace of a claimer that died.
const staleClaim = 30 * time.Second

// claimRounds bounds ClaimJob's rounds in which every candidate went to
// someone else; the caller polls again later.
const claimRounds = 4

// ClaimJob leases the oldest claimable job (see the package doc).
func (s *Store) ClaimJob(ctx context.Context, owner string, d time.Duration) (*ophicleide.Lease, error) {
	for range claimRounds {
		now := time.Now()
		cur, err := s.jobs.Find(ctx, bson.M{"$or": bson.A{
			bson.M{"leased": false},
			bson.M{"expires": bson.M{"$lt": now}},
		}}, options.Find().SetSort(bson.D{{Key: "created", Value: 1}, {Key: "_id", Value: 1}}).SetLimit(claimBatch))
		if err != nil {
			return nil, fmt.Errorf("mongo: claim job: %w", unavailable(err))
		}
		var jobs []jobDoc
		if err := cur.All(ctx, &jobs); err != nil {
			return nil, fmt.Errorf("mongo: claim job: %w", unavailable(err))
		}
		if len(jobs) == 0 {
			return nil, nil
		}
		for _, j := range jobs {
			l, err := s.claim(ctx, j, owner, d)
			if err != nil || l != nil {
				return l, err
			}
		}
		// Every candidate went to someone else: look again.
	}
	return nil, nil
}

// claim tries to take job j as it was read; nil if another claimer won.
func (s *Store) claim(ctx context.Context, j jobDoc, owner string, d time.Duration) (*ophicleide.Lease, error) {
	token := j.Token + 1
	id := fmt.Sprintf("%s/%d", j.Nonce, token)
	insert := func() error {
		_, err := s.leases.InsertOne(ctx, bson.M{"_id": id, "job": j.Nonce, "owner": owner, "at": time.Now()})
		return err
	}
	err := insert()
	if mongo.IsDuplicateKeyError(err) {
		if !s.dropStaleClaim(ctx, id) {
			return nil, nil // another claimer has it
		}
		if err = insert(); mongo.IsDuplicateKeyError(err) {
			return nil, nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("mongo: claim job: %w", unavailable(err))
	}
	attempt := j.Attempt + 1
	if j.Released {
		attempt = j.Attempt
	}
	now := time.Now()
	l := &ophicleide.Lease{ModelID: j.ID, Owner: owner, Token: token, Attempt: attempt, Expires: now.Add(d)}
	res, err := s.jobs.UpdateOne(ctx, bson.M{"_id": j.ID, "token": j.Token, "nonce": j.Nonce}, bson.M{"$set": bson.M{
		"leased": true, "token": token, "owner": owner, "expires": l.Expires, "attempt": attempt, "released": false,
	}})
	if err != nil {
		return nil, fmt.Errorf("mongo: claim job: %w", unavailable(err))
	}
	if res.MatchedCount == 0 {
		return nil, nil // deleted meanwhile
	}
	// Only a model still waiting or training is taken: one that ended
	// meanwhile (its holder finished just as its lease lapsed, or a crash
	// came between the end of a job and the removal of its document) keeps
	// its state, and the job document is dropped.
	res, err = s.models.UpdateOne(ctx, bson.M{"_id": j.ID, "status": bson.M{"$in": bson.A{ophicleide.StatusQueued, ophicleide.StatusTraining}}}, bson.M{
		"$set":   bson.M{"status": ophicleide.StatusTraining, "jobToken": token, "updated": now},
		"$unset": bson.M{"progress": "", "error": ""},
	})
	if err != nil {
		return nil, fmt.Errorf("mongo: claim job: %w", unavailable(err))
	}
	if res.MatchedCount == 0 {
		if _, err := s.jobs.DeleteOne(ctx, bson.M{"_id": j.ID, "token": token}); err == nil {
			s.leases.DeleteMany(ctx, bson.M{"job": j.Nonce})
		}
		return nil, nil
	}
	return l, nil
}

// dropStaleClaim deletes the lease document id if it is older than
// staleClaim (its claimer died between the insert and the job's move; the
// caller read the job at the token before it), and reports whether it
// did.
func (s *Store) dropStaleClaim(ctx context.Context, id string) bool {
	var doc struct {
		At time.Time `bson:"at"`
	}
	if err := s.leases.FindOne(ctx, bson.M{"_id": id}).Decode(&doc); err != nil || time.Since(doc.At) < staleClaim {
		return false
	}
	res, err := s.leases.DeleteOne(ctx, bson.M{"_id": id, "at": doc.At})
	return err == nil && res.DeletedCount == 1
}
