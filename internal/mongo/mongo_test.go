package mongo

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

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
	page, err := s.PageQueries(ctx, "", ophicleide.Page{})
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
