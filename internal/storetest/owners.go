package storetest

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// testUsage: ModelStore.Usage, what the per-key quotas count: models
// queued or training, and bytes of uploads still kept plus vectors, of
// one owner only, through a model's whole life.
func testUsage(t *testing.T, open opener) {
	wantUsage := func(t *testing.T, s ophicleide.Store, owner string, want ophicleide.Usage) {
		t.Helper()
		got, err := s.Usage(ctx(t), owner)
		if err != nil || got != want {
			t.Fatalf("Usage(%q) = %+v, %v; want %+v", owner, got, err, want)
		}
	}
	upload := func(n int) map[string]io.Reader {
		return map[string]io.Reader{"a.txt": strings.NewReader(strings.Repeat("x", n))}
	}
	vectors := func(n int) func(io.Writer) error {
		return func(w io.Writer) error { _, err := w.Write(bytes.Repeat([]byte{1}, n)); return err }
	}

	t.Run("Lifecycle", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		alice := "alice\x00:o:/ é" // any string names a key
		wantUsage(t, s, alice, ophicleide.Usage{})
		m1, m2 := NewModel(0), NewModel(time.Second)
		for _, m := range []*ophicleide.Model{m1, m2} {
			m.Owner, m.Uploads = alice, []string{"a.txt"}
			mustCreate(t, s, m, upload(1000))
		}
		other := NewModel(2 * time.Second)
		other.Owner, other.Uploads = "alice", []string{"a.txt"} // a prefix of alice's name
		mustCreate(t, s, other, upload(50))
		open := NewModel(3 * time.Second) // no owner: an open server's
		mustCreate(t, s, open, nil)
		wantUsage(t, s, alice, ophicleide.Usage{Active: 2, Bytes: 2000})
		wantUsage(t, s, "alice", ophicleide.Usage{Active: 1, Bytes: 50})
		wantUsage(t, s, "", ophicleide.Usage{Active: 1})
		wantUsage(t, s, "bob", ophicleide.Usage{})

		// Training is active; a completed job's uploads go and its
		// vectors count; a failed job counts nothing.
		l1 := mustClaim(t, s, "w", time.Minute)
		if l1.ModelID != m1.ID {
			t.Fatalf("claimed %s, want m1", l1.ModelID)
		}
		wantUsage(t, s, alice, ophicleide.Usage{Active: 2, Bytes: 2000})
		if err := s.PutVectors(ctx(t), l1, vectors(300)); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteJob(ctx(t), l1, ophicleide.Completion{Stats: ophicleide.Stats{VocabSize: 1}}); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, s, alice, ophicleide.Usage{Active: 1, Bytes: 1300})
		l2 := mustClaim(t, s, "w", time.Minute)
		if err := s.FailJob(ctx(t), l2, "no"); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, s, alice, ophicleide.Usage{Active: 0, Bytes: 300})

		// An import counts its vectors; a deletion forgets the model.
		imp := NewModel(4 * time.Second)
		imp.Owner, imp.URLs, imp.Callback = alice, nil, ""
		if err := s.ImportModel(ctx(t), imp, vectors(70)); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, s, alice, ophicleide.Usage{Active: 0, Bytes: 370})
		if err := s.DeleteModel(ctx(t), m1.ID); err != nil {
			t.Fatal(err)
		}
		wantUsage(t, s, alice, ophicleide.Usage{Active: 0, Bytes: 70})
		wantUsage(t, s, "alice", ophicleide.Usage{Active: 1, Bytes: 50})
		if got := mustFind(t, s, imp.ID).Owner; got != alice {
			t.Fatalf("imported model's owner %q, want %q", got, alice)
		}
	})
}
