package fasttext

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide/internal/subword"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// randomSet is a set of n words of dimension dim with random rows and
// random subwords (cfg), as a trainer would leave it.
func randomSet(t testing.TB, words []string, dim int, cfg subword.Config, seed uint64) *vectors.Set {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 1))
	vecs := make([]float32, len(words)*dim)
	for i := range vecs {
		vecs[i] = rng.Float32() - 0.5
	}
	s, err := vectors.New(words, dim, vecs)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Enabled() {
		grams := make([]float32, cfg.Bucket*dim)
		for i := range grams {
			grams[i] = rng.Float32() - 0.5
		}
		if err := s.SetSubwords(&vectors.Subwords{Config: cfg, Rows: grams}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

var testWords = []string{EOS, "the", "darcy", "elizabeth", "bingley", "pride", "prejudice", "naïve", "日本語", "a", "x"}

// probeWords are in and out of testWords' vocabulary.
var probeWords = []string{"the", "darcy", "naïve", "日本語", "a", "darcys", "elizabethan", "unseen", "zz", "café"}

func writeBin(t testing.TB, s *vectors.Set, m *Meta) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, s, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func near(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

func TestRoundTrip(t *testing.T) {
	cfg := subword.Config{MinN: 3, MaxN: 6, Bucket: 1000}
	s := randomSet(t, testWords, 8, cfg, 1)
	data := writeBin(t, s, nil)
	if !IsModel(data) {
		t.Fatal("IsModel false on a written model")
	}
	got, m, err := Read(bytes.NewReader(data), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != Version || m.Args.Dim != 8 || m.Args.MinN != 3 || m.Args.MaxN != 6 || m.Args.Bucket != 1000 || m.Args.Model != SkipGram || m.Args.Loss != NS {
		t.Fatalf("args %+v", m.Args)
	}
	if m.Counts[0] != int64(len(testWords)) || m.Counts[len(testWords)-1] != 1 || m.NTokens != int64(len(testWords)*(len(testWords)+1)/2) {
		t.Fatalf("synthesised counts %v, tokens %d", m.Counts, m.NTokens)
	}
	if got.Len() != s.Len() || got.Subwords() == nil || got.Subwords().Config != cfg {
		t.Fatalf("read %d words, subwords %+v", got.Len(), got.Subwords())
	}
	for _, w := range append(probeWords, EOS) {
		want, woov, err1 := s.WordVector(w)
		have, hoov, err2 := got.WordVector(w)
		if err1 != nil || err2 != nil || woov != hoov || !near(want, have, 1e-5) {
			t.Errorf("%q: read %v (oov %v, %v), wrote %v (oov %v, %v)", w, have, hoov, err2, want, woov, err1)
		}
	}
	// Real counts are kept, and the file says the same again.
	counts := make([]int64, s.Len())
	for i := range counts {
		counts[i] = int64(1000 - 3*i)
	}
	args := DefaultArgs(8)
	args.Epoch, args.Model = 7, CBOW
	_, m2, err := Read(bytes.NewReader(writeBin(t, s, &Meta{Args: args, Counts: counts})), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m2.Args.Epoch != 7 || m2.Args.Model != CBOW || m2.Counts[3] != 991 || m2.Args.Bucket != 1000 {
		t.Fatalf("meta %+v", m2)
	}
}

func TestWithoutSubwords(t *testing.T) {
	s := randomSet(t, testWords, 4, subword.Config{}, 2)
	got, m, err := Read(bytes.NewReader(writeBin(t, s, nil)), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Args.MaxN != 0 || m.Args.Bucket != 0 || got.Subwords() != nil {
		t.Fatalf("args %+v, subwords %v", m.Args, got.Subwords())
	}
	if !near(got.Row(2), s.Row(2), 0) {
		t.Fatal("rows differ")
	}
	if _, _, err := got.WordVector("unseen"); err == nil {
		t.Fatal("an unseen word has a vector without subwords")
	}
}

func TestWriteRefuses(t *testing.T) {
	s := randomSet(t, []string{"a\x00b", "c"}, 2, subword.Config{}, 3)
	var b bytes.Buffer
	if err := Write(&b, s, nil); !errors.Is(err, ErrInvalid) || b.Len() != 0 {
		t.Fatalf("NUL in a word: %v, %d bytes written", err, b.Len())
	}
	s = randomSet(t, []string{"a", "b"}, 2, subword.Config{}, 3)
	for _, c := range [][]int64{{1}, {1, 0}, {5, -1}, {math.MaxInt64, 1}} {
		if err := Write(&b, s, &Meta{Counts: c}); !errors.Is(err, ErrInvalid) || b.Len() != 0 {
			t.Fatalf("counts %v: %v", c, err)
		}
	}
}

// header builds the start of a model file up to the dictionary's entries.
func header(args Args, size, nwords, nlabels int32, ntokens, pruneidx int64) []byte {
	var b []byte
	le := binary.LittleEndian
	b = le.AppendUint32(b, Magic)
	b = le.AppendUint32(b, Version)
	for _, v := range []int32{args.Dim, args.WS, args.Epoch, args.MinCount, args.Neg, args.WordNgrams,
		int32(args.Loss), int32(args.Model), args.Bucket, args.MinN, args.MaxN, args.LRUpdateRate} {
		b = le.AppendUint32(b, uint32(v))
	}
	b = le.AppendUint64(b, math.Float64bits(args.T))
	b = le.AppendUint32(b, uint32(size))
	b = le.AppendUint32(b, uint32(nwords))
	b = le.AppendUint32(b, uint32(nlabels))
	b = le.AppendUint64(b, uint64(ntokens))
	b = le.AppendUint64(b, uint64(pruneidx))
	return b
}

func TestMalformed(t *testing.T) {
	cfg := subword.Config{MinN: 2, MaxN: 4, Bucket: 50}
	s := randomSet(t, testWords, 3, cfg, 4)
	good := writeBin(t, s, nil)
	// Every truncation is an error, never a panic.
	for n := 0; n < len(good); n++ {
		if _, _, err := Read(bytes.NewReader(good[:n]), Limits{}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("truncated at %d of %d: %v", n, len(good), err)
		}
	}
	args := DefaultArgs(3)
	args.Bucket, args.MinN, args.MaxN = 50, 2, 4
	type tc struct {
		name string
		data []byte
		want error
	}
	flip := func(off int, v byte) []byte { b := bytes.Clone(good); b[off] = v; return b }
	dictStart := len(header(args, 0, 0, 0, 0, 0))
	quantOff := bytes.Index(good[dictStart:], []byte("x\x00")) + dictStart + 2 + 8 + 1
	huge := DefaultArgs(3)
	huge.Dim = 1 << 30
	hugeBucket := args
	hugeBucket.Bucket = math.MaxInt32
	badN := args
	badN.MinN = 5
	noBucket := args
	noBucket.Bucket = 0
	cases := []tc{
		{"empty", nil, ErrMalformed},
		{"magic", flip(0, 0), ErrMalformed},
		{"version 13", flip(4, 13), ErrUnsupported},
		{"huge dimension", header(huge, 1, 1, 0, 1, -1), ErrMalformed},
		{"huge bucket", header(hugeBucket, 1, 1, 0, 1, -1), ErrMalformed},
		{"minn above maxn", header(badN, 1, 1, 0, 1, -1), ErrMalformed},
		{"maxn without buckets", header(noBucket, 1, 1, 0, 1, -1), ErrMalformed},
		{"2^31-1 entries", header(args, math.MaxInt32, math.MaxInt32, 0, 1, -1), ErrMalformed},
		{"negative entries", header(args, -1, -1, 0, 1, -1), ErrMalformed},
		{"words and labels disagree", header(args, 5, 3, 1, 1, -1), ErrMalformed},
		{"labels only", header(args, 2, 0, 2, 1, -1), ErrUnsupported},
		{"no words", header(args, 0, 0, 0, 0, -1), ErrMalformed},
		{"negative tokens", header(args, 1, 1, 0, -5, -1), ErrMalformed},
		{"huge pruned index", header(args, 1, 1, 0, 1, 1<<40), ErrMalformed},
		{"20M entries, none present", header(args, 20_000_000, 20_000_000, 0, 1, -1), ErrMalformed},
		{"endless word", append(header(args, 1, 1, 0, 1, -1), bytes.Repeat([]byte("a"), 20_000)...), ErrMalformed},
		{"entry type 7", append(header(args, 1, 1, 0, 1, -1), "a\x00\x01\x00\x00\x00\x00\x00\x00\x00\x07"...), ErrMalformed},
		{"a label first", append(header(args, 2, 1, 1, 1, -1), "a\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01"...), ErrMalformed},
		{"quantized", flip(quantOff, 1), ErrUnsupported},
		{"quant byte 2", flip(quantOff, 2), ErrMalformed},
		{"input rows", flip(quantOff+1, good[quantOff+1]+1), ErrMalformed},
		{"input rows 2^62", func() []byte { b := bytes.Clone(good); b[quantOff+8] = 0x40; return b }(), ErrMalformed},
		{"NaN", func() []byte {
			b := bytes.Clone(good)
			binary.LittleEndian.PutUint32(b[quantOff+17:], 0x7fc00000)
			return b
		}(), ErrMalformed},
	}
	// A duplicate word.
	dup := bytes.Clone(good)
	i := bytes.Index(dup, []byte("bingley\x00"))
	copy(dup[i:], "darcy\x00\x00\x00")
	cases = append(cases, tc{"duplicate/empty words", dup, ErrMalformed})
	for _, c := range cases {
		_, _, err := Read(bytes.NewReader(c.data), Limits{})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
			continue
		}
		var fe *Error
		if !errors.As(err, &fe) {
			t.Errorf("%s: %T is not *Error", c.name, err)
		}
	}
	// Limits apply.
	if _, _, err := Read(bytes.NewReader(good), Limits{MaxWords: 3}); !errors.Is(err, ErrMalformed) {
		t.Errorf("MaxWords 3: %v", err)
	}
	if _, _, err := Read(bytes.NewReader(good), Limits{MaxValues: 10}); !errors.Is(err, ErrMalformed) {
		t.Errorf("MaxValues 10: %v", err)
	}
}

// TestHugeDeclaredMatrix: a header that declares a matrix of 2^31 values
// over a few bytes fails without allocating them.
func TestHugeDeclaredMatrix(t *testing.T) {
	args := DefaultArgs(1000)
	args.Bucket = 2_000_000
	b := header(args, 1, 1, 0, 1, -1)
	b = append(b, "a\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint64(b, 2_000_001)
	b = binary.LittleEndian.AppendUint64(b, 1000)
	b = append(b, make([]byte, 4000)...)
	var ms1, ms2 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	if _, _, err := Read(bytes.NewReader(b), Limits{}); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms2)
	if d := ms2.TotalAlloc - ms1.TotalAlloc; d > 16<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte input", d, len(b))
	}
}

func FuzzRead(f *testing.F) {
	cfg := subword.Config{MinN: 2, MaxN: 3, Bucket: 7}
	f.Add(writeBin(f, randomSet(f, testWords[:4], 2, cfg, 5), nil))
	f.Add(writeBin(f, randomSet(f, testWords[:3], 1, subword.Config{}, 6), nil))
	f.Add(header(DefaultArgs(2), 1, 1, 0, 1, -1))
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxDim: 64, MaxWords: 1000, MaxBucket: 1000, MaxValues: 1 << 16}
		s, m, err := Read(bytes.NewReader(data), lim)
		if err != nil {
			if s != nil || m != nil {
				t.Fatal("a set with an error")
			}
			return
		}
		if len(m.Counts) != s.Len() {
			t.Fatalf("%d counts, %d words", len(m.Counts), s.Len())
		}
		// What was read writes and reads back.
		var b bytes.Buffer
		if err := Write(&b, s, &Meta{Args: m.Args, Counts: nonZero(m.Counts)}); err != nil {
			return // e.g. a raw row that overflows float32
		}
		if _, _, err := Read(&b, lim); err != nil {
			t.Fatalf("rewritten: %v", err)
		}
	})
}

func nonZero(c []int64) []int64 {
	out := make([]int64, len(c))
	for i, v := range c {
		out[i] = max(v, 1)
	}
	return out
}

// --- fastText itself -------------------------------------------------

// fastTextBin is Debian's fasttext, required when OPH_FASTTEXT_REQUIRED=1
// (make test), else the test is skipped without it.
func fastTextBin(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("fasttext")
	if err != nil {
		if os.Getenv("OPH_FASTTEXT_REQUIRED") == "1" {
			t.Fatal("fasttext is required (OPH_FASTTEXT_REQUIRED=1): apt-get install fasttext")
		}
		t.Skip("no fasttext binary (apt-get install fasttext)")
	}
	return p
}

// printWordVectors runs `fasttext print-word-vectors model` on words.
func printWordVectors(t *testing.T, bin, model string, words []string) map[string][]float32 {
	t.Helper()
	cmd := exec.Command(bin, "print-word-vectors", model)
	cmd.Stdin = strings.NewReader(strings.Join(words, "\n") + "\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("print-word-vectors: %v", err)
	}
	vecs := map[string][]float32{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		v := make([]float32, len(f)-1)
		for i, x := range f[1:] {
			y, err := strconv.ParseFloat(x, 32)
			if err != nil {
				t.Fatalf("print-word-vectors line %q: %v", line, err)
			}
			v[i] = float32(y)
		}
		vecs[f[0]] = v
	}
	return vecs
}

// printed reports whether fastText's printed values (5 significant
// digits, as its Vector's operator<< prints) are ours rounded.
func printed(ours, theirs []float32) bool {
	if len(ours) != len(theirs) {
		return false
	}
	for i := range ours {
		a, b := float64(ours[i]), float64(theirs[i])
		tol := 1e-6
		if b != 0 {
			tol += 0.5 * math.Pow(10, math.Floor(math.Log10(math.Abs(b)))-4) * 1.01
		}
		if math.Abs(a-b) > tol {
			return false
		}
	}
	return true
}

var aliceProbe = []string{"alice", "rabbit", "queen", "the", "said", "alicee", "rabbits", "wonderlandish", "queenly", "xyzzy", "mock-turtle"}

func TestReadFastTextModel(t *testing.T) {
	bin := fastTextBin(t)
	dir := t.TempDir()
	model := filepath.Join(dir, "m")
	cmd := exec.Command(bin, "skipgram", "-input", "../../testdata/alice-in-wonderland_11-0.txt", "-output", model,
		"-dim", "10", "-epoch", "1", "-minn", "3", "-maxn", "6", "-bucket", "20000", "-thread", "1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fasttext skipgram: %v\n%s", err, out)
	}
	f, err := os.Open(model + ".bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, m, err := Read(f, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Args.Dim != 10 || m.Args.MinN != 3 || m.Args.MaxN != 6 || m.Args.Bucket != 20000 || m.Args.Model != SkipGram || m.Args.Epoch != 1 || m.Labels != 0 {
		t.Fatalf("args %+v", m)
	}
	if s.Word(0) != EOS || s.Subwords() == nil {
		t.Fatalf("first word %q, subwords %v", s.Word(0), s.Subwords() != nil)
	}
	for i := 1; i < len(m.Counts); i++ {
		if m.Counts[i] > m.Counts[i-1] {
			t.Fatalf("counts not descending at %d", i)
		}
	}
	theirs := printWordVectors(t, bin, model+".bin", aliceProbe)
	oov := 0
	for _, w := range aliceProbe {
		ours, isOOV, err := s.WordVector(w)
		if err != nil {
			t.Fatalf("%q: %v", w, err)
		}
		if isOOV {
			oov++
		}
		if !printed(ours, theirs[w]) {
			t.Errorf("%q (oov %v): ours %v, fastText %v", w, isOOV, ours, theirs[w])
		}
	}
	if oov < 4 {
		t.Fatalf("only %d of the probes are out of the vocabulary", oov)
	}
	// Full precision through the .vec file fastText wrote beside the .bin.
	vec, err := os.Open(model + ".vec")
	if err != nil {
		t.Fatal(err)
	}
	defer vec.Close()
	vs, err := vectors.Read(vec)
	if err != nil {
		t.Fatal(err)
	}
	if vs.Len() != s.Len() {
		t.Fatalf(".vec has %d words, .bin %d", vs.Len(), s.Len())
	}
	for i := 0; i < vs.Len(); i += 97 {
		j, ok := s.Index(vs.Word(i))
		if !ok || !near(vs.Row(i), s.Row(j), 1e-5) {
			t.Fatalf("%q: .vec %v, ours %v", vs.Word(i), vs.Row(i), s.Row(j))
		}
	}
}

func TestFastTextReadsOurs(t *testing.T) {
	bin := fastTextBin(t)
	cfg := subword.Config{MinN: 3, MaxN: 6, Bucket: 5000}
	words := append([]string{}, testWords...)
	for i := 0; i < 200; i++ {
		words = append(words, "w"+strconv.Itoa(i)+"ord")
	}
	s := randomSet(t, words, 12, cfg, 7)
	path := filepath.Join(t.TempDir(), "ours.bin")
	if err := os.WriteFile(path, writeBin(t, s, nil), 0o644); err != nil {
		t.Fatal(err)
	}
	probe := append([]string{"w17ord", "w3ord"}, probeWords...)
	theirs := printWordVectors(t, bin, path, probe)
	for _, w := range probe {
		ours, oov, err := s.WordVector(w)
		if err != nil {
			t.Fatal(err)
		}
		if !printed(ours, theirs[w]) {
			t.Errorf("%q (oov %v): ours %v, fastText %v", w, oov, ours, theirs[w])
		}
	}
	// fasttext nn answers on our file with our nearest word.
	cmd := exec.Command(bin, "nn", path, "3")
	cmd.Stdin = strings.NewReader("w17ord\n")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("nn: %v", err)
	}
	nb, err := s.Nearest("w17ord", 1)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), nb[0].Word+" ") {
		t.Errorf("fasttext nn w17ord:\n%s\nours: %v", out, nb)
	}

	// gensim's load_facebook_model (Debian's python3-gensim), and the
	// fasttext Python module when it is installed, give the same vectors.
	for _, py := range []struct{ python, module, code string }{
		{"/usr/bin/python3", "gensim", "from gensim.models.fasttext import load_facebook_model as L\nm = L(sys.argv[1]).wv\nget = lambda w: m[w]\n"},
		{"python3", "fasttext", "import fasttext\nm = fasttext.load_model(sys.argv[1])\nget = m.get_word_vector\n"},
	} {
		t.Run(py.module, func(t *testing.T) {
			if exec.Command(py.python, "-c", "import "+py.module).Run() != nil {
				if py.module == "gensim" && os.Getenv("OPH_FASTTEXT_REQUIRED") == "1" {
					t.Fatal("gensim is required (python3-gensim)")
				}
				t.Skipf("no %s module for %s", py.module, py.python)
			}
			code := "import sys\n" + py.code + "for w in sys.stdin.read().split():\n    print(w, ' '.join(repr(float(x)) for x in get(w)))\n"
			cmd := exec.Command(py.python, "-c", code, path)
			cmd.Stdin = strings.NewReader(strings.Join(probe, "\n"))
			out, err := cmd.Output()
			if err != nil {
				var ee *exec.ExitError
				if errors.As(err, &ee) {
					t.Fatalf("%s: %v\n%s", py.module, err, ee.Stderr)
				}
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(string(out)), "\n")
			if len(lines) != len(probe) {
				t.Fatalf("%s printed %d lines for %d words:\n%s", py.module, len(lines), len(probe), out)
			}
			for _, line := range lines {
				f := strings.Fields(line)
				got := make([]float32, len(f)-1)
				for i, x := range f[1:] {
					y, _ := strconv.ParseFloat(x, 64)
					got[i] = float32(y)
				}
				ours, _, _ := s.WordVector(f[0])
				if !near(ours, got, 1e-5) {
					t.Errorf("%s %q: %v, ours %v", py.module, f[0], got, ours)
				}
			}
		})
	}
}

// TestReadSupervised: a supervised model's labels are skipped, its words
// read with fastText's vectors.
func TestReadSupervised(t *testing.T) {
	bin := fastTextBin(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "sup.txt")
	if err := os.WriteFile(in, []byte("__label__a hello world darcy\n__label__b goodbye moon darcy\n__label__a hello there\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "sup")
	cmd := exec.Command(bin, "supervised", "-input", in, "-output", model, "-dim", "5", "-epoch", "1", "-minCount", "1", "-thread", "1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fasttext supervised: %v\n%s", err, out)
	}
	f, err := os.Open(model + ".bin")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, m, err := Read(f, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Labels != 2 || m.Args.Model != Supervised || s.Subwords() != nil {
		t.Fatalf("labels %d, model %v, subwords %v", m.Labels, m.Args.Model, s.Subwords())
	}
	for _, w := range s.Words() {
		if strings.HasPrefix(w, "__label__") {
			t.Fatalf("label %q read as a word", w)
		}
	}
	theirs := printWordVectors(t, bin, model+".bin", []string{"hello", "darcy"})
	for _, w := range []string{"hello", "darcy"} {
		ours, _, err := s.WordVector(w)
		if err != nil || !printed(ours, theirs[w]) {
			t.Errorf("%q: ours %v (%v), fastText %v", w, ours, err, theirs[w])
		}
	}
}
