package vectors

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// TestAnalogyCosMulHandComputed: unit vectors in the plane whose
// cosines are exact, the scores worked out by hand.
func TestAnalogyCosMulHandComputed(t *testing.T) {
	s := mustSet(t, []string{"a", "b", "c", "d", "e"}, 2,
		1, 0, // a
		0, 1, // b
		-1, 0, // c: cos(c,a) = -1 -> 0: scores 0
		0, -1, // d: cos(d,a) = 0 -> 0.5; cos(d,b) = -1 -> 0: 0.5/1e-6
		3, 4, // e: cos(e,a) = 0.6 -> 0.8; cos(e,b) = 0.8 -> 0.9: 0.8/0.900001
	)
	got, err := s.AnalogyCosMul([]string{"a"}, []string{"b"}, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []Neighbor{{"d", 0.5 / 1e-6}, {"e", 0.8 / 0.900001}, {"c", 0}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i].Word != want[i].Word || math.Abs(float64(got[i].Score-want[i].Score)) > 1e-5*math.Max(1, float64(want[i].Score)) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	// restrict: only a..c are candidates, a and b are the input.
	if got, _ := s.AnalogyCosMul([]string{"a"}, []string{"b"}, 3, 3); len(got) != 1 || got[0].Word != "c" {
		t.Fatalf("restrict 3: %v", got)
	}
}

// gensimCosMul is gensim's most_similar_cosmul written out in float64:
// pos_dists = (1 + dot(vectors, term)/norms)/2 for each unit term,
// prod(pos)/(prod(neg) + 1e-6), input words dropped, best first.
func gensimCosMul(s *Set, pos, neg []string, n, restrict int) []Neighbor {
	rows := s.Len()
	if restrict > 0 && restrict < rows {
		rows = restrict
	}
	unit := func(w string) []float64 {
		i, _ := s.Index(w)
		v := s.Row(i)
		var n2 float64
		for _, x := range v {
			n2 += float64(x) * float64(x)
		}
		out := make([]float64, len(v))
		for j, x := range v {
			out[j] = float64(x) / math.Sqrt(n2)
		}
		return out
	}
	dist := func(r int, term []float64) float64 {
		var dot, n2 float64
		for j, x := range s.Row(r) {
			dot += float64(x) * term[j]
			n2 += float64(x) * float64(x)
		}
		return (1 + dot/math.Sqrt(n2)) / 2
	}
	type sc struct {
		row   int
		score float64
	}
	var all []sc
	for r := range rows {
		if slices.Contains(pos, s.Word(r)) || slices.Contains(neg, s.Word(r)) {
			continue
		}
		num, den := 1.0, 1.0
		for _, w := range pos {
			num *= dist(r, unit(w))
		}
		for _, w := range neg {
			den *= dist(r, unit(w))
		}
		all = append(all, sc{r, num / (den + 1e-6)})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].score > all[j].score })
	var out []Neighbor
	for _, x := range all[:min(n, len(all))] {
		out = append(out, Neighbor{s.Word(x.row), float32(x.score)})
	}
	return out
}

func TestAnalogyCosMulMatchesGensimFormula(t *testing.T) {
	s := randomSet(t, 3000, 24, 7)
	for _, tc := range []struct {
		pos, neg    []string
		n, restrict int
	}{
		{[]string{"w1", "w2"}, []string{"w3"}, 10, 0},
		{[]string{"w10"}, nil, 5, 0},
		{[]string{"w5", "w6", "w7"}, []string{"w8", "w9"}, 20, 1000},
		{[]string{"w2999"}, []string{"w0"}, 3, 10}, // inputs beyond restrict
	} {
		got, err := s.AnalogyCosMul(tc.pos, tc.neg, tc.n, tc.restrict)
		if err != nil {
			t.Fatal(err)
		}
		want := gensimCosMul(s, tc.pos, tc.neg, tc.n, tc.restrict)
		if len(got) != len(want) {
			t.Fatalf("%+v: %d results, want %d", tc, len(got), len(want))
		}
		for i := range want {
			if got[i].Word != want[i].Word || math.Abs(float64(got[i].Score-want[i].Score)) > 1e-5 {
				t.Fatalf("%+v: result %d %v, want %v", tc, i, got[i], want[i])
			}
		}
	}
}

func TestAnalogyCosMulErrors(t *testing.T) {
	s := randomSet(t, 50, 4, 1)
	if _, err := s.AnalogyCosMul(nil, []string{"w1"}, 3, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no positive: %v", err)
	}
	var uw *UnknownWordError
	if _, err := s.AnalogyCosMul([]string{"w1"}, []string{"zz"}, 3, 0); !errors.As(err, &uw) || uw.Word != "zz" {
		t.Fatalf("unknown negative: %v", err)
	}
	if got, err := s.AnalogyCosMul([]string{"w1"}, nil, 0, 0); err != nil || len(got) != 0 {
		t.Fatalf("n 0: %v %v", got, err)
	}
	if got, _ := s.AnalogyCosMul([]string{"w1"}, nil, 1000, 0); len(got) != 49 {
		t.Fatalf("n above the rows: %d results", len(got))
	}
}

func TestNearestAndAnalogyRestricted(t *testing.T) {
	s := randomSet(t, 5000, 16, 3)
	for _, restrict := range []int{1, 2, 100, 4999, 5000, 1 << 30, 0, -5} {
		i, _ := s.Index("w4000")
		got, err := s.NearestIn("w4000", 10, restrict)
		if err != nil {
			t.Fatal(err)
		}
		if want := naiveSearch(s, s.UnitRow(i), 10, restrict, []int{i}); !equalNeighbors(got, want) {
			t.Fatalf("NearestIn restrict %d: %v, want %v", restrict, got, want)
		}
		for _, w := range got {
			if r, _ := s.Index(w.Word); restrict > 0 && r >= restrict {
				t.Fatalf("restrict %d returned row %d", restrict, r)
			}
		}
		an, err := s.AnalogyIn([]string{"w1", "w4000"}, []string{"w2"}, 5, restrict)
		if err != nil {
			t.Fatal(err)
		}
		all, _ := s.Analogy([]string{"w1", "w4000"}, []string{"w2"}, 5000)
		var want []Neighbor
		for _, n := range all {
			if r, _ := s.Index(n.Word); (restrict <= 0 || r < restrict) && len(want) < 5 {
				want = append(want, n)
			}
		}
		if !equalNeighbors(an, want) {
			t.Fatalf("AnalogyIn restrict %d: %v, want %v", restrict, an, want)
		}
	}
	if _, err := s.NearestIn("nope", 3, 10); err == nil {
		t.Fatal("unknown word accepted")
	}
}

func TestOddOneOut(t *testing.T) {
	s := mustSet(t, []string{"a", "b", "c", "z", "zero"}, 2,
		1, 0,
		1, 0.1,
		0.9, 0.1,
		-1, 1,
		0, 0)
	odd, scores, err := s.OddOneOut([]string{"a", "z", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if odd != 1 {
		t.Fatalf("odd %d, scores %v", odd, scores)
	}
	// By hand: each unit vector against the normalised sum of the others.
	u := func(x, y float64) [2]float64 { n := math.Hypot(x, y); return [2]float64{x / n, y / n} }
	vs := [][2]float64{u(1, 0), u(-1, 1), u(1, 0.1), u(0.9, 0.1)}
	for k := range vs {
		var o [2]float64
		for m := range vs {
			if m != k {
				o[0] += vs[m][0]
				o[1] += vs[m][1]
			}
		}
		want := (vs[k][0]*o[0] + vs[k][1]*o[1]) / math.Hypot(o[0], o[1])
		if math.Abs(float64(scores[k])-want) > 1e-6 {
			t.Fatalf("score %d: %v, want %v", k, scores[k], want)
		}
	}
	if _, _, err := s.OddOneOut([]string{"a", "b"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("two words: %v", err)
	}
	if _, _, err := s.OddOneOut([]string{"a", "b", "a"}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a repeated word: %v", err)
	}
	var uw *UnknownWordError
	if _, _, err := s.OddOneOut([]string{"a", "b", "q"}); !errors.As(err, &uw) || uw.Word != "q" {
		t.Fatalf("unknown: %v", err)
	}
	// A zero vector scores 0 and nothing is NaN.
	_, scores, err = s.OddOneOut([]string{"a", "b", "zero"})
	if err != nil || scores[2] != 0 || slices.ContainsFunc(scores, func(f float32) bool { return f != f }) {
		t.Fatalf("zero row: %v %v", scores, err)
	}
}

func TestPCA2KnownSet(t *testing.T) {
	w := []float32{0, 0.6, 0.8}
	s := mustSet(t, []string{"e1", "m1", "e1b", "m1b", "w", "mw", "rare"}, 3,
		1, 0, 0,
		-1, 0, 0,
		2, 0, 0, // scaled: PCA works on unit vectors
		-1, 0, 0,
		w[0], w[1], w[2],
		-w[0], -w[1], -w[2],
		0, 0, 1) // beyond rows: not used
	pts, explained, err := s.PCA2(6)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1, 0, -1, 0, 1, 0, -1, 0, 0, 1, 0, -1}
	for i := range want {
		if math.Abs(float64(pts[i]-want[i])) > 1e-6 {
			t.Fatalf("points %v, want %v", pts, want)
		}
	}
	if math.Abs(explained[0]-4.0/6) > 1e-6 || math.Abs(explained[1]-2.0/6) > 1e-6 {
		t.Fatalf("explained %v", explained)
	}
	for _, rows := range []int{0, 1} {
		pts, _, err := s.PCA2(rows)
		if err != nil || len(pts) != 2*rows || (rows == 1 && (pts[0] != 0 || pts[1] != 0)) {
			t.Fatalf("%d rows: %v %v", rows, pts, err)
		}
	}
	one := mustSet(t, []string{"x", "y", "z"}, 1, 1, -2, 3)
	if pts, _, err := one.PCA2(10); err != nil || len(pts) != 6 || pts[1] != 0 || pts[0] == 0 {
		t.Fatalf("dimension 1: %v %v", pts, err)
	}
}

// TestPCA2RandomSet: the coordinates are uncorrelated, centred, and their
// variances are the two largest eigenvalues of the covariance (the
// squares of the largest singular values of the centred rows).
func TestPCA2RandomSet(t *testing.T) {
	s := randomSet(t, 800, 12, 9)
	pts, _, err := s.PCA2(500)
	if err != nil {
		t.Fatal(err)
	}
	x := mat.NewDense(500, 12, nil)
	for i := range 500 {
		u := s.UnitRow(i)
		for j, v := range u {
			x.Set(i, j, float64(v))
		}
	}
	for j := range 12 {
		col := mat.Col(nil, j, x)
		m := 0.0
		for _, v := range col {
			m += v / 500
		}
		for i := range col {
			x.Set(i, j, col[i]-m)
		}
	}
	var svd mat.SVD
	if !svd.Factorize(x, mat.SVDNone) {
		t.Fatal("svd")
	}
	sv := svd.Values(nil)
	var sx, sy, sxx, syy, sxy float64
	for i := range 500 {
		px, py := float64(pts[2*i]), float64(pts[2*i+1])
		sx, sy, sxx, syy, sxy = sx+px, sy+py, sxx+px*px, syy+py*py, sxy+px*py
	}
	if math.Abs(sx) > 1e-3 || math.Abs(sy) > 1e-3 || math.Abs(sxy) > 1e-3 {
		t.Fatalf("not centred or correlated: %v %v %v", sx, sy, sxy)
	}
	if math.Abs(sxx-sv[0]*sv[0]) > 1e-3*sxx || math.Abs(syy-sv[1]*sv[1]) > 1e-3*syy {
		t.Fatalf("variances %v %v, want %v %v", sxx, syy, sv[0]*sv[0], sv[1]*sv[1])
	}
}

// rotated returns a set with the words of s (in the order of perm) whose
// vectors are s's times the orthogonal q^T, so that aligning it onto s
// recovers q; the rows of the words in moved get random vectors instead.
func rotated(t *testing.T, s *Set, q *mat.Dense, perm []int, moved map[string]bool, rng *rand.Rand) *Set {
	d := s.Dim()
	words := make([]string, len(perm))
	vecs := make([]float32, len(perm)*d)
	for k, i := range perm {
		words[k] = s.Word(i)
		row := s.Row(i)
		for j := range d {
			var v float64
			for m := range d {
				v += float64(row[m]) * q.At(j, m) // (row q^T)_j
			}
			vecs[k*d+j] = float32(v)
			if moved[words[k]] {
				vecs[k*d+j] = rng.Float32()*2 - 1
			}
		}
	}
	return mustSet(t, words, d, vecs...)
}

func randomRotation(d int, rng *rand.Rand) *mat.Dense {
	g := mat.NewDense(d, d, nil)
	for i := range d {
		for j := range d {
			g.Set(i, j, rng.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(g)
	var q mat.Dense
	qr.QTo(&q)
	return &q
}

func TestProcrustesRecoversRotation(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	s := randomSet(t, 2000, 20, 11)
	q := randomRotation(20, rng)
	perm := rng.Perm(2000) // another frequency order
	b := rotated(t, s, q, perm, nil, rng)
	c, err := Compare(s, b, CompareOptions{Align: 2000, Scan: 20000, Moved: 5, Neighbours: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c.Shared != 2000 || c.Aligned != 2000 || c.Scanned != 2000 {
		t.Fatalf("counts %+v", c)
	}
	for i := range 20 {
		for j := range 20 {
			if math.Abs(c.Rotation[i*20+j]-q.At(i, j)) > 1e-6 {
				t.Fatalf("R[%d][%d] = %v, want %v", i, j, c.Rotation[i*20+j], q.At(i, j))
			}
		}
	}
	for _, m := range c.Moved {
		if m.Distance > 1e-5 {
			t.Fatalf("a rotated word moved: %+v", m)
		}
	}
}

func TestCompareFindsPerturbedWords(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	s := randomSet(t, 3000, 16, 12)
	q := randomRotation(16, rng)
	moved := map[string]bool{}
	for _, i := range []int{3, 70, 400, 1200, 2500, 2999} {
		moved[s.Word(i)] = true
	}
	// b lacks the last 100 words of s and has 50 of its own.
	perm := rng.Perm(2900)
	b := rotated(t, s, q, perm, moved, rng)
	words := slices.Clone(b.Words())
	vecs := slices.Clone(b.vecs)
	for i := range 50 {
		words = append(words, fmt.Sprintf("only%d", i))
		for range 16 {
			vecs = append(vecs, rng.Float32())
		}
	}
	b = mustSet(t, words, 16, vecs...)
	c, err := Compare(s, b, CompareOptions{Align: 3000, Scan: 20000, Moved: 5, Neighbours: 3})
	if err != nil {
		t.Fatal(err)
	}
	if c.Shared != 2900 || c.Scanned != 2900 {
		t.Fatalf("counts %+v", c)
	}
	for _, m := range c.Moved {
		if !moved[m.Word] || m.Word == s.Word(2999) || m.Distance < 0.2 || len(m.A) != 3 || len(m.B) != 3 {
			t.Fatalf("moved %+v, perturbed %v", c.Moved, moved)
		}
		if slices.Contains(m.A, m.Word) || slices.Contains(m.B, m.Word) {
			t.Fatalf("a word is its own neighbour: %+v", m)
		}
	}
	if len(c.Moved) != 5 {
		t.Fatalf("%d moved", len(c.Moved))
	}
	// Scan bounds the words measured: the perturbed w400 and later are beyond 300.
	c, _ = Compare(s, b, CompareOptions{Align: 3000, Scan: 300, Moved: 10, Neighbours: 1})
	if c.Scanned != 300 || c.Moved[0].Word != "w3" && c.Moved[0].Word != "w70" || c.Moved[2].Distance > 1e-3 {
		t.Fatalf("scan 300: %+v", c.Moved[:3])
	}
}

func TestCompareSameAndDifferentDims(t *testing.T) {
	s := randomSet(t, 500, 8, 2)
	c, err := Compare(s, s, CompareOptions{Align: 100, Scan: 500, Moved: 3, Neighbours: 2})
	if err != nil {
		t.Fatal(err)
	}
	if c.Aligned != 100 || c.Moved[0].Distance > 1e-6 || !slices.Equal(c.Moved[0].A, c.Moved[0].B) {
		t.Fatalf("same set: %+v", c)
	}
	if _, err := Compare(s, randomSet(t, 10, 9, 2), CompareOptions{Align: 10, Scan: 10, Moved: 1}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("dims differ: %v", err)
	}
	// Nothing shared: identity, nothing moved.
	other := mustSet(t, []string{"x", "y"}, 8, make([]float32, 16)...)
	if c, err := Compare(s, other, CompareOptions{Align: 10, Scan: 10, Moved: 3}); err != nil || c.Shared != 0 || len(c.Moved) != 0 {
		t.Fatalf("nothing shared: %+v %v", c, err)
	}
}

func TestWriteTSV(t *testing.T) {
	s := awkwardSet(t)
	var vb, mb bytes.Buffer
	if err := WriteTSV(&vb, s); err != nil {
		t.Fatal(err)
	}
	if err := WriteTSVMetadata(&mb, s); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(vb.String(), "\n"), "\n")
	words := strings.Split(strings.TrimSuffix(mb.String(), "\n"), "\n")
	if len(lines) != s.Len() || !slices.Equal(words, s.Words()) {
		t.Fatalf("%d rows, words %q", len(lines), words)
	}
	for i, line := range lines {
		fields := strings.Split(line, "\t")
		if len(fields) != s.Dim() {
			t.Fatalf("row %d: %q", i, line)
		}
		for j, f := range fields {
			v, err := strconv.ParseFloat(f, 32)
			if err != nil || float32(v) != s.Row(i)[j] {
				t.Fatalf("row %d value %d: %q, want %v", i, j, f, s.Row(i)[j])
			}
		}
	}
	if err := WriteTSV(bufio.NewWriterSize(&failWriter{}, 16), randomSet(t, 100, 10, 1)); err == nil {
		t.Fatal("a failing writer's error was dropped")
	}
}

// BenchmarkCompare aligns two random 58k x 100 sets (a rotation of each
// other) as GET /compare does: 5,000 aligned, 20,000 scanned, 20 moved.
func BenchmarkCompare(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	s := randomSet(b, 58000, 100, 1)
	q := randomRotation(100, rng)
	d := 100
	vecs := make([]float32, len(s.vecs))
	for i := range s.Len() {
		row := s.Row(i)
		for j := range d {
			var v float64
			for m := range d {
				v += float64(row[m]) * q.At(j, m)
			}
			vecs[i*d+j] = float32(v)
		}
	}
	o, _ := New(slices.Clone(s.Words()), d, vecs)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Compare(s, o, CompareOptions{Align: 5000, Scan: 20000, Moved: 20, Neighbours: 3}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkPCA2 projects the 5,000 first rows of a 58k x 100 set.
func BenchmarkPCA2(b *testing.B) {
	s := randomSet(b, 58000, 100, 1)
	for b.Loop() {
		if _, _, err := s.PCA2(5000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAnalogyCosMul: 3CosMul over 58k x 100.
func BenchmarkAnalogyCosMul(b *testing.B) {
	s := randomSet(b, 58000, 100, 1)
	for b.Loop() {
		if _, err := s.AnalogyCosMul([]string{"w1", "w2"}, []string{"w3"}, 10, 0); err != nil {
			b.Fatal(err)
		}
	}
}
