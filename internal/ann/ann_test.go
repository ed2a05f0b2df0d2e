package ann

import (
	"bytes"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/vectors"
	"github.com/ophicleide/ophicleide/internal/word2vec"
)

func build(t testing.TB, set *vectors.Set, cfg Config) *Index {
	t.Helper()
	ix, err := Build(context.Background(), set, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ix
}

// checkExactScores: every result is scored bit for bit as the exact scan
// scores it, results are best first with ties by the lower row, and none
// is excluded.
func checkExactScores(t *testing.T, set *vectors.Set, q []float32, got []vectors.Neighbor, exclude []int) {
	t.Helper()
	all := set.SearchExact(q, set.Len(), 0, nil)
	score := make(map[string]float32, len(all))
	for _, n := range all {
		score[n.Word] = n.Score
	}
	for i, g := range got {
		if s, ok := score[g.Word]; !ok || s != g.Score {
			t.Fatalf("result %d %q scored %v, the exact scan %v", i, g.Word, g.Score, s)
		}
		r, _ := set.Index(g.Word)
		if slices.Contains(exclude, r) {
			t.Fatalf("result %d is excluded row %d", i, r)
		}
		if i > 0 {
			p, _ := set.Index(got[i-1].Word)
			if got[i-1].Score < g.Score || (got[i-1].Score == g.Score && p > r) {
				t.Fatalf("results %d and %d out of order", i-1, i)
			}
		}
	}
}

func TestRecallSynthetic(t *testing.T) {
	set := synthetic(t, 50_000, 100, 1)
	ix := build(t, set, Config{})
	r := recallAt(t, ix, 10, ix.Ef(), 1000, 3)
	t.Logf("recall@10 at ef %d: %.4f (50k x 100 synthetic)", ix.Ef(), r)
	if r < 0.98 {
		t.Errorf("recall@10 %.4f, want >= 0.98", r)
	}
	// A narrow beam must do worse: the recall figure measures something.
	if r1 := recallAt(t, ix, 10, 1, 300, 3); r1 >= r {
		t.Errorf("recall at ef 1 %.4f not below ef %d's %.4f", r1, ix.Ef(), r)
	}
	rng := rand.New(rand.NewPCG(5, 5))
	for range 50 {
		i := rng.IntN(set.Len())
		q := set.Row(i)
		checkExactScores(t, set, q, ix.Search(q, 10, []int{i}), []int{i})
	}
}

// trained trains skip-gram vectors on the two books of testdata.
func trained(t testing.TB) *vectors.Set {
	t.Helper()
	var src multi
	for _, name := range []string{"pride-and-prejudice_1342-0.txt", "alice-in-wonderland_11-0.txt"} {
		f, err := os.Open(filepath.Join("..", "..", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		sc, err := tokenize.NewScanner(f, tokenize.Options{})
		if err != nil {
			t.Fatal(err)
		}
		src = append(src, sc)
	}
	res, err := word2vec.Train(context.Background(), word2vec.Config{Dim: 100, MinCount: 2, Epochs: 3, Seed: 1, Threads: 1}, &src)
	if err != nil {
		t.Fatal(err)
	}
	return res.Vectors
}

// multi is several scanners one after the other.
type multi []*tokenize.Scanner

func (m *multi) Scan() bool {
	for len(*m) > 0 {
		if (*m)[0].Scan() {
			return true
		}
		if (*m)[0].Err() != nil {
			return false
		}
		*m = (*m)[1:]
	}
	return false
}
func (m *multi) Sentence() [][]byte { return (*m)[0].Sentence() }
func (m *multi) Err() error {
	if len(*m) > 0 {
		return (*m)[0].Err()
	}
	return nil
}

func TestRecallTrained(t *testing.T) {
	set := trained(t)
	ix := build(t, set, Config{})
	r := recallAt(t, ix, 10, ix.Ef(), 1000, 4)
	t.Logf("recall@10 at ef %d: %.4f (%d x %d trained on the two books)", ix.Ef(), r, set.Len(), set.Dim())
	if r < 0.98 {
		t.Errorf("recall@10 %.4f, want >= 0.98", r)
	}
	// Analogy-shaped queries: means of two unit rows, their rows excluded.
	rng := rand.New(rand.NewPCG(6, 6))
	hit, total := 0, 0
	for range 300 {
		a, b := rng.IntN(set.Len()), rng.IntN(set.Len())
		q := set.UnitRow(a)
		for j, v := range set.UnitRow(b) {
			q[j] += v
		}
		ex := []int{a, b}
		want := set.SearchExact(q, 10, 0, ex)
		got := ix.Search(q, 10, ex)
		checkExactScores(t, set, q, got, ex)
		for _, w := range want {
			if slices.ContainsFunc(got, func(g vectors.Neighbor) bool { return g.Word == w.Word }) {
				hit++
			}
		}
		total += len(want)
	}
	if r := float64(hit) / float64(total); r < 0.98 {
		t.Errorf("recall@10 of mean queries %.4f, want >= 0.98", r)
	} else {
		t.Logf("recall@10 of mean queries: %.4f", r)
	}
}

func TestDeterministic(t *testing.T) {
	set := synthetic(t, 6000, 24, 2)
	var files [][]byte
	for _, w := range []int{1, 2, 5} {
		var b bytes.Buffer
		if _, err := build(t, set, Config{Workers: w, Seed: 9}).WriteTo(&b); err != nil {
			t.Fatal(err)
		}
		files = append(files, b.Bytes())
	}
	if !bytes.Equal(files[0], files[1]) || !bytes.Equal(files[0], files[2]) {
		t.Error("the graph depends on the number of workers")
	}
	var b bytes.Buffer
	build(t, set, Config{Workers: 2, Seed: 10}).WriteTo(&b)
	if bytes.Equal(files[0], b.Bytes()) {
		t.Error("another seed gave the same graph")
	}
}

func TestExclude(t *testing.T) {
	set := synthetic(t, 8000, 32, 3)
	ix := build(t, set, Config{})
	q := set.Row(17)
	top := set.SearchExact(q, 40, 0, nil)
	var ex []int
	for _, n := range top[:5] {
		r, _ := set.Index(n.Word)
		ex = append(ex, r)
	}
	ex = append(ex, -1, set.Len(), 1<<40) // out of range: ignored
	got := ix.Search(q, 10, ex)
	if len(got) != 10 {
		t.Fatalf("%d results, want 10", len(got))
	}
	checkExactScores(t, set, q, got, ex)
	// More than 16 excluded (the map path): the best 30 rows.
	ex = ex[:0]
	for _, n := range top[:30] {
		r, _ := set.Index(n.Word)
		ex = append(ex, r)
	}
	got = ix.Search(q, 10, ex)
	if len(got) != 10 {
		t.Fatalf("%d results, want 10", len(got))
	}
	checkExactScores(t, set, q, got, ex)
	if got[0].Word != top[30].Word {
		t.Errorf("best after excluding 30: %q, want %q", got[0].Word, top[30].Word)
	}
}

func TestLargeK(t *testing.T) {
	set := synthetic(t, 3000, 16, 4)
	ix := build(t, set, Config{})
	q := set.Row(5)
	for _, k := range []int{set.Len() / exactShare, set.Len() - 1, set.Len(), 10 * set.Len()} {
		got := ix.Search(q, k, []int{5})
		want := set.SearchExact(q, k, 0, []int{5})
		if len(got) != min(k, set.Len()-1) || !slices.Equal(got, want) {
			t.Errorf("k %d: %d results, want the exact scan's %d", k, len(got), len(want))
		}
	}
	if got := ix.Search(q, 0, nil); got != nil {
		t.Errorf("k 0: %v", got)
	}
	if got := ix.Search(q, -3, nil); got != nil {
		t.Errorf("k -3: %v", got)
	}
	if got := ix.Search(q, math.MaxInt, []int{5}); len(got) != set.Len()-1 {
		t.Errorf("k MaxInt: %d results, want %d", len(got), set.Len()-1)
	}
	if got := ix.SearchEf(q, 5, math.MaxInt, nil); !slices.Equal(got, set.SearchExact(q, 5, 0, nil)) {
		t.Errorf("ef MaxInt: %v", got)
	}
	if got := ix.SearchEf(q, 5, 0, nil); len(got) != 5 {
		t.Errorf("ef 0: %d results, want 5", len(got))
	}
}

func TestOddQueries(t *testing.T) {
	set := synthetic(t, 3000, 16, 5)
	ix := build(t, set, Config{})
	zero := make([]float32, 16)
	got := ix.Search(zero, 4, []int{1})
	want := []string{"w0", "w2", "w3", "w4"} // every row scores 0: the first, row 1 excluded
	if len(got) != 4 {
		t.Fatalf("zero query: %v", got)
	}
	for i, g := range got {
		if g.Word != want[i] || g.Score != 0 {
			t.Errorf("zero query result %d: %+v, want %s scored 0", i, g, want[i])
		}
	}
	for _, v := range []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1))} {
		q := set.UnitRow(3)
		q[7] = v
		if got := ix.Search(q, 5, nil); got != nil {
			t.Errorf("query with %v: %v, want nil", v, got)
		}
	}
	// A huge finite query is normalised like any other.
	q := set.UnitRow(3)
	for j := range q {
		q[j] *= 1e30
	}
	if got := ix.Search(q, 1, nil); len(got) != 1 || got[0].Word != "w3" {
		t.Errorf("scaled row 3: %v", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("a query of the wrong length did not panic")
		}
	}()
	ix.Search(make([]float32, 15), 5, nil)
}

func TestBuildCancel(t *testing.T) {
	set := synthetic(t, 20_000, 16, 6)
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	ix, err := Build(ctx, set, Config{}, func(done, total int) {
		calls++
		if done >= total/4 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || ix != nil {
		t.Fatalf("cancelled build: %v, %v", ix, err)
	}
	cancel()
	if _, err := Build(ctx, set, Config{}, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("build with a cancelled context: %v", err)
	}
}

func TestBuildProgress(t *testing.T) {
	set := synthetic(t, 5000, 16, 7)
	last := 0
	_, err := Build(context.Background(), set, Config{}, func(done, total int) {
		if total != set.Len() || done <= last || done > total {
			t.Fatalf("progress %d/%d after %d", done, total, last)
		}
		last = done
	})
	if err != nil || last != set.Len() {
		t.Fatalf("progress ended at %d of %d: %v", last, set.Len(), err)
	}
}

func TestConfigBounds(t *testing.T) {
	set := synthetic(t, 100, 8, 8)
	for _, c := range []Config{{M: 1}, {M: MaxM + 1}, {M: -2}, {EfConstruction: -1}, {EfConstruction: MaxEf + 1}, {Ef: -5}, {Ef: MaxEf + 1}} {
		if _, err := Build(context.Background(), set, c, nil); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v, want ErrInvalid", c, err)
		}
	}
	empty, err := vectors.New(nil, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Build(context.Background(), empty, Config{}, nil); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty set: %v, want ErrInvalid", err)
	}
	// The smallest sets still answer (from the exact scan).
	one, _ := vectors.New([]string{"a"}, 2, []float32{1, 0})
	ix := build(t, one, Config{})
	if got := ix.Search([]float32{1, 1}, 3, nil); len(got) != 1 || got[0].Word != "a" {
		t.Errorf("one row: %v", got)
	}
	if got := ix.Search([]float32{1, 1}, 3, []int{0}); len(got) != 0 {
		t.Errorf("one row excluded: %v", got)
	}
}

func TestAttach(t *testing.T) {
	set := synthetic(t, 2000, 8, 9)
	if set.Approx() != nil {
		t.Fatal("a new set has an index")
	}
	ix := build(t, set, Config{})
	set.SetApprox(ix)
	if set.Approx() != vectors.Approx(ix) {
		t.Error("Approx is not the index attached")
	}
	if ix.Bytes() < int64(4*2*DefaultM*set.Len()) {
		t.Errorf("Bytes %d below the layer 0 links", ix.Bytes())
	}
	set.SetApprox(nil)
	if set.Approx() != nil {
		t.Error("SetApprox(nil) left an index")
	}
}

func TestWorth(t *testing.T) {
	if Worth(DefaultMinRows-1) || !Worth(DefaultMinRows) || !Worth(3_000_000) {
		t.Error("Worth's threshold")
	}
}

// Big sets get the wider construction beam by default (recall at 3M rows
// fell to 0.96 with the narrow one); a beam given explicitly is kept.
func TestEfConstructionDefaultBySize(t *testing.T) {
	for _, c := range []struct {
		rows, given, want int
	}{{BigRows - 1, 0, DefaultEfConstruction}, {BigRows, 0, BigEfConstruction}, {3 * BigRows, 0, BigEfConstruction}, {3 * BigRows, 64, 64}, {10, 64, 64}} {
		cfg, err := Config{EfConstruction: c.given}.withDefaults(c.rows)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.EfConstruction != c.want {
			t.Errorf("%d rows, EfConstruction %d given: %d, want %d", c.rows, c.given, cfg.EfConstruction, c.want)
		}
	}
}
