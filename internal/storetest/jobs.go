package storetest

import (
	"bytes"
	"crypto/rand"
	"io"
	"reflect"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// testJobs: the job queue (claims, leases and their fencing tokens,
// progress, the ends of a job) and what a lease may do in each state.
func testJobs(t *testing.T, open opener) {
	t.Run("Enqueue", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		wantQueueLength(t, s, 0)
		wantNoClaim(t, s)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		wantQueueLength(t, s, 1)
		wantStatus(t, s, m.ID, ophicleide.StatusQueued)
	})

	t.Run("Claim", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		before := time.Now()
		l := mustClaim(t, s, "worker-1", time.Minute)
		if l.ModelID != m.ID || l.Owner != "worker-1" || l.Attempt != 1 || l.Token <= 0 {
			t.Errorf("lease %+v, want model %s, owner worker-1, attempt 1, token > 0", l, m.ID)
		}
		if l.Expires.Before(before.Add(time.Minute-time.Second)) || l.Expires.After(time.Now().Add(time.Minute+time.Second)) {
			t.Errorf("lease expires %v, want about a minute from %v", l.Expires, before)
		}
		wantStatus(t, s, m.ID, ophicleide.StatusTraining)
		wantQueueLength(t, s, 1)
		wantNoClaim(t, s) // held until it expires
	})

	t.Run("OldestFirst", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		a, b, c := NewModel(2*time.Second), NewModel(0), NewModel(time.Second)
		for _, m := range []*ophicleide.Model{a, b, c} {
			mustCreate(t, s, m, nil)
		}
		for _, want := range []*ophicleide.Model{b, c, a} {
			if l := mustClaim(t, s, "w", time.Minute); l.ModelID != want.ID {
				t.Fatalf("claimed %s, want %s", l.ModelID, want.ID)
			}
		}
		wantNoClaim(t, s)
	})

	t.Run("LeaseExpires", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		// 500 ms: long enough that a networked store under a loaded test
		// run answers the claim and the next one before it lapses (50 ms
		// made FerretDB under make test fail once).
		l1 := mustClaim(t, s, "w1", 500*time.Millisecond)
		wantNoClaim(t, s)
		time.Sleep(600 * time.Millisecond) // the one wait on the clock: expiry is about time
		l2 := mustClaim(t, s, "w2", time.Minute)
		if l2.ModelID != m.ID || l2.Token <= l1.Token || l2.Attempt != 2 || l2.Owner != "w2" {
			t.Fatalf("second lease %+v after %+v, want a higher token and attempt 2", l2, l1)
		}
	})

	t.Run("Fencing", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l1 := mustClaim(t, s, "w1", -time.Millisecond) // expired at once
		l2 := mustClaim(t, s, "w2", time.Minute)
		if l2.ModelID != m.ID || l2.Token <= l1.Token || l2.Attempt != 2 {
			t.Fatalf("second lease %+v after %+v, want a higher token and attempt 2", l2, l1)
		}
		if err := putVectors(t, s, l2, []byte("fresh")); err != nil {
			t.Fatalf("PutVectors: %v", err)
		}
		wantAllLost(t, s, l1)
		// The stale holder changed nothing.
		got := wantStatus(t, s, m.ID, ophicleide.StatusTraining)
		if got.Progress != nil || got.Error != "" {
			t.Errorf("stale holder changed the model: %+v", got)
		}
		wantNoClaim(t, s)
		if err := s.CompleteJob(ctx(t), l2, ophicleide.Completion{Stats: ophicleide.Stats{VocabSize: 1}}); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		if got := readAll(t)(s.OpenVectors(ctx(t), m.ID)); string(got) != "fresh" {
			t.Errorf("vectors %q, want the current holder's", got)
		}
		wantAllLost(t, s, l1)
	})

	t.Run("Renew", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustCreate(t, s, NewModel(0), nil)
		l := mustClaim(t, s, "w", -time.Millisecond)
		if err := s.RenewLease(ctx(t), l, time.Minute); err != nil {
			t.Fatalf("RenewLease: %v", err)
		}
		wantNoClaim(t, s)
		if err := s.UpdateProgress(ctx(t), l, ophicleide.Progress{Phase: "counting"}); err != nil {
			t.Fatalf("UpdateProgress after RenewLease: %v", err)
		}
	})

	t.Run("Progress", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		for _, p := range []ophicleide.Progress{
			{Phase: "fetching"},
			{Phase: "training", Fraction: 0.375, WordsPerSecond: 812345.5, EtaSeconds: 12.25},
		} {
			if err := s.UpdateProgress(ctx(t), l, p); err != nil {
				t.Fatalf("UpdateProgress: %v", err)
			}
			got := wantStatus(t, s, m.ID, ophicleide.StatusTraining)
			if got.Progress == nil || *got.Progress != p {
				t.Fatalf("progress %+v, want %+v", got.Progress, p)
			}
		}
	})

	t.Run("Complete", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		data := make([]byte, 300_000)
		rand.Read(data)
		if err := s.UpdateProgress(ctx(t), l, ophicleide.Progress{Phase: "saving", Fraction: 1}); err != nil {
			t.Fatalf("UpdateProgress: %v", err)
		}
		if err := putVectors(t, s, l, []byte("an earlier attempt")); err != nil {
			t.Fatalf("PutVectors: %v", err)
		}
		if err := putVectors(t, s, l, data); err != nil {
			t.Fatalf("PutVectors again: %v", err)
		}
		stats := ophicleide.Stats{CorpusWords: 124_000, VocabSize: 6_543, TrainingSeconds: 3.5, Sources: []ophicleide.SourceStats{
			{URL: m.URLs[0], Bytes: 700_000, Words: 120_000},
			{URL: "upload:emma.txt", Bytes: 20_000, Words: 4_000},
		}}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: stats}); err != nil {
			t.Fatalf("CompleteJob: %v", err)
		}
		got := wantStatus(t, s, m.ID, ophicleide.StatusReady)
		if got.Stats == nil || !reflect.DeepEqual(*got.Stats, stats) {
			t.Errorf("stats %+v, want %+v", got.Stats, stats)
		}
		if got.Progress != nil {
			t.Errorf("a ready model still shows progress %+v", got.Progress)
		}
		if got.Error != "" {
			t.Errorf("error %q on a ready model", got.Error)
		}
		if !bytes.Equal(readAll(t)(s.OpenVectors(ctx(t), m.ID)), data) {
			t.Error("OpenVectors did not return the bytes written")
		}
		wantQueueLength(t, s, 0)
		wantNoClaim(t, s)
		if err := s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: stats}); err != nil {
			t.Errorf("CompleteJob repeated with the same lease: %v", err)
		}
		wantStatus(t, s, m.ID, ophicleide.StatusReady)
		wantLost(t, "UpdateProgress after CompleteJob", s.UpdateProgress(ctx(t), l, ophicleide.Progress{}))
	})

	t.Run("Fail", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		const reason = "fetching https://example.org/b.txt: 404 Not Found"
		if err := s.FailJob(ctx(t), l, reason); err != nil {
			t.Fatalf("FailJob: %v", err)
		}
		got := wantStatus(t, s, m.ID, ophicleide.StatusFailed)
		if got.Error != reason {
			t.Errorf("error %q, want %q", got.Error, reason)
		}
		wantQueueLength(t, s, 0)
		wantNoClaim(t, s)
		_, err := s.OpenVectors(ctx(t), m.ID)
		wantCode(t, "OpenVectors of a failed model", err, ophicleide.ENOTFOUND)
		wantLost(t, "CompleteJob after FailJob", s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{}}))
	})

	t.Run("Release", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l1 := mustClaim(t, s, "w1", time.Minute)
		if err := s.ReleaseJob(ctx(t), l1); err != nil {
			t.Fatalf("ReleaseJob: %v", err)
		}
		wantStatus(t, s, m.ID, ophicleide.StatusQueued)
		wantQueueLength(t, s, 1)
		l2 := mustClaim(t, s, "w2", time.Minute)
		// A release is not a failed attempt.
		if l2.ModelID != m.ID || l2.Token <= l1.Token || l2.Attempt != 1 {
			t.Fatalf("lease %+v after releasing %+v, want a higher token and attempt 1", l2, l1)
		}
		wantStatus(t, s, m.ID, ophicleide.StatusTraining)
		wantAllLost(t, s, l1)
	})

	t.Run("DeleteWhileLeased", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		if err := putVectors(t, s, l, []byte("vectors")); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteModel(ctx(t), m.ID); err != nil {
			t.Fatalf("DeleteModel: %v", err)
		}
		wantAllLost(t, s, l)
		_, err := s.OpenVectors(ctx(t), m.ID)
		wantCode(t, "OpenVectors after DeleteModel", err, ophicleide.ENOTFOUND)
		_, err = s.FindModel(ctx(t), m.ID)
		wantCode(t, "FindModel after DeleteModel", err, ophicleide.ENOTFOUND)
		wantQueueLength(t, s, 0)
		wantNoClaim(t, s)
	})

	t.Run("DeleteReady", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		if err := putVectors(t, s, l, []byte("vectors")); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil {
			t.Fatal(err)
		}
		if err := s.DeleteModel(ctx(t), m.ID); err != nil {
			t.Fatalf("DeleteModel: %v", err)
		}
		_, err := s.OpenVectors(ctx(t), m.ID)
		wantCode(t, "OpenVectors after DeleteModel", err, ophicleide.ENOTFOUND)
		wantLost(t, "CompleteJob repeated after DeleteModel", s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{}}))
	})

	// RepeatedEnds: the same end again with the same lease is a no-op
	// (the first stats or reason stay), so a worker that missed the answer
	// may retry; the other end and every other lease method are
	// ErrLeaseLost and change nothing.
	t.Run("RepeatedEnds", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		done, failed := NewModel(0), NewModel(time.Second)
		mustCreate(t, s, done, nil)
		mustCreate(t, s, failed, nil)
		ld, lf := mustClaim(t, s, "w", time.Minute), mustClaim(t, s, "w", time.Minute)
		for _, st := range []ophicleide.Stats{{VocabSize: 7}, {VocabSize: 7}, {VocabSize: 9}} {
			if err := s.CompleteJob(ctx(t), ld, ophicleide.Completion{Stats: st}); err != nil {
				t.Fatalf("CompleteJob(%+v): %v", st, err)
			}
		}
		for _, reason := range []string{"no words", "no words", "another reason"} {
			if err := s.FailJob(ctx(t), lf, reason); err != nil {
				t.Fatalf("FailJob(%q): %v", reason, err)
			}
		}
		if got := wantStatus(t, s, done.ID, ophicleide.StatusReady); got.Stats == nil || got.Stats.VocabSize != 7 {
			t.Errorf("stats %+v after repeated CompleteJob, want the first", got.Stats)
		}
		if got := wantStatus(t, s, failed.ID, ophicleide.StatusFailed); got.Error != "no words" {
			t.Errorf("reason %q after repeated FailJob, want the first", got.Error)
		}
		wantEnded(t, s, ld, ophicleide.StatusReady)
		wantEnded(t, s, lf, ophicleide.StatusFailed)
		wantQueueLength(t, s, 0)
		c, err := s.CountModels(ctx(t))
		if err != nil || c.ByStatus[ophicleide.StatusReady] != 1 || c.ByStatus[ophicleide.StatusFailed] != 1 {
			t.Errorf("CountModels after repeated ends = %+v, %v; want one ready, one failed", c, err)
		}
	})

	// LapsedLeaseIsCurrent: a lease that lapsed and was not claimed again
	// may still report, store, renew and end. RenewLease does not change
	// the lease (the worker shares it between goroutines).
	t.Run("LapsedLeaseIsCurrent", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", -time.Millisecond)
		was := *l
		if err := s.UpdateProgress(ctx(t), l, ophicleide.Progress{Phase: "saving"}); err != nil {
			t.Fatalf("UpdateProgress of a lapsed lease: %v", err)
		}
		if err := putVectors(t, s, l, []byte("late")); err != nil {
			t.Fatalf("PutVectors of a lapsed lease: %v", err)
		}
		if err := s.RenewLease(ctx(t), l, time.Minute); err != nil {
			t.Fatalf("RenewLease of a lapsed lease: %v", err)
		}
		if *l != was {
			t.Errorf("RenewLease changed the lease to %+v, was %+v", *l, was)
		}
		wantNoClaim(t, s)
		if err := s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil {
			t.Fatalf("CompleteJob of a renewed lease: %v", err)
		}
		if got := readAll(t)(s.OpenVectors(ctx(t), m.ID)); string(got) != "late" {
			t.Errorf("vectors %q", got)
		}
	})

	// RenewToLapse: RenewLease with d <= 0 lets the lease lapse now; the
	// next claim takes the job (a new attempt) and fences the old holder.
	t.Run("RenewToLapse", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		mustCreate(t, s, NewModel(0), nil)
		l1 := mustClaim(t, s, "w1", time.Minute)
		if err := s.RenewLease(ctx(t), l1, -time.Millisecond); err != nil {
			t.Fatalf("RenewLease(-1ms): %v", err)
		}
		l2 := mustClaim(t, s, "w2", time.Minute)
		if l2.Token <= l1.Token || l2.Attempt != 2 {
			t.Fatalf("lease %+v after %+v lapsed, want a higher token and attempt 2", l2, l1)
		}
		wantAllLost(t, s, l1)
	})

	// ReleasedLease: a released lease is lost (releasing again too); its
	// model is queued with no progress.
	t.Run("ReleasedLease", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l := mustClaim(t, s, "w", time.Minute)
		if err := s.UpdateProgress(ctx(t), l, ophicleide.Progress{Phase: "training", Fraction: 0.5, WordsPerSecond: 10}); err != nil {
			t.Fatal(err)
		}
		if err := s.ReleaseJob(ctx(t), l); err != nil {
			t.Fatal(err)
		}
		if got := wantStatus(t, s, m.ID, ophicleide.StatusQueued); got.Progress != nil {
			t.Errorf("a released model shows progress %+v", got.Progress)
		}
		wantAllLost(t, s, l)
		wantStatus(t, s, m.ID, ophicleide.StatusQueued)
		wantQueueLength(t, s, 1)
	})

	// ProgressOfOneAttempt: a claim and a failure clear the progress an
	// earlier attempt reported.
	t.Run("ProgressOfOneAttempt", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		l1 := mustClaim(t, s, "w1", -time.Millisecond)
		if err := s.UpdateProgress(ctx(t), l1, ophicleide.Progress{Phase: "training", Fraction: 0.6, WordsPerSecond: 1000}); err != nil {
			t.Fatal(err)
		}
		l2 := mustClaim(t, s, "w2", time.Minute)
		if got := wantStatus(t, s, m.ID, ophicleide.StatusTraining); got.Progress != nil {
			t.Errorf("a new attempt shows the last one's progress %+v", got.Progress)
		}
		if c, err := s.CountModels(ctx(t)); err != nil || c.WordsPerSecond != 0 {
			t.Errorf("CountModels = %+v, %v; want no speed", c, err)
		}
		if err := s.UpdateProgress(ctx(t), l2, ophicleide.Progress{Phase: "counting"}); err != nil {
			t.Fatal(err)
		}
		if err := s.FailJob(ctx(t), l2, "no words"); err != nil {
			t.Fatal(err)
		}
		if got := wantStatus(t, s, m.ID, ophicleide.StatusFailed); got.Progress != nil {
			t.Errorf("a failed model shows progress %+v", got.Progress)
		}
	})

	// DeletedLeaseStaysLost: the lease of a deleted model does not become
	// current again when a model with the same ID is created and claimed.
	t.Run("DeletedLeaseStaysLost", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		m := NewModel(0)
		mustCreate(t, s, m, nil)
		old := mustClaim(t, s, "w1", time.Minute)
		if err := s.DeleteModel(ctx(t), m.ID); err != nil {
			t.Fatal(err)
		}
		again := NewModel(time.Second)
		again.ID = m.ID
		mustCreate(t, s, again, nil)
		l := mustClaim(t, s, "w2", time.Minute)
		wantAllLost(t, s, old)
		if got := wantStatus(t, s, m.ID, ophicleide.StatusTraining); got.Progress != nil || got.Name != again.Name {
			t.Errorf("the old lease changed the new model: %+v", got)
		}
		if err := s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{}}); err != nil {
			t.Fatalf("CompleteJob of the new lease: %v", err)
		}
	})
}

func putVectors(t *testing.T, s ophicleide.Store, l *ophicleide.Lease, data []byte) error {
	t.Helper()
	return s.PutVectors(ctx(t), l, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// allLeaseMethods calls every method taking a lease and checks that each
// reports the lease lost.
func wantAllLost(t *testing.T, s ophicleide.Store, l *ophicleide.Lease) {
	t.Helper()
	wantLost(t, "RenewLease", s.RenewLease(ctx(t), l, time.Minute))
	wantLost(t, "UpdateProgress", s.UpdateProgress(ctx(t), l, ophicleide.Progress{Phase: "training"}))
	wantLost(t, "PutVectors", putVectors(t, s, l, []byte("stale")))
	wantLost(t, "CompleteJob", s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{}}))
	wantLost(t, "FailJob", s.FailJob(ctx(t), l, "stale"))
	wantLost(t, "ReleaseJob", s.ReleaseJob(ctx(t), l))
}

// wantEnded checks what the lease of a job that ended with status may
// still do: only the same end again (checked by the caller); the rest is
// ErrLeaseLost and changes nothing.
func wantEnded(t *testing.T, s ophicleide.Store, l *ophicleide.Lease, status ophicleide.Status) {
	t.Helper()
	before := mustFind(t, s, l.ModelID)
	wantLost(t, "RenewLease after the end", s.RenewLease(ctx(t), l, time.Minute))
	wantLost(t, "UpdateProgress after the end", s.UpdateProgress(ctx(t), l, ophicleide.Progress{Phase: "training"}))
	wantLost(t, "PutVectors after the end", putVectors(t, s, l, []byte("late")))
	wantLost(t, "ReleaseJob after the end", s.ReleaseJob(ctx(t), l))
	if status == ophicleide.StatusReady {
		wantLost(t, "FailJob after CompleteJob", s.FailJob(ctx(t), l, "late"))
	} else {
		wantLost(t, "CompleteJob after FailJob", s.CompleteJob(ctx(t), l, ophicleide.Completion{Stats: ophicleide.Stats{}}))
	}
	wantModel(t, mustFind(t, s, l.ModelID), before, true)
}
