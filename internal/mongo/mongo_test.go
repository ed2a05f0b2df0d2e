package mongo

import (
	"testing"

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
