package storetest

import (
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/subword"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// testSubwordVectors: a model trained with subwords keeps its n-gram
// rows through the store (they are part of the Compact file it stores),
// large enough that the embedded store's file is mapped when loaded.
func testSubwordVectors(t *testing.T, open opener) {
	t.Parallel()
	s := open(t)
	const n, dim, bucket = 2000, 50, 4000 // 0.4 + 0.8 MB
	rng := rand.New(rand.NewPCG(15, 1))
	words := make([]string, n)
	vecs := make([]float32, n*dim)
	for i := range words {
		words[i] = "w" + string(rune('a'+i%26)) + string(rune('a'+i/26%26)) + string(rune('a'+i/676))
	}
	for i := range vecs {
		vecs[i] = rng.Float32() - 0.5
	}
	set, err := vectors.New(words, dim, vecs)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]float32, bucket*dim)
	for i := range rows {
		rows[i] = rng.Float32() - 0.5
	}
	if err := set.SetSubwords(&vectors.Subwords{Config: subword.Config{MinN: 3, MaxN: 6, Bucket: bucket}, Rows: rows}); err != nil {
		t.Fatal(err)
	}
	m := NewModel(0)
	m.URLs = []string{}
	if err := s.ImportModel(ctx(t), m, func(w io.Writer) error { return vectors.WriteCompact(w, set) }); err != nil {
		t.Fatalf("ImportModel: %v", err)
	}
	rc, err := s.OpenVectors(ctx(t), m.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := vectors.Load(rc)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	sw := got.Subwords()
	if sw == nil || sw.Config != set.Subwords().Config || !slices.Equal(sw.Rows, rows) {
		t.Fatalf("subwords after the store: %v", sw != nil)
	}
	if !slices.Equal(got.Words(), words) {
		t.Fatal("words changed")
	}
	// A query of an unseen word keeps its mark, and in the history.
	q := &ophicleide.Query{ID: NewID(), Word: "darcys", ModelID: m.ID, ModelName: m.Name, OOV: true,
		Results: []ophicleide.Result{{Word: "darcy", Score: 0.9}}, Created: base}
	if err := s.CreateQuery(ctx(t), q); err != nil {
		t.Fatal(err)
	}
	if got, err := s.FindQuery(ctx(t), q.ID); err != nil || !got.OOV {
		t.Fatalf("FindQuery of an oov query: %+v %v", got, err)
	}
	page, err := s.PageQueries(ctx(t), ophicleide.QueryFilter{Model: m.ID}, ophicleide.Page{Limit: 10})
	if err != nil || len(page.Queries) != 1 || !page.Queries[0].OOV {
		t.Fatalf("PageQueries of an oov query: %+v %v", page, err)
	}
	for _, w := range []string{"waaa", "darcys"} {
		a, aoov, err := got.WordVector(w)
		b, boov, _ := set.WordVector(w)
		if err != nil || aoov != boov || !slices.Equal(a, b) {
			t.Fatalf("WordVector(%q) after the store: %v %v", w, aoov, err)
		}
	}
}
