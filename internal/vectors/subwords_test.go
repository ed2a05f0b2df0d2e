package vectors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ophicleide/ophicleide/internal/subword"
)

// subwordSet is a random set of n words "w0".. with random n-gram rows.
func subwordSet(tb testing.TB, n, dim, bucket int, seed uint64) *Set {
	tb.Helper()
	s := randomSet(tb, n, dim, seed)
	rng := rand.New(rand.NewPCG(seed, 7))
	rows := make([]float32, bucket*dim)
	for i := range rows {
		rows[i] = rng.Float32()*2 - 1
	}
	if err := s.SetSubwords(&Subwords{Config: subword.Config{MinN: 3, MaxN: 6, Bucket: bucket}, Rows: rows}); err != nil {
		tb.Fatal(err)
	}
	return s
}

// withoutSubwords is a copy of s's words and rows alone.
func withoutSubwords(t testing.TB, s *Set) *Set {
	t.Helper()
	p, err := New(s.Words(), s.Dim(), slices.Clone(s.vecs))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func sameSubwords(t testing.TB, got, want *Set) {
	t.Helper()
	g, w := got.Subwords(), want.Subwords()
	if (g == nil) != (w == nil) {
		t.Fatalf("subwords %v, want %v", g != nil, w != nil)
	}
	if g == nil {
		return
	}
	if g.Config != w.Config || len(g.Rows) != len(w.Rows) {
		t.Fatalf("subwords %+v (%d values), want %+v (%d)", g.Config, len(g.Rows), w.Config, len(w.Rows))
	}
	for i := range g.Rows {
		if math.Float32bits(g.Rows[i]) != math.Float32bits(w.Rows[i]) {
			t.Fatalf("subword value %d: %v, want %v", i, g.Rows[i], w.Rows[i])
		}
	}
}

// loadFile writes data to a file and Loads it (mapped on Linux when
// large enough).
func loadFile(t testing.TB, data []byte) (*Set, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "v")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Load(f)
}

// TestCompactSubwordsRoundTrip: the subword section comes back bit for
// bit through every reader (stream, one byte at a time, a small file
// read, a large file mapped), every word-list length modulo 8 (the
// section's pad); a set without subwords writes the file it always did.
func TestCompactSubwordsRoundTrip(t *testing.T) {
	sets := map[string]*Set{"large": subwordSet(t, 3000, 50, 3000, 5)} // 1.0 MB of rows: mapped
	for n := range 8 {
		sets[string(rune('a'+n))] = subwordSet(t, 5+n, 3, 11, uint64(n))
	}
	for name, s := range sets {
		data := compactFile(t, s)
		plain := withoutSubwords(t, s)
		if p := compactFile(t, plain); !bytes.HasPrefix(data, p) || len(data)-len(p) != int(subwordPad(uint64(len(p))))+subwordHeaderLen+4*len(s.Subwords().Rows) {
			t.Fatalf("%s: the section is not appended to the file without it", name)
		}
		for rname, rd := range map[string]func([]byte) (*Set, error){
			"ReadCompact": func(b []byte) (*Set, error) { return ReadCompact(bytes.NewReader(b)) },
			"one byte":    func(b []byte) (*Set, error) { return ReadCompact(iotest.OneByteReader(bytes.NewReader(b))) },
			"file":        func(b []byte) (*Set, error) { return loadFile(t, b) },
		} {
			got, err := rd(data)
			if err != nil {
				t.Fatalf("%s %s: %v", name, rname, err)
			}
			sameSet(t, got, s)
			sameSubwords(t, got, s)
			if rname == "file" && name == "large" && got.mapped != (runtime.GOOS == "linux") {
				t.Fatalf("large file mapped %v", got.mapped)
			}
			for _, w := range []string{"w1", "darcys", "日本語", "\xff\xfe"} {
				a, aoov, aerr := got.WordVector(w)
				b, boov, berr := s.WordVector(w)
				if aerr != nil || berr != nil || aoov != boov || !slices.Equal(a, b) {
					t.Fatalf("%s %s: WordVector(%q) %v %v, want %v %v", name, rname, w, aoov, aerr, boov, berr)
				}
			}
		}
	}
}

func TestCompactSubwordsMalformed(t *testing.T) {
	s := subwordSet(t, 2, 2, 3, 1)
	good := compactFile(t, s)
	end := len(compactFile(t, withoutSubwords(t, s)))
	sec := end + int(subwordPad(uint64(end)))
	with := func(off int, v uint64) []byte {
		b := slices.Clone(good)
		binary.LittleEndian.PutUint64(b[sec+off:], v)
		return b
	}
	nan := slices.Clone(good)
	binary.LittleEndian.PutUint32(nan[sec+subwordHeaderLen+4:], math.Float32bits(float32(math.Inf(1))))
	badPad := slices.Clone(good)
	if sec > end {
		badPad[end] = 1
	}
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"cut in the header", "cut short", good[:sec+10]},
		{"cut in the rows", "subword", good[:len(good)-1]},
		{"long", "data after", append(slices.Clone(good), 0)},
		{"magic", "data after the word list", append(append(slices.Clone(good[:sec]), "OPHSUB9\n"...), good[sec+8:]...)},
		{"minn 0", "n-gram lengths", with(8, 0)},
		{"maxn < minn", "n-gram lengths", with(16, 2)},
		{"maxn huge", "n-gram lengths", with(16, 1<<40)},
		{"bucket 0", "exceed the limit", with(24, 0)},
		{"bucket huge", "exceed the limit", with(24, 1<<40)},
		{"bucket larger than the rows", "subword", with(24, 4)},
		{"bucket smaller than the rows", "subword", with(24, 2)},
		{"not finite", "not finite", nan},
		{"pad", "data after the word list", badPad},
	} {
		for rname, rd := range map[string]func([]byte) (*Set, error){
			"stream": func(b []byte) (*Set, error) { return ReadCompact(bytes.NewReader(b)) },
			"file":   func(b []byte) (*Set, error) { return loadFile(t, b) },
		} {
			if c.name == "not finite" && rname == "file" {
				continue // a file's rows are checked when read (below), not when mapped
			}
			_, err := rd(c.data)
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s (%s): error %v, want a *ParseError wrapping ErrMalformed containing %q", c.name, rname, err, c.want)
			}
		}
	}
}

// TestMappedSubwordsNonFinite: the rows of a mapped file are not read
// when it loads; a non-finite n-gram vector is an error when asked for.
func TestMappedSubwordsNonFinite(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("mapping is Linux's")
	}
	s := subwordSet(t, 3000, 50, 3000, 5)
	rows := s.Subwords().Rows
	c := s.Subwords().Config
	r, _ := c.Rows(nil, []byte("darcys"), nil)
	rows[int(r[0])*50] = float32(math.NaN())
	var buf bytes.Buffer
	if err := WriteCompact(&buf, s); !errors.Is(err, ErrInvalid) {
		t.Fatalf("WriteCompact of a NaN n-gram row: %v, want ErrInvalid", err)
	}
	s.subwords = nil
	data := compactFile(t, s)
	data = append(data, make([]byte, subwordPad(uint64(len(data))))...)
	data = append(data, subwordMagic...)
	for _, v := range []uint64{3, 6, 3000} {
		data = binary.LittleEndian.AppendUint64(data, v)
	}
	for _, v := range rows {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(v))
	}
	got, err := loadFile(t, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := got.WordVector("darcys"); !errors.Is(err, ErrMalformed) {
		t.Fatalf("WordVector over a NaN row: %v, want ErrMalformed", err)
	}
	if _, err := got.Nearest("darcys", 3); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Nearest over a NaN row: %v, want ErrMalformed", err)
	}
}

// TestQueriesOutOfVocabulary: every query takes a word outside the
// vocabulary of a set with subwords by its n-grams' vector, and answers
// as it answers a known word with that vector; a set without subwords
// (or a word with no n-gram) is an *UnknownWordError as before.
func TestQueriesOutOfVocabulary(t *testing.T) {
	s := subwordSet(t, 200, 8, 97, 3)
	oov := "darcys"
	v, isOOV, err := s.WordVector(oov)
	if s.SubwordBytes() != 4*97*8 || randomSet(t, 2, 2, 1).SubwordBytes() != 0 {
		t.Fatalf("SubwordBytes %d", s.SubwordBytes())
	}
	if err != nil || !isOOV || !s.IsOOV(oov) || s.IsOOV("w1") {
		t.Fatalf("WordVector: %v %v, IsOOV %v %v", isOOV, err, s.IsOOV(oov), s.IsOOV("w1"))
	}
	want := s.Search(v, 5, 0, nil)
	if got, err := s.Nearest(oov, 5); err != nil || !slices.Equal(got, want) {
		t.Fatalf("Nearest: %v %v, want %v", got, err, want)
	}
	if got, err := s.Vector(oov); err != nil || !slices.Equal(got, v) {
		t.Fatalf("Vector: %v %v", got, err)
	}
	// An analogy with an unseen term is the one with its vector in the mean.
	u := slices.Clone(v)
	norm := float32(math.Sqrt(float64(dot(u, u))))
	for i := range u {
		u[i] /= norm
	}
	mean := make([]float32, 8)
	w1, w2 := s.UnitRow(1), s.UnitRow(2)
	for i := range mean {
		mean[i] = (w1[i] - w2[i] + u[i]) / 3
	}
	got, err := s.Analogy([]string{"w1", oov}, []string{"w2"}, 4)
	if err != nil || !sameNeighbors(got, s.Search(mean, 4, 0, []int{1, 2})) {
		t.Fatalf("Analogy: %v %v, want %v", got, err, s.Search(mean, 4, 0, []int{1, 2}))
	}
	if _, err := s.AnalogyCosMul([]string{oov, "w1"}, []string{"w3"}, 3, 0); err != nil {
		t.Fatalf("AnalogyCosMul: %v", err)
	}
	if sim, err := s.Similarity(oov, "w4"); err != nil || math.Abs(float64(sim-s.score(u, 4))) > 1e-6 {
		t.Fatalf("Similarity: %v %v", sim, err)
	}
	if sim, err := s.Similarity(oov, oov); err != nil || math.Abs(float64(sim-1)) > 1e-5 {
		t.Fatalf("Similarity with itself: %v %v", sim, err)
	}
	if _, _, err := s.OddOneOut([]string{"w1", oov, "w2", "elizabethh"}); err != nil {
		t.Fatalf("OddOneOut: %v", err)
	}
	// Hostile words: long, invalid UTF-8, no n-gram (minn 3: "<a>" is
	// the only 3-gram of "a", so a word always has one unless empty...
	// with minn 4 a one-letter word has none).
	for _, w := range []string{strings.Repeat("é", 1000), "\xff\xfe\xfd", "a"} {
		if _, err := s.Nearest(w, 3); err != nil {
			t.Fatalf("Nearest(%.20q): %v", w, err)
		}
	}
	short := subwordSet(t, 10, 4, 5, 1)
	short.subwords.Config.MinN, short.subwords.Config.MaxN = 4, 6
	var uw *UnknownWordError
	if _, err := short.Nearest("a", 3); !errors.As(err, &uw) {
		t.Fatalf("a word with no n-gram: %v, want an *UnknownWordError", err)
	}
	plain := randomSet(t, 10, 4, 1)
	for _, f := range []func() error{
		func() error { _, err := plain.Nearest(oov, 3); return err },
		func() error { _, err := plain.Analogy([]string{"w1", oov}, nil, 3); return err },
		func() error { _, err := plain.AnalogyCosMul([]string{"w1", oov}, nil, 3, 0); return err },
		func() error { _, err := plain.Similarity("w1", oov); return err },
		func() error { _, err := plain.Vector(oov); return err },
		func() error { _, _, err := plain.OddOneOut([]string{"w1", "w2", oov}); return err },
	} {
		if err := f(); !errors.As(err, &uw) || uw.Word != oov {
			t.Fatalf("without subwords: %v, want an *UnknownWordError for %q", err, oov)
		}
	}
}

// sameNeighbors: the same words, scores equal to float32 rounding.
func sameNeighbors(a, b []Neighbor) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Word != b[i].Word || math.Abs(float64(a[i].Score-b[i].Score)) > 1e-6 {
			return false
		}
	}
	return true
}

func dot(a, b []float32) float32 {
	var d float32
	for i := range a {
		d += a[i] * b[i]
	}
	return d
}

// BenchmarkLoadCompactSubwords loads a 58k x 100 set with 500,000 n-gram
// rows (OPH_BENCH_BUCKET to change) from a file, as the server loads a
// subword model on its first query, then builds the vector of one unseen word.
func BenchmarkLoadCompactSubwords(b *testing.B) {
	bucket := 500_000
	if v := os.Getenv("OPH_BENCH_BUCKET"); v != "" {
		fmt.Sscan(v, &bucket)
	}
	s := subwordSet(b, 58_000, 100, bucket, 1)
	path := filepath.Join(b.TempDir(), "v")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	if err := WriteCompact(f, s); err != nil {
		b.Fatal(err)
	}
	f.Close()
	s = nil
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		got, err := Load(f)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := got.WordVector("darcys"); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}
