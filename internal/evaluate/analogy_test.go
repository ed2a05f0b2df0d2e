package evaluate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ophicleide/ophicleide/internal/vecmath"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// newSet builds a Set from rows of equal length.
func newSet(t testing.TB, words []string, rows [][]float32) *vectors.Set {
	t.Helper()
	var flat []float32
	for _, r := range rows {
		flat = append(flat, r...)
	}
	s, err := vectors.New(words, len(rows[0]), flat)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// e returns the sum of the unit vectors e_i of dimension 6.
func e(i ...int) []float32 {
	v := make([]float32, 6)
	for _, k := range i {
		v[k]++
	}
	return v
}

// analogySet: king - man + woman = queen and bigger - big + small =
// smaller, with a second spelling of "woman" that must lose, and at row 9
// a word exactly in the direction of the query of "man woman king ?".
func analogySet(t *testing.T) *vectors.Set {
	s2 := float32(1 / math.Sqrt2)
	return newSet(t,
		[]string{"man", "Woman", "king", "queen", "big", "bigger", "small", "smaller", "WOMAN", "queen2"},
		[][]float32{e(0), e(1), e(0, 2), e(1, 2), e(3), e(3, 4), e(5), e(4, 5), e(2, 3),
			{-1 + s2, 1, s2, 0, 0, 0}})
}

const analogyFile = `man woman king queen
: family
MAN WOMAN King Queen
man king big queen
man woman king emperor
: gram1-size
big bigger small smaller
King Queen man woman
: family
`

func TestAnalogies(t *testing.T) {
	s := analogySet(t)
	got, err := Analogies(context.Background(), s, strings.NewReader(analogyFile), 9)
	if err != nil {
		t.Fatal(err)
	}
	want := AnalogyResult{
		Questions: 6, Scored: 5, Coverage: 5.0 / 6,
		Semantic:  Score{2, 3, 2.0 / 3},
		Syntactic: Score{2, 2, 1},
		Total:     Score{4, 5, 0.8},
		Sections: []SectionScore{
			{"default", 1, 1},
			{"family", 1, 2}, // "man king big queen" answers "bigger"; "emperor" is unknown
			{"gram1-size", 2, 2},
			{"family", 0, 0},
		},
		Restrict: 9,
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Analogies =\n%+v, want\n%+v", got, want)
	}

	// With the default restrict, "queen2" is a candidate and beats
	// "queen" in both "man woman king queen" questions.
	got, err = Analogies(context.Background(), s, strings.NewReader(analogyFile), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Restrict != DefaultAnalogyRestrict || got.Total.Correct != 2 || got.Sections[0].Correct != 0 {
		t.Errorf("default restrict: %+v", got)
	}

	// A question is scored only when all four words are in the first
	// restrict rows.
	got, err = Analogies(context.Background(), s, strings.NewReader("man woman king queen2\n"), 9)
	if err != nil {
		t.Fatal(err)
	}
	if got.Questions != 1 || got.Scored != 0 {
		t.Errorf("word past restrict: %+v", got)
	}
}

func TestAnalogiesNoneScored(t *testing.T) {
	s := analogySet(t)
	got, err := Analogies(context.Background(), s, strings.NewReader(": capital\nParis France Rome Italy\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	want := AnalogyResult{Questions: 1, Sections: []SectionScore{{"capital", 0, 0}}, Restrict: DefaultAnalogyRestrict}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Analogies = %+v, want %+v", got, want)
	}
}

func TestAnalogiesErrors(t *testing.T) {
	s := analogySet(t)
	for name, in := range map[string]string{
		"empty":         "",
		"no questions":  ": family\nman woman king\n\n",
		"not questions": "word1\tword2\tscore\nold\tnew\t1.58\n",
	} {
		if _, err := Analogies(context.Background(), s, strings.NewReader(in), 0); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", name, err)
		}
	}
	boom := errors.New("boom")
	if _, err := Analogies(context.Background(), s, iotest.ErrReader(boom), 0); !errors.Is(err, boom) {
		t.Errorf("read error: err = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Analogies(ctx, s, strings.NewReader(analogyFile), 0); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestAnswerEdgeCases(t *testing.T) {
	s := newSet(t,
		[]string{"a", "zero", "b", "c", "d", "d2"},
		[][]float32{e(0), e(), e(1), e(2), e(1, 2), e(1, 2)})
	for _, c := range []struct {
		name string
		n    int
		q    question
		want int
	}{
		{"best", 6, question{a: 0, b: 2, c: 3}, 4},
		{"tie goes to the earlier row", 6, question{a: 0, b: 3, c: 2}, 4},
		{"a, b, c excluded", 6, question{a: 0, b: 4, c: 5}, 2},
		// -a + a + 0 has no direction: the first row that is not a, b or c.
		{"zero query", 6, question{a: 0, b: 0, c: 1}, 2},
		{"zero query, row 0 free", 6, question{a: 2, b: 2, c: 1}, 0},
		{"every row excluded", 2, question{a: 0, b: 1, c: 1}, 0},
	} {
		got, err := answer(context.Background(), s, c.n, []question{c.q})
		if err != nil {
			t.Fatal(err)
		}
		if got[0] != c.want {
			t.Errorf("%s: answer %d, want %d", c.name, got[0], c.want)
		}
	}
}

// randomSet returns n random words of dimension dim, named w0, w1, ...
func randomSet(t testing.TB, n, dim int, seed uint64) *vectors.Set {
	rng := rand.New(rand.NewPCG(seed, 1))
	words := make([]string, n)
	vecs := make([]float32, n*dim)
	for i := range words {
		words[i] = fmt.Sprintf("w%d", i)
	}
	for i := range vecs {
		vecs[i] = float32(rng.NormFloat64())
	}
	s, err := vectors.New(words, dim, vecs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The parallel, blocked search gives the answers of a plain loop.
func TestAnswerMatchesPlainLoop(t *testing.T) {
	const n, dim = 700, 16
	s := randomSet(t, n, dim, 7)
	rng := rand.New(rand.NewPCG(8, 1))
	qs := make([]question, 3*answerBlock+5)
	for j := range qs {
		qs[j] = question{rng.IntN(n), rng.IntN(n), rng.IntN(n), rng.IntN(n)}
	}
	for _, limit := range []int{n, 300} {
		got, err := answer(context.Background(), s, limit, qs)
		if err != nil {
			t.Fatal(err)
		}
		q := make([]float32, dim)
		for j, x := range qs {
			query(q, s.UnitRow(x.a), s.UnitRow(x.b), s.UnitRow(x.c))
			best, want := float32(math.Inf(-1)), 0
			for i := range limit {
				if i == x.a || i == x.b || i == x.c {
					continue
				}
				if v := vecmath.Dot(q, s.UnitRow(i)); v > best {
					best, want = v, i
				}
			}
			if got[j] != want {
				t.Errorf("limit %d question %d: answer %d, want %d", limit, j, got[j], want)
			}
		}
	}
}

// BenchmarkAnalogies scores 1,000 questions against 30,000 rows of
// dimension 100, the size of the medium corpus model's search.
func BenchmarkAnalogies(b *testing.B) {
	const n, dim, nq = 30000, 100, 1000
	s := randomSet(b, n, dim, 1)
	rng := rand.New(rand.NewPCG(2, 1))
	var text strings.Builder
	text.WriteString(": gram-bench\n")
	for range nq {
		fmt.Fprintf(&text, "w%d w%d w%d w%d\n", rng.IntN(n), rng.IntN(n), rng.IntN(n), rng.IntN(n))
	}
	file := text.String()
	for b.Loop() {
		res, err := Analogies(context.Background(), s, strings.NewReader(file), n)
		if err != nil || res.Scored != nq {
			b.Fatal(res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/nq/1e3, "µs/question")
}
