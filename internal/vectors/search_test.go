package vectors

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"testing"

	"github.com/ophicleide/ophicleide/internal/vecmath"
)

// randomSet returns a set of n random words of dimension dim, values
// uniform in [-1, 1), from a fixed seed.
func randomSet(tb testing.TB, n, dim int, seed uint64) *Set {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 42))
	words := make([]string, n)
	vecs := make([]float32, n*dim)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	for i := range vecs {
		vecs[i] = rng.Float32()*2 - 1
	}
	s, err := New(words, dim, vecs)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// naiveSearch scores every allowed row and fully sorts: the reference.
func naiveSearch(s *Set, query []float32, n, restrict int, exclude []int) []Neighbor {
	q := slices.Clone(query)
	if norm := math.Sqrt(float64(vecmath.Dot(q, q))); norm > 0 {
		vecmath.Scale(float32(1/norm), q)
	}
	return naiveUnitSearch(s, q, n, restrict, exclude)
}

// naiveUnitSearch is naiveSearch for a query already of unit length.
func naiveUnitSearch(s *Set, q []float32, n, restrict int, exclude []int) []Neighbor {
	rows := s.Len()
	if restrict > 0 && restrict < rows {
		rows = restrict
	}
	type scored struct {
		row   int
		score float32
	}
	var all []scored
	for i := range rows {
		if slices.Contains(exclude, i) {
			continue
		}
		all = append(all, scored{i, s.score(q, i)})
	}
	slices.SortStableFunc(all, func(a, b scored) int {
		switch {
		case a.score > b.score:
			return -1
		case a.score < b.score:
			return 1
		}
		return 0 // stable: lower row first
	})
	if n <= 0 {
		return nil
	}
	out := []Neighbor{}
	for _, a := range all[:min(n, len(all))] {
		out = append(out, Neighbor{s.Word(a.row), a.score})
	}
	return out
}

func equalNeighbors(a, b []Neighbor) bool {
	if len(a) == 0 && len(b) == 0 {
		return true
	}
	return slices.Equal(a, b)
}

func TestSearchMatchesNaiveSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	// 300 rows: serial; 16000x64 = 1.02M values: split across cores.
	for _, size := range []struct{ rows, dim int }{{300, 16}, {16_000, 64}} {
		s := randomSet(t, size.rows, size.dim, uint64(size.rows))
		if size.rows == 16_000 && size.rows*size.dim < parallelMinValues {
			t.Fatalf("%d values no longer reach parallelMinValues: grow the test set", size.rows*size.dim)
		}
		if size.rows*size.dim >= parallelMinValues && runtime.GOMAXPROCS(0) < 2 {
			t.Logf("GOMAXPROCS=1: the parallel path is not exercised")
		}
		for q := range 60 {
			query := make([]float32, size.dim)
			for i := range query {
				query[i] = rng.Float32()*4 - 2
			}
			if q%10 == 0 { // exactly a row: ties with itself, scores near 1
				copy(query, s.Row(rng.IntN(size.rows)))
			}
			n := []int{1, 3, 10, 100, size.rows + 5}[q%5]
			restrict := []int{0, -1, size.rows / 3, size.rows * 2, 1}[q%5]
			var exclude []int
			for range q % 4 {
				exclude = append(exclude, rng.IntN(size.rows))
			}
			if q%7 == 0 {
				exclude = append(exclude, -1, size.rows+3) // out of range: ignored
			}
			if q == 59 { // many exclusions take the map path
				for i := range 40 {
					exclude = append(exclude, i*3)
				}
			}
			got := s.Search(query, n, restrict, exclude)
			want := naiveSearch(s, query, n, restrict, exclude)
			if !equalNeighbors(got, want) {
				t.Fatalf("%dx%d query %d n=%d restrict=%d exclude=%v:\n got %v\nwant %v",
					size.rows, size.dim, q, n, restrict, exclude, got, want)
			}
		}
	}
}

func TestSearchTiesLowerRowFirst(t *testing.T) {
	// Rows 1, 3 and 4 point the same way; 0 and 2 elsewhere.
	s, err := New([]string{"a", "b", "c", "d", "e"}, 2, []float32{
		0, 1,
		2, 0,
		0, -1,
		1, 0,
		5, 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	got := s.Search([]float32{3, 0}, 2, 0, nil)
	want := []Neighbor{{"b", 1}, {"d", 1}}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	got = s.Search([]float32{3, 0}, 10, 0, []int{3})
	want = []Neighbor{{"b", 1}, {"e", 1}, {"a", 0}, {"c", 0}}
	if !slices.Equal(got, want) {
		t.Errorf("with exclude: got %v, want %v", got, want)
	}
}

// Ties across the chunks of a split search still go to the lower rows.
func TestSearchTiesAcrossChunks(t *testing.T) {
	const rows, dim = 20_000, 64
	if rows*dim < parallelMinValues {
		t.Fatal("set too small to be split")
	}
	base := randomSet(t, 3, dim, 11)
	words := make([]string, rows)
	vecs := make([]float32, 0, rows*dim)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
		vecs = append(vecs, base.Row(i%3)...)
	}
	s, err := New(words, dim, vecs)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Search(base.Row(1), 50, 0, []int{4})
	for i, nb := range got {
		row := 1 + 3*i
		if row >= 4 {
			row += 3 // 4 excluded
		}
		if want := fmt.Sprintf("w%d", row); nb.Word != want {
			t.Fatalf("result %d is %s, want %s: %v", i, nb.Word, want, got)
		}
	}
	if len(got) != 50 {
		t.Errorf("%d results, want 50", len(got))
	}
}

func TestSearchEdgeCases(t *testing.T) {
	s := randomSet(t, 20, 4, 1)
	q := []float32{1, 2, 3, 4}
	if got := s.Search(q, 0, 0, nil); len(got) != 0 {
		t.Errorf("n=0: got %v", got)
	}
	if got := s.Search(q, -3, 0, nil); len(got) != 0 {
		t.Errorf("n<0: got %v", got)
	}
	if got := s.Search(q, 50, 0, nil); len(got) != 20 {
		t.Errorf("n>Len: got %d results, want 20", len(got))
	}
	if got := s.Search(q, 50, 5, []int{0, 1, 2, 3, 4}); len(got) != 0 {
		t.Errorf("all restricted rows excluded: got %v", got)
	}
	// A zero query scores everything 0: first rows win.
	got := s.Search(make([]float32, 4), 3, 0, []int{1})
	want := []Neighbor{{"w0", 0}, {"w2", 0}, {"w3", 0}}
	if !slices.Equal(got, want) {
		t.Errorf("zero query: got %v, want %v", got, want)
	}
	// Query scale does not matter.
	a, b := s.Search(q, 5, 0, nil), s.Search([]float32{10, 20, 30, 40}, 5, 0, nil)
	for i := range a {
		if a[i].Word != b[i].Word || math.Abs(float64(a[i].Score-b[i].Score)) > 1e-6 {
			t.Errorf("scaled query: %v vs %v", a, b)
			break
		}
	}
	empty, err := New(nil, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := empty.Search([]float32{1, 2, 3}, 5, 0, nil); len(got) != 0 {
		t.Errorf("empty set: got %v", got)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Search with a query of the wrong length did not panic")
			}
		}()
		s.Search([]float32{1}, 1, 0, nil)
	}()
}

// analogySet has words placed so that king - man + woman = queen.
func analogySet(t *testing.T) *Set {
	t.Helper()
	s, err := New(
		[]string{"king", "man", "woman", "queen", "apple", "prince"}, 3,
		[]float32{
			1, 1, 0, // king: royal + male
			0, 1, 0, // man
			0, 0, 1, // woman
			1, 0, 1, // queen
			-1, 0, 0, // apple
			1, 1.2, 0.1, // prince
		})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNearest(t *testing.T) {
	s := analogySet(t)
	got, err := s.Nearest("king", 2)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Word != "prince" {
		t.Errorf("Nearest(king) = %v, want prince first", got)
	}
	for _, nb := range got {
		if nb.Word == "king" {
			t.Errorf("Nearest(king) contains king: %v", got)
		}
	}
	all, _ := s.Nearest("king", 100)
	if len(all) != s.Len()-1 {
		t.Errorf("Nearest(king, 100) has %d words, want %d", len(all), s.Len()-1)
	}
	var uw *UnknownWordError
	if _, err := s.Nearest("nope", 3); !errors.As(err, &uw) || uw.Word != "nope" {
		t.Errorf("Nearest(nope) error = %v, want *UnknownWordError", err)
	}

	// Against the reference on a random set.
	r := randomSet(t, 500, 32, 3)
	for i := 0; i < r.Len(); i += 37 {
		got, _ := r.Nearest(r.Word(i), 10)
		want := naiveUnitSearch(r, r.UnitRow(i), 10, 0, []int{i})
		if !slices.Equal(got, want) {
			t.Fatalf("Nearest(%s):\n got %v\nwant %v", r.Word(i), got, want)
		}
	}
}

func TestAnalogy(t *testing.T) {
	s := analogySet(t)
	got, err := s.Analogy([]string{"king", "woman"}, []string{"man"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Word != "queen" {
		t.Errorf("king - man + woman = %v, want queen", got)
	}

	// gensim's formula on a random set: mean of weighted unit vectors.
	r := randomSet(t, 400, 24, 5)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 30 {
		var pos, neg []string
		var idx []int
		mean := make([]float32, r.Dim())
		for range 1 + rng.IntN(3) {
			i := rng.IntN(r.Len())
			pos, idx = append(pos, r.Word(i)), append(idx, i)
			vecmath.Axpy(1, r.UnitRow(i), mean)
		}
		for range rng.IntN(3) {
			i := rng.IntN(r.Len())
			neg, idx = append(neg, r.Word(i)), append(idx, i)
			vecmath.Axpy(-1, r.UnitRow(i), mean)
		}
		vecmath.Scale(1/float32(len(idx)), mean)
		got, err := r.Analogy(pos, neg, 7)
		if err != nil {
			t.Fatal(err)
		}
		want := naiveSearch(r, mean, 7, 0, idx)
		if !slices.Equal(got, want) {
			t.Fatalf("Analogy(%v, %v):\n got %v\nwant %v", pos, neg, got, want)
		}
	}
	// Only negatives is allowed, as in gensim.
	if _, err := s.Analogy(nil, []string{"apple"}, 2); err != nil {
		t.Errorf("negative only: %v", err)
	}
}

func TestAnalogyErrors(t *testing.T) {
	s := analogySet(t)
	if _, err := s.Analogy(nil, nil, 3); !errors.Is(err, ErrInvalid) {
		t.Errorf("no words: error %v, want ErrInvalid", err)
	}
	var uw *UnknownWordError
	_, err := s.Analogy([]string{"king", "x1"}, []string{"x2"}, 3)
	if !errors.As(err, &uw) || uw.Word != "x1" {
		t.Errorf("error %v, want unknown x1", err)
	}
	_, err = s.Analogy([]string{"king"}, []string{"man", "x2", "x3"}, 3)
	if !errors.As(err, &uw) || uw.Word != "x2" {
		t.Errorf("error %v, want unknown x2", err)
	}
}

func TestSimilarity(t *testing.T) {
	s := analogySet(t)
	sim, err := s.Similarity("king", "queen")
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(float64(sim)-0.5) > 1e-6 {
		t.Errorf("Similarity(king, queen) = %v, want 0.5", sim)
	}
	if sim, _ := s.Similarity("man", "woman"); sim != 0 {
		t.Errorf("Similarity(man, woman) = %v, want 0", sim)
	}
	if sim, _ := s.Similarity("apple", "apple"); math.Abs(float64(sim)-1) > 1e-6 {
		t.Errorf("Similarity(apple, apple) = %v, want 1", sim)
	}
	var uw *UnknownWordError
	if _, err := s.Similarity("king", "zz"); !errors.As(err, &uw) || uw.Word != "zz" {
		t.Errorf("error %v, want unknown zz", err)
	}
	if _, err := s.Similarity("yy", "zz"); !errors.As(err, &uw) || uw.Word != "yy" {
		t.Errorf("error %v, want unknown yy", err)
	}
}

// BenchmarkNearest is the headline number: nearest 10 among 58,000 words
// of dimension 100 (gensim: 1.21 ms).
func BenchmarkNearest(b *testing.B) {
	s := randomSet(b, 58_000, 100, 1)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := s.Nearest(s.Word(i%s.Len()), 10); err != nil {
			b.Fatal(err)
		}
		i += 7919
	}
}

// BenchmarkSearchSplit measures serial against split search for growing
// sets of dimension 100; it sets parallelMinValues.
func BenchmarkSearchSplit(b *testing.B) {
	s := randomSet(b, 58_000, 100, 1)
	q := s.UnitRow(12)
	for _, rows := range []int{500, 1000, 2000, 5000, 10_000, 58_000} {
		b.Run(fmt.Sprintf("rows=%d/serial", rows), func(b *testing.B) {
			for b.Loop() {
				s.scan(q, 0, rows, 10, nil)
			}
		})
		b.Run(fmt.Sprintf("rows=%d/split", rows), func(b *testing.B) {
			for b.Loop() {
				s.topKSplit(q, rows, 10, runtime.GOMAXPROCS(0))
			}
		})
	}
}
