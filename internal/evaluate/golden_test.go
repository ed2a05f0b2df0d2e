package evaluate

// The golden test: the vectors in testdata/eval/golden-vectors.txt were
// scored by shared/bench/eval.py (the commands are in
// testdata/eval/README.md) and the figures it wrote are in the
// golden-eval-*.json files; this package must find the same ones.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

var update = flag.Bool("update", false, "rewrite testdata/eval/golden-vectors.txt; then rerun eval.py by hand as testdata/eval/README.md says")

const testdataDir = "../../testdata/eval"

// goldenRuns are the eval.py runs recorded in testdata/eval: the JSON it
// wrote and the arguments it was given (0 restrict = eval.py's default).
var goldenRuns = []struct {
	json, questions string
	restrict        int
	ws353, simlex   string
	pairsRestrict   int
}{
	{"golden-eval-default.json", "questions-words.txt", 0, "wordsim353.tsv", "simlex999.txt", 0},
	{"golden-eval-restricted.json", "questions-words.txt", 1500, "MEN_dataset_natural_form_full", "EN-RW-STANFORD.txt", 2500},
	{"golden-eval-extra.json", "golden-extra-questions.txt", 0, "golden-extra-pairs.txt", "simlex999.txt", 0},
}

// pyResult is the part of eval.py's JSON output the test compares.
type pyResult struct {
	Analogy struct {
		RestrictVocab int     `json:"restrict_vocab"`
		Questions     int     `json:"questions"`
		Scored        int     `json:"scored"`
		Coverage      float64 `json:"coverage"`
		Semantic      pyScore `json:"semantic"`
		Syntactic     pyScore `json:"syntactic"`
		Total         pyScore `json:"total"`
		Sections      []struct {
			Section string `json:"section"`
			Correct int    `json:"correct"`
			Total   int    `json:"total"`
		} `json:"sections"`
	} `json:"analogy"`
	WS353  pyPairs `json:"ws353"`
	SimLex pyPairs `json:"simlex"`
}

type pyScore struct {
	Correct  int     `json:"correct"`
	Total    int     `json:"total"`
	Accuracy float64 `json:"accuracy"` // NaN (read as 0) when Total is 0
}

type pyPairs struct {
	Pairs    int     `json:"pairs"`
	Scored   int     `json:"scored"`
	Coverage float64 `json:"coverage"`
	Spearman float64 `json:"spearman"`
	Pearson  float64 `json:"pearson"`
}

func readPyResult(t *testing.T, name string) pyResult {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	// Python's json writes NaN for undefined figures; this package gives 0.
	b = bytes.ReplaceAll(b, []byte("NaN"), []byte("null"))
	var r pyResult
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func TestGoldenAgainstEvalPy(t *testing.T) {
	if *update {
		writeGoldenVectors(t)
	}
	s := readTextVectors(t, filepath.Join(testdataDir, "golden-vectors.txt"))
	ctx := context.Background()
	for _, run := range goldenRuns {
		t.Run(run.json, func(t *testing.T) {
			want := readPyResult(t, run.json)

			got, err := Analogies(ctx, s, openTestdata(t, run.questions), run.restrict)
			if err != nil {
				t.Fatal(err)
			}
			wa := want.Analogy
			if got.Restrict != wa.RestrictVocab || got.Questions != wa.Questions || got.Scored != wa.Scored || !near(got.Coverage, wa.Coverage, 1e-12) {
				t.Errorf("analogies: restrict %d questions %d scored %d coverage %v; eval.py %d %d %d %v",
					got.Restrict, got.Questions, got.Scored, got.Coverage, wa.RestrictVocab, wa.Questions, wa.Scored, wa.Coverage)
			}
			for _, c := range []struct {
				name string
				got  Score
				want pyScore
			}{{"semantic", got.Semantic, wa.Semantic}, {"syntactic", got.Syntactic, wa.Syntactic}, {"total", got.Total, wa.Total}} {
				if c.got.Correct != c.want.Correct || c.got.Total != c.want.Total || !near(c.got.Accuracy, c.want.Accuracy, 1e-12) {
					t.Errorf("analogies %s: %+v; eval.py %+v", c.name, c.got, c.want)
				}
			}
			if len(got.Sections) != len(wa.Sections) {
				t.Fatalf("analogies: %d sections; eval.py %d", len(got.Sections), len(wa.Sections))
			}
			for i, g := range got.Sections {
				w := wa.Sections[i]
				if g.Section != w.Section || g.Correct != w.Correct || g.Total != w.Total {
					t.Errorf("analogies section %d: %+v; eval.py %+v", i, g, w)
				}
			}
			if wa.Total.Correct == 0 {
				t.Errorf("eval.py found no correct analogy: the golden vectors cannot catch a wrong answer")
			}

			for _, p := range []struct {
				file string
				want pyPairs
			}{{run.ws353, want.WS353}, {run.simlex, want.SimLex}} {
				got, err := Pairs(ctx, s, openTestdata(t, p.file), p.file, run.pairsRestrict)
				if err != nil {
					t.Fatal(err)
				}
				w := p.want
				if got.Pairs != w.Pairs || got.Scored != w.Scored || !near(got.Coverage, w.Coverage, 1e-12) ||
					!near(got.Spearman, w.Spearman, 1e-6) || !near(got.Pearson, w.Pearson, 1e-6) {
					t.Errorf("pairs %s: %+v; eval.py %+v", p.file, got, w)
				}
			}
		})
	}
}

func near(a, b, tol float64) bool { return math.Abs(a-b) <= tol }

func openTestdata(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join(testdataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// readTextVectors reads a word2vec text file ("COUNT DIM" header, then a
// word and DIM numbers a line), keeping the first of repeated words as
// eval.py does. It stands alone so that this test does not depend on the
// vectors package's readers.
func readTextVectors(t *testing.T, path string) *vectors.Set {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	if !sc.Scan() {
		t.Fatalf("%s: no header", path)
	}
	var count, dim int
	if _, err := fmt.Sscanf(sc.Text(), "%d %d", &count, &dim); err != nil {
		t.Fatalf("%s: header %q: %v", path, sc.Text(), err)
	}
	words := make([]string, 0, count)
	vecs := make([]float32, 0, count*dim)
	seen := make(map[string]bool, count)
	for sc.Scan() {
		f := strings.Split(strings.TrimRight(sc.Text(), " "), " ")
		if len(f) != dim+1 {
			t.Fatalf("%s: line %q has %d fields", path, sc.Text(), len(f))
		}
		if seen[f[0]] {
			continue
		}
		seen[f[0]] = true
		words = append(words, f[0])
		for _, v := range f[1:] {
			x, err := strconv.ParseFloat(v, 32)
			if err != nil {
				t.Fatal(err)
			}
			vecs = append(vecs, float32(x))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	s, err := vectors.New(words, dim, vecs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeGoldenVectors writes testdata/eval/golden-vectors.txt: the words of
// the evaluation files (some left out, some in upper or title case, some in
// two spellings with unrelated vectors) plus fillers, in random order, with
// random integer vectors of dimension 20. In four analogy sections the
// second word of each relation pair is the first plus a shared offset plus
// a little noise, so that many, not all, of their questions come out right.
// A few words get zero vectors. Integers make the file read the same in Go
// and Python.
func writeGoldenVectors(t *testing.T) {
	const dim = 20
	rng := rand.New(rand.NewPCG(2026, 11))
	randVec := func(scale int) []int {
		v := make([]int, dim)
		for k := range v {
			v[k] = rng.IntN(2*scale+1) - scale
		}
		return v
	}

	// Words in order of first appearance, keyed by upper case.
	var order []string
	first := map[string]string{}
	inOther := map[string]bool{} // in a file other than RW
	add := func(w string, other bool) {
		k := pyUpper(w)
		if _, ok := first[k]; !ok {
			first[k] = strings.ToLower(w)
			order = append(order, k)
		}
		if other {
			inOther[k] = true
		}
	}
	type rel struct{ x, y string }
	planted := map[string]bool{"capital-common-countries": true, "family": true, "gram3-comparative": true, "gram8-plural": true}
	relations := map[string][]rel{}
	section := ""
	for _, line := range strings.Split(readTestdata(t, "questions-words.txt"), "\n") {
		if strings.HasPrefix(line, ": ") {
			section = strings.TrimSpace(line[2:])
			continue
		}
		w := strings.Fields(line)
		if len(w) != 4 {
			continue
		}
		for _, x := range w {
			add(x, true)
		}
		if planted[section] {
			relations[section] = append(relations[section], rel{pyUpper(w[0]), pyUpper(w[1])}, rel{pyUpper(w[2]), pyUpper(w[3])})
		}
	}
	pairCount := map[string]int{}
	for _, name := range []string{"wordsim353.tsv", "simlex999.txt", "MEN_dataset_natural_form_full", "EN-RW-STANFORD.txt"} {
		pairs, err := ReadPairs(context.Background(), strings.NewReader(readTestdata(t, name)))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pairs {
			add(p.Word1, name != "EN-RW-STANFORD.txt")
			add(p.Word2, name != "EN-RW-STANFORD.txt")
			if name == "wordsim353.tsv" {
				pairCount[pyUpper(p.Word1)]++
				pairCount[pyUpper(p.Word2)]++
			}
		}
	}

	// Leave out 8% of the words and 40% of the words only RW has.
	var keep []string
	for _, k := range order {
		if rng.Float64() < 0.08 || (!inOther[k] && rng.Float64() < 0.4) {
			continue
		}
		keep = append(keep, k)
	}
	kept := map[string]bool{}
	for _, k := range keep {
		kept[k] = true
	}

	vec := map[string][]int{}
	for _, sec := range []string{"capital-common-countries", "family", "gram3-comparative", "gram8-plural"} {
		offset := randVec(40)
		for _, r := range relations[sec] {
			if vec[r.x] == nil {
				vec[r.x] = randVec(50)
			}
			if vec[r.y] == nil {
				v := randVec(3)
				for k := range v {
					v[k] += vec[r.x][k] + offset[k]
				}
				vec[r.y] = v
			}
		}
	}
	// Zero vectors for the three words in most WordSim-353 pairs, so that
	// cosines tie.
	for range 3 {
		best := ""
		for _, k := range keep {
			if vec[k] == nil && pairCount[k] > pairCount[best] {
				best = k
			}
		}
		vec[best] = make([]int, dim)
	}

	type entry struct {
		word string
		v    []int
	}
	var rows []entry
	for _, k := range keep {
		v := vec[k]
		if v == nil {
			v = randVec(50)
		}
		lower := first[k]
		r0, n0 := utf8.DecodeRuneInString(lower)
		title := string(unicode.ToUpper(r0)) + lower[n0:]
		switch p := rng.Float64(); {
		case p < 0.05:
			rows = append(rows, entry{strings.ToUpper(lower), v})
		case p < 0.10:
			rows = append(rows, entry{title, v})
		case p < 0.20 && title != lower:
			rows = append(rows, entry{lower, v}, entry{title, randVec(50)})
		default:
			rows = append(rows, entry{lower, v})
		}
	}
	for i := range 200 {
		rows = append(rows, entry{fmt.Sprintf("filler%03d", i), randVec(50)})
	}
	// Full case folding: "STRASSE" and "straße" are one word to eval.py.
	rows = append(rows, entry{"straße", randVec(50)}, entry{"STRASSE", randVec(50)}, entry{"Ärger", randVec(50)})
	rng.Shuffle(len(rows), func(i, j int) { rows[i], rows[j] = rows[j], rows[i] })

	var b strings.Builder
	fmt.Fprintf(&b, "%d %d\n", len(rows), dim)
	for _, r := range rows {
		b.WriteString(r.word)
		for _, x := range r.v {
			b.WriteByte(' ')
			b.WriteString(strconv.Itoa(x))
		}
		b.WriteByte('\n')
	}
	if err := os.WriteFile(filepath.Join(testdataDir, "golden-vectors.txt"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %d rows; now rerun eval.py as testdata/eval/README.md says", len(rows))
}

func readTestdata(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdataDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
