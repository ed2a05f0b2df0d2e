package mongo

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/mongo/mongotest"
	"github.com/ophicleide/ophicleide/internal/storetest"
)

func open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(t.Context(), Config{URL: mongotest.URL(t)})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

// TestConformance runs the suite the embedded store passes, unchanged,
// against FerretDB (or the MongoDB of OPH_TEST_MONGO_URL).
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) ophicleide.Store { return open(t) })
}

// BenchmarkClaims: claim latency and jobs/s with 1, 2, 4 workers (see
// storetest.BenchClaims); BenchmarkClaims in internal/bolt is the peer.
func BenchmarkClaims(b *testing.B) {
	storetest.BenchClaims(b, func(b *testing.B) ophicleide.Store {
		s, err := Open(b.Context(), Config{URL: mongotest.URL(b)})
		if err != nil {
			b.Fatal(err)
		}
		return s
	})
}

// TestClaimSkipsEndedModel: a job document left behind for a model that
// already ended (a crash between the end of a job and the removal of its
// document) is dropped by the next claim, which leaves the model as it is.
func TestClaimSkipsEndedModel(t *testing.T) {
	s := open(t)
	defer s.Close()
	ctx := t.Context()
	m := storetest.NewModel(0)
	if err := s.CreateModel(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	l, err := s.ClaimJob(ctx, "w", time.Minute)
	if err != nil || l == nil {
		t.Fatalf("claim: %v %v", l, err)
	}
	// The model ends, but its job document stays, leased until now.
	if _, err := s.models.UpdateOne(ctx, bson.M{"_id": m.ID}, bson.M{"$set": bson.M{"status": ophicleide.StatusReady}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.jobs.UpdateOne(ctx, bson.M{"_id": m.ID}, bson.M{"$set": bson.M{"expires": time.Now().Add(-time.Second)}}); err != nil {
		t.Fatal(err)
	}
	if l, err := s.ClaimJob(ctx, "w2", time.Minute); err != nil || l != nil {
		t.Fatalf("claim of an ended model's job: %+v %v", l, err)
	}
	if n, _ := s.QueueLength(ctx); n != 0 {
		t.Errorf("queue length %d after the stale job was dropped", n)
	}
	if got, _ := s.FindModel(ctx, m.ID); got.Status != ophicleide.StatusReady {
		t.Errorf("model status %s, want ready", got.Status)
	}
}

// TestQueryRetention: issue 10, the query history grew without bound.
// With Config.MaxQueries every process checks the cap every 100 inserts
// and trims to it, the oldest first.
func TestQueryRetention(t *testing.T) {
	s, err := Open(t.Context(), Config{URL: mongotest.URL(t), MaxQueries: 5})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	m := storetest.NewModel(0)
	if err := s.CreateModel(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range trimEvery + 1 {
		q := &ophicleide.Query{ID: fmt.Sprintf("q%03d", i), ModelID: m.ID, Word: "w", Created: time.Unix(int64(i), 0).UTC()}
		if err := s.CreateQuery(ctx, q); err != nil {
			t.Fatal(err)
		}
		ids = append([]string{q.ID}, ids...)
	}
	page, err := s.PageQueries(ctx, ophicleide.QueryFilter{}, ophicleide.Page{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, q := range page.Queries {
		got = append(got, q.ID)
	}
	if !slices.Equal(got, ids[:5]) {
		t.Fatalf("after %d inserts with a cap of 5: %v, want %v", trimEvery+1, got, ids[:5])
	}
}

// TestOutOfSpaceIsFull: the server's answers that mean it cannot store
// more are EFULL. A full MongoDB cannot be made in a test (FerretDB's
// SQLite file would need a full disk), so these are named fakes of the
// errors the driver returns: MongoDB's OutOfDiskSpace code, WiredTiger's
// message, Atlas's quota and SQLite's under FerretDB.
func TestOutOfSpaceIsFull(t *testing.T) {
	for _, fake := range []error{
		mongo.CommandError{Code: 14031, Name: "OutOfDiskSpace", Message: "Command failed: out of disk space"},
		mongo.WriteException{WriteErrors: []mongo.WriteError{{Code: 1, Message: "WiredTiger error: No space left on device"}}},
		mongo.CommandError{Code: 8000, Name: "AtlasError", Message: "you are over your space quota, using 513 MB of 512 MB"},
		mongo.CommandError{Code: 1, Message: "sqlite: database or disk is full (13)"},
	} {
		err := fmt.Errorf("mongo: op: %w", unavailable(fake))
		if ophicleide.ErrorCode(err) != ophicleide.EFULL || !strings.Contains(ophicleide.ErrorMessage(err), "disk is full") {
			t.Errorf("%v -> %v (%s), want EFULL", fake, err, ophicleide.ErrorCode(err))
		}
	}
	if err := unavailable(mongo.CommandError{Code: 2, Message: "bad value"}); ophicleide.ErrorCode(err) != ophicleide.EINTERNAL {
		t.Errorf("another server error -> %v", err)
	}
}

// TestUploadsLeaveGridFS: the GridFS files of a model's uploads are
// deleted when its job ends.
func TestUploadsLeaveGridFS(t *testing.T) {
	s := open(t)
	defer s.Close()
	ctx := t.Context()
	m := storetest.NewModel(0)
	m.Uploads = []string{"a.txt", "b.txt"}
	if err := s.CreateModel(ctx, m, map[string]io.Reader{"a.txt": strings.NewReader("a"), "b.txt": strings.NewReader("b")}); err != nil {
		t.Fatal(err)
	}
	files := s.db.Collection("uploads.files")
	if n, err := files.CountDocuments(ctx, bson.M{}); err != nil || n != 2 {
		t.Fatalf("upload files before the end: %d %v", n, err)
	}
	l, err := s.ClaimJob(ctx, "w", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.FailJob(ctx, l, "no"); err != nil {
		t.Fatal(err)
	}
	if n, err := files.CountDocuments(ctx, bson.M{}); err != nil || n != 0 {
		t.Fatalf("upload files after FailJob: %d %v", n, err)
	}
	if n, err := s.db.Collection("uploads.chunks").CountDocuments(ctx, bson.M{}); err != nil || n != 0 {
		t.Fatalf("upload chunks after FailJob: %d %v", n, err)
	}
}

// TestClaimAfterClaimerDied: a claimer that died between inserting its
// lease document and moving the job (the state is made here directly in
// the database, as the crash would leave it) does not wedge the job: a
// later claim takes it once the trace is older than staleClaim, and
// ClaimJob returns meanwhile instead of spinning.
func TestClaimAfterClaimerDied(t *testing.T) {
	s := open(t)
	m := storetest.NewModel(time.Second)
	if err := s.CreateModel(t.Context(), m, nil); err != nil {
		t.Fatal(err)
	}
	var j jobDoc
	if err := s.jobs.FindOne(t.Context(), bson.M{"_id": m.ID}).Decode(&j); err != nil {
		t.Fatal(err)
	}
	trace := bson.M{"_id": fmt.Sprintf("%s/%d", j.Nonce, j.Token+1), "job": j.Nonce, "owner": "dead", "at": time.Now()}
	if _, err := s.leases.InsertOne(t.Context(), trace); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if l, err := s.ClaimJob(t.Context(), "w", time.Minute); l != nil || err != nil {
			t.Errorf("a fresh trace: claimed %+v %v, want nothing yet", l, err)
		}
	}()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("ClaimJob spins on a job whose lease document is taken")
	}
	if _, err := s.leases.UpdateOne(t.Context(), bson.M{"_id": trace["_id"]}, bson.M{"$set": bson.M{"at": time.Now().Add(-time.Minute)}}); err != nil {
		t.Fatal(err)
	}
	l, err := s.ClaimJob(t.Context(), "w", time.Minute)
	if err != nil || l == nil || l.ModelID != m.ID || l.Token != j.Token+1 {
		t.Fatalf("claim after the trace went stale: %+v %v", l, err)
	}
	if got, _ := s.FindModel(t.Context(), m.ID); got.Status != ophicleide.StatusTraining {
		t.Fatalf("model %s", got.Status)
	}
}
