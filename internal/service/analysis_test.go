package service

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
)

// TestMapCachedAndDroppedWithModel: a model's map is computed once,
// whatever the count and however many ask at once, shared by the counts
// (a prefix), and forgotten when the model is deleted.
func TestMapCachedAndDroppedWithModel(t *testing.T) {
	ctx := context.Background()
	store, err := bolt.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	models, queries := New(store, 64<<20, Config{})
	var b strings.Builder
	fmt.Fprintf(&b, "%d 3\n", 6000)
	for i := range 6000 {
		fmt.Fprintf(&b, "w%d %d %d %d\n", i, i%7+1, i%11, i%13)
	}
	m, err := models.Import(ctx, "six-thousand", strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	maps := make([]*ophicleide.WordMap, 8)
	for i := range maps {
		wg.Go(func() {
			wm, err := queries.Map(ctx, m.ID, 1+i*700)
			if err != nil {
				t.Error(err)
			}
			maps[i] = wm
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	full, _ := queries.Map(ctx, m.ID, ophicleide.MaxMapWords)
	if len(full.Words) != ophicleide.MaxMapWords || full.Words[0] != "w0" {
		t.Fatalf("map of %d words, first %q", len(full.Words), full.Words[0])
	}
	for i, wm := range maps {
		if n := 1 + i*700; len(wm.Words) != n || wm.Points[n-1] != full.Points[n-1] || &wm.Points[0] != &full.Points[0] {
			t.Fatalf("map of %d: %d words, not a prefix of the cached map", n, len(wm.Words))
		}
	}
	if n := queries.cache.maps.len(); n != 1 {
		t.Fatalf("%d maps cached", n)
	}
	for _, count := range []int{0, -1, ophicleide.MaxMapWords + 1} {
		if _, err := queries.Map(ctx, m.ID, count); ophicleide.ErrorCode(err) != ophicleide.EINVALID {
			t.Fatalf("count %d: %v", count, err)
		}
	}
	if err := models.Delete(ctx, m.ID); err != nil {
		t.Fatal(err)
	}
	if n := queries.cache.maps.len(); n != 0 {
		t.Fatalf("%d maps cached after the delete", n)
	}
	if _, err := queries.Map(ctx, m.ID, 10); ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
		t.Fatalf("map of a deleted model: %v", err)
	}
}

// TestAlignmentsCachedAndDropped: a pair is aligned once whatever the
// word or moved count, each direction is its own, at most maxAlignments
// are kept, and a deleted model's go.
func TestAlignmentsCachedAndDropped(t *testing.T) {
	ctx := context.Background()
	store, err := bolt.Open(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	models, queries := New(store, 64<<20, Config{})
	var ids []string
	for k := range 6 {
		var b strings.Builder
		fmt.Fprintf(&b, "50 3\n")
		for i := range 50 {
			fmt.Fprintf(&b, "w%d %d %d %d\n", i, (i+k)%7+1, i%11, (i*k)%13)
		}
		m, err := models.Import(ctx, fmt.Sprint("m", k), strings.NewReader(b.String()))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	compare := func(a, b, word string, moved int) *ophicleide.Comparison {
		t.Helper()
		c, err := queries.Compare(ctx, ophicleide.CompareRequest{A: a, B: b, Word: word, Count: 3, Moved: moved})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1 := compare(ids[0], ids[1], "", 5)
	c2 := compare(ids[0], ids[1], "w3", 10)
	if n := queries.cache.align.len(); n != 1 || fmt.Sprint(c1.Moved) != fmt.Sprint(c2.Moved[:5]) || c2.Neighbours == nil {
		t.Fatalf("%d alignments; %v / %v", n, c1.Moved, c2.Moved[:5])
	}
	compare(ids[1], ids[0], "", 1)
	if n := queries.cache.align.len(); n != 2 {
		t.Fatalf("%d alignments after the other direction", n)
	}
	for _, a := range ids {
		for _, b := range ids {
			compare(a, b, "", 1)
		}
	}
	if n := queries.cache.align.len(); n != maxAlignments {
		t.Fatalf("%d alignments kept, want %d", n, maxAlignments)
	}
	if err := models.Delete(ctx, ids[5]); err != nil {
		t.Fatal(err)
	}
	queries.cache.align.mu.Lock()
	for k := range queries.cache.align.entries {
		if k[0] == ids[5] || k[1] == ids[5] {
			t.Errorf("an alignment of the deleted model is kept: %v", k)
		}
	}
	if len(queries.cache.align.entries) != len(queries.cache.align.order) {
		t.Errorf("%d entries, %d in order", len(queries.cache.align.entries), len(queries.cache.align.order))
	}
	queries.cache.align.mu.Unlock()
}
