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
