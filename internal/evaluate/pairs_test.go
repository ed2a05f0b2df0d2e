package evaluate

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func TestReadPairsFormats(t *testing.T) {
	for _, c := range []struct {
		name, in string
		want     []Pair
	}{
		{"WordSim-353 (gensim)", "# The WordSimilarity-353 Test Collection\n# Word 1\tWord 2\tHuman (mean)\nlove\tsex\t6.77\ntiger\tcat\t7.35\n",
			[]Pair{{"love", "sex", 6.77}, {"tiger", "cat", 7.35}}},
		{"MEN natural form", "word1 word2 score\nsun sunlight 50.000000\nautomobile car 50.000000\n",
			[]Pair{{"sun", "sunlight", 50}, {"automobile", "car", 50}}},
		{"SimLex-999 original", "word1\tword2\tPOS\tSimLex999\tconc(w1)\tconc(w2)\tconcQ\tAssoc(USF)\tSimAssoc333\tSD(SimLex)\n" +
			"old\tnew\tA\t1.58\t2.72\t2.81\t2\t7.25\t1\t0.41\nsmart\tintelligent\tA\t9.2\t1.75\t2.46\t1\t7.11\t1\t0.67\n",
			[]Pair{{"old", "new", 1.58}, {"smart", "intelligent", 9.2}}},
		{"RW, CRLF", "squishing\tsquirt\t5.88\r\nundated\tundatable\t5.83\r\n",
			[]Pair{{"squishing", "squirt", 5.88}, {"undated", "undatable", 5.83}}},
		{"CSV with a mean column", "w1,w2,pos,Mean score\n  a , b ,n, 3 \n\n  \nshort,line\n",
			[]Pair{{"a", "b", 3}}},
		{"tab split keeps spaces inside fields", "new york\tcity\t6\n",
			[]Pair{{"new york", "city", 6}}},
		// A non-numeric score with no column name in the row leaves the
		// score column as it was (eval.py): the row is skipped.
		{"unnamed bad row", "a\tb\tn/a\nc\td\t2\n",
			[]Pair{{"c", "d", 2}}},
	} {
		got, err := ReadPairs(context.Background(), strings.NewReader(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %v, want %v", c.name, got, c.want)
		}
	}
}

func TestReadPairsErrors(t *testing.T) {
	for name, in := range map[string]string{
		"empty":             "",
		"comments only":     "# a\n# b\n",
		"header only":       "word1 word2 score\n",
		"analogy file":      ": capital\nAthens Greece Baghdad Iraq\n",
		"nan score":         "a\tb\t1\nc\td\tnan\n",
		"inf score":         "a b -inf\n",
		"score column gone": "word1\tword2\tPOS\tSimLex999\nold\tnew\t1.58\n",
	} {
		if _, err := ReadPairs(context.Background(), strings.NewReader(in)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: err = %v, want ErrFormat", name, err)
		}
	}
	boom := errors.New("boom")
	if _, err := ReadPairs(context.Background(), iotest.ErrReader(boom)); !errors.Is(err, boom) {
		t.Errorf("read error: err = %v", err)
	}
}

// TestPairs uses words at known angles in a plane, so that cos(cat, w) is
// the cosine of w's angle. "TIGER" (180°) comes after "Tiger" (10°) and
// must lose to it; "void" is a zero vector, whose cosines are 0.
func TestPairs(t *testing.T) {
	at := func(deg float64) []float32 {
		r := deg * math.Pi / 180
		return []float32{float32(math.Cos(r)), float32(math.Sin(r))}
	}
	s := newSet(t,
		[]string{"cat", "Tiger", "dog", "car", "rock", "TIGER", "void", "rare"},
		[][]float32{at(0), at(10), at(45), {0, 1}, at(120), at(180), {0, 0}, at(5)})
	ctx := context.Background()
	for _, c := range []struct {
		name     string
		in       string
		restrict int
		pairs    int
		scored   int
		spearman float64
	}{
		// Cosines .985 .707 0 -.5 in the order of the scores, one pair
		// unknown: rho 1.
		{"concordant", "CAT tiger 9\ncat dog 7\ncat unicorn 5\ncat car 2\ncat rock 1\n", 0, 5, 4, 1},
		// Gold ranks 4 3 1 2 against 4 3 2 1: rho = 1 - 6*2/(4*15) = 0.8.
		{"one swap", "cat tiger 9\ncat dog 7\ncat car 0.5\ncat rock 1\n", 0, 4, 4, 0.8},
		// Cosines .985 .707 0 0 (car and the zero vector tie) against gold
		// ranks 4 3 2 1: model ranks 4 3 1.5 1.5, rho = 4.5/sqrt(5*4.5).
		{"tied cosines", "cat tiger 9\ncat dog 7\ncat car 2\ncat void 1\n", 0, 4, 4, 3 / math.Sqrt(10)},
		// Rows 5 and on are out: "rare" is unknown, "TIGER" no longer
		// matters.
		{"restrict", "cat tiger 9\ncat dog 7\ncat rare 8\ncat car 2\ncat rock 1\n", 5, 5, 4, 1},
		// One pair scored: the correlations are undefined, reported as 0.
		{"one scored", "cat dog 7\ncat unicorn 2\n", 0, 2, 1, 0},
		{"none scored", "cat unicorn 7\nlion unicorn 2\n", 0, 2, 0, 0},
	} {
		got, err := Pairs(ctx, s, strings.NewReader(c.in), c.name, c.restrict)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got.Name != c.name || got.Pairs != c.pairs || got.Scored != c.scored ||
			got.Coverage != float64(c.scored)/float64(c.pairs) || math.Abs(got.Spearman-c.spearman) > 1e-9 {
			t.Errorf("%s: got %+v, want pairs %d scored %d spearman %v", c.name, got, c.pairs, c.scored, c.spearman)
		}
		if math.IsNaN(got.Pearson) || (c.scored < 2 && got.Pearson != 0) {
			t.Errorf("%s: Pearson %v", c.name, got.Pearson)
		}
		wantRestrict := c.restrict
		if wantRestrict == 0 {
			wantRestrict = DefaultPairsRestrict
		}
		if got.Restrict != wantRestrict {
			t.Errorf("%s: Restrict %d, want %d", c.name, got.Restrict, wantRestrict)
		}
	}

	// Pearson of the scores 9 7 2 1 and the cosines cos 10°, cos 45°, 0, cos 120°.
	got, err := Pairs(ctx, s, strings.NewReader("cat tiger 9\ncat dog 7\ncat car 2\ncat rock 1\n"), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := Pearson([]float64{9, 7, 2, 1}, []float64{math.Cos(math.Pi / 18), math.Sqrt2 / 2, 0, -0.5})
	if math.Abs(got.Pearson-want) > 1e-6 {
		t.Errorf("Pearson %v, want %v", got.Pearson, want)
	}

	if _, err := Pairs(ctx, s, strings.NewReader(""), "empty", 0); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `"empty"`) {
		t.Errorf("empty file: err = %v", err)
	}
}
