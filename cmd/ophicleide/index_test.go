package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// TestIndexRebuiltAfterKill: `serve` SIGKILLed while it builds a model's
// approximate index stores nothing of it; the next `serve` on the same
// data directory builds it again as soon as the model is looked at,
// answers meanwhile (exactly), stores it, and the one after that finds it
// stored without building. The threshold is lowered with
// --index-min-words so that a test model is worth an index.
func TestIndexRebuiltAfterKill(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	args := []string{"serve", "--data-dir", dir, "--workers", "0", "--index-min-words", "1000"}
	p := startProc(t, bin, args...)

	// 30,000 clustered words x 32: a build of a few seconds on one core.
	rng := rand.New(rand.NewPCG(8, 1))
	const n, dim = 30000, 32
	centres := make([]float64, 40*dim)
	for i := range centres {
		centres[i] = rng.NormFloat64()
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%d %d\n", n, dim)
	for i := range n {
		c := rng.IntN(40)
		fmt.Fprintf(&b, "w%d", i)
		for j := range dim {
			fmt.Fprintf(&b, " %.3f", centres[c*dim+j]+rng.NormFloat64())
		}
		b.WriteByte('\n')
	}
	resp, err := http.Post(p.base+"/models/import?name=big", "application/octet-stream", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var m ophicleide.Model
	json.NewDecoder(resp.Body).Decode(&m)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("import: %d", resp.StatusCode)
	}
	index := func(base string) *ophicleide.IndexState {
		t.Helper()
		resp, err := http.Get(base + "/models/" + m.ID)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Model ophicleide.Model }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body.Model.Index
	}
	waitFor := func(base string, ok func(*ophicleide.IndexState) bool) *ophicleide.IndexState {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			st := index(base)
			if ok(st) {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("index state %+v", st)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	st := waitFor(p.base, func(st *ophicleide.IndexState) bool {
		return st != nil && st.Status == ophicleide.IndexBuilding && st.Fraction > 0
	})
	p.stop() // SIGKILL, mid-build
	if st.Fraction >= 1 {
		t.Fatalf("killed too late: %+v", st)
	}
	t.Logf("killed at %+v", st)
	stored := filepath.Join(dir, "index", m.ID+".ann")
	if _, err := os.Stat(stored); !os.IsNotExist(err) {
		t.Fatalf("a build killed midway left an index: %v", err)
	}

	// The next process: exact answers at once, the index built again.
	p = startProc(t, bin, args...)
	similar := func(base string) {
		t.Helper()
		resp, err := http.Get(base + "/models/" + m.ID + "/similar?word=w1&count=10")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("similar: %d", resp.StatusCode)
		}
	}
	similar(p.base)
	waitFor(p.base, func(st *ophicleide.IndexState) bool { return st != nil && st.Status == ophicleide.IndexReady })
	similar(p.base)
	if c := strings.Count(p.logs.String(), "building an index"); c != 1 {
		t.Errorf("%d builds after the restart, want 1:\n%s", c, p.logs.String())
	}
	if _, err := os.Stat(stored); err != nil {
		t.Fatalf("the rebuilt index was not stored: %v", err)
	}
	p.stop()

	// And the one after finds it stored.
	p = startProc(t, bin, args...)
	waitFor(p.base, func(st *ophicleide.IndexState) bool { return st != nil && st.Status == ophicleide.IndexReady })
	if strings.Contains(p.logs.String(), "building an index") {
		t.Errorf("a stored index was built again:\n%s", p.logs.String())
	}
}
