package vectors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf8"

	"github.com/ophicleide/ophicleide/internal/subword"
)

// streamCompact runs StreamCompact on data into a buffer.
func streamCompact(t testing.TB, data []byte, opt StreamOptions) ([]byte, int, int, error) {
	t.Helper()
	var out bytes.Buffer
	n, dim, err := StreamCompact(&out, bytes.NewReader(data), opt)
	return out.Bytes(), n, dim, err
}

// checkStream checks StreamCompact against Read on data: both accept it
// or both refuse it with the same error, and what StreamCompact wrote
// loads as the set Read returns.
func checkStream(t *testing.T, data []byte) {
	t.Helper()
	want, rerr := Read(bytes.NewReader(data))
	out, n, dim, err := streamCompact(t, data, StreamOptions{})
	if (err == nil) != (rerr == nil) || (err != nil && err.Error() != rerr.Error()) {
		t.Fatalf("StreamCompact: %v; Read: %v", err, rerr)
	}
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %T %v: want a *ParseError wrapping ErrMalformed", err, err)
		}
		return
	}
	if n != want.Len() || dim != want.Dim() {
		t.Fatalf("StreamCompact says %d words of dim %d, Read read %d of %d", n, dim, want.Len(), want.Dim())
	}
	for name, rd := range map[string]func(io.Reader) (*Set, error){"Load": Load, "ReadCompact": ReadCompact} {
		got, err := rd(bytes.NewReader(out))
		if err != nil {
			t.Fatalf("%s of the streamed file: %v", name, err)
		}
		if !equalSets(got, want) {
			t.Fatalf("%s of the streamed file differs from Read of the source", name)
		}
	}
	// A streamed file cut anywhere is refused, never half read.
	for _, cut := range []int{len(out) - 1, len(out) - compactTrailerLen, len(out) / 2, compactHeaderLen} {
		if cut <= 0 || cut >= len(out) {
			continue
		}
		if _, err := Load(bytes.NewReader(out[:cut])); err == nil {
			t.Fatalf("a streamed file cut at %d of %d bytes loads", cut, len(out))
		}
	}
	// StreamOptions.UTF8 refuses exactly the files with a word that is
	// not valid UTF-8.
	invalid := false
	for _, w := range want.Words() {
		invalid = invalid || !utf8.ValidString(w)
	}
	if _, _, _, err := streamCompact(t, data, StreamOptions{UTF8: true}); (err != nil) != invalid {
		t.Fatalf("UTF8: error %v, with a word that is not UTF-8: %v", err, invalid)
	} else if invalid && !strings.Contains(err.Error(), "not valid UTF-8") {
		t.Fatalf("UTF8: error %v", err)
	}
}

func FuzzStreamCompact(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		checkStream(t, data)
	})
}

// TestStreamCompactRoundTrip: every format Read reads, streamed to
// Compact, loads back as Read's set, bit for bit, whether it is read
// from a stream, from a small file or mapped from a large one.
func TestStreamCompactRoundTrip(t *testing.T) {
	sets := map[string]*Set{
		"awkward": awkwardSet(t),
		"random":  randomSet(t, 300, 50, 9),
		"empty":   mustSet(t, nil, 7),
		"dim1":    mustSet(t, []string{"x", "y"}, 1, 0.5, -3),
		"large":   randomSet(t, 4000, 100, 3), // above mapMinBytes: mapped on Linux
	}
	for name, s := range sets {
		for _, f := range []Format{Text, Binary} {
			var src bytes.Buffer
			if err := Write(&src, s, f); err != nil {
				t.Fatal(err)
			}
			if name != "large" {
				checkStream(t, src.Bytes())
			}
			path := filepath.Join(t.TempDir(), "v")
			out, err := os.Create(path)
			if err != nil {
				t.Fatal(err)
			}
			n, dim, err := StreamCompact(out, iotest.HalfReader(&src), StreamOptions{})
			if cerr := out.Close(); err != nil || cerr != nil || n != s.Len() || dim != s.Dim() {
				t.Fatalf("%s %s: %d words, dim %d, %v %v", name, f, n, dim, err, cerr)
			}
			for rname, rd := range map[string]func(io.Reader) (*Set, error){"Load": Load, "ReadCompact": ReadCompact} {
				file, err := os.Open(path)
				if err != nil {
					t.Fatal(err)
				}
				got, err := rd(file)
				file.Close()
				if err != nil {
					t.Fatalf("%s %s %s: %v", name, f, rname, err)
				}
				if want := name == "large" && rname == "Load" && runtime.GOOS == "linux"; got.mapped != want {
					t.Errorf("%s %s %s: mapped %v", name, f, rname, got.mapped)
				}
				sameSet(t, got, s)
			}
		}
	}
	// Headerless (GloVe style) text and duplicates, as Read reads them.
	for _, data := range []string{
		"a 1 2\nb 3 4\n",
		"3 2\na 1 2\nb 3 4\na 5 6\n",
		"\xef\xbb\xbf2 1\r\n\r\nx 1 \r\ny -0\r\n",
	} {
		checkStream(t, []byte(data))
	}
}

// TestStreamCompactRefusesWhatReadRefuses: the hostile files of
// TestReadMalformed and more, each refused by StreamCompact with Read's
// error.
func TestStreamCompactRefusesWhatReadRefuses(t *testing.T) {
	row := func(w string, v ...any) string {
		return string(binaryFile(append(append([]any{w + " "}, v...), "\n")...))
	}
	for _, in := range []string{
		"", "\n \n", "3 0\n", "3 10001\n", "1000000000 10000\n", "99999999999999999999999 3\n",
		"2 3\na 1 2 3\nb 1 2\n", "2 3\na 1 2 3\nb 1 2 3 4\n", "1 2\na 1 x2\n", "1 2\na 1 NaN\n",
		"1 2\na -inf 1\n", "1 2\na 1e39 1\n", "3 2\na 1 2\n\nb 1 2\n", "1 2\na 1 2\nb 1 2\n",
		"200000000 10\na 1 2 3 4 5 6 7 8 9 10\n", "word\nb 1\n", "a 1 2\nb 1\n",
		"2 2\n" + row("a", 1.5, 2) + "b " + "\x00\x00",
		"2 2\n" + row("a", 1, 2) + "bword",
		"3 2\n" + row("a", 1, 2) + row("b", 1, 2),
		"1 2\n" + row("a", 1, 2) + row("b", 1, 2),
		"1 2\n" + row("a", 1, uint32(0x7fc00000)),
		"1 2\n" + row("a\nb", 1, 2),
		"2 3\n" + row("a", 1, 2) + row("b", 1, 2),
		"1 1\n" + strings.Repeat("w", MaxWordLen+1) + " 1\n",
	} {
		_, _, _, err := streamCompact(t, []byte(in), StreamOptions{})
		if err == nil {
			t.Errorf("%.30q: accepted", in)
			continue
		}
		checkStream(t, []byte(in))
	}
}

func TestStreamCompactUTF8(t *testing.T) {
	data := []byte("2 2\nok 1 2\nba\xffd 3 4\n")
	if _, n, _, err := streamCompact(t, data, StreamOptions{}); err != nil || n != 2 {
		t.Fatalf("without UTF8: %d words, %v", n, err)
	}
	_, _, _, err := streamCompact(t, data, StreamOptions{UTF8: true})
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Line != 3 || pe.Row != 2 || !errors.Is(err, ErrMalformed) {
		t.Fatalf("UTF8: error %v, want a *ParseError at line 3, row 2", err)
	}
	if got, want := pe.Reason(), `text line 3 (row 2): word "ba\xffd" is not valid UTF-8`; got != want {
		t.Errorf("Reason %q, want %q", got, want)
	}
}

// TestStreamCompactWriterErrors: an error from dst comes back wrapped,
// not as a *ParseError (it is not the input's fault).
func TestStreamCompactWriterErrors(t *testing.T) {
	var src bytes.Buffer
	if err := WriteBinary(&src, randomSet(t, 3000, 50, 2)); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 10, 100_000} {
		_, _, err := StreamCompact(&failWriter{n: n}, bytes.NewReader(src.Bytes()), StreamOptions{})
		var pe *ParseError
		if !errors.Is(err, errFull) || errors.As(err, &pe) {
			t.Errorf("writer failing after %d bytes: error %v, want errFull and no *ParseError", n, err)
		}
	}
}

// TestStreamCompactHugeHeaderAllocatesLittle: a header announcing a huge
// set allocates nothing for it.
func TestStreamCompactHugeHeaderAllocatesLittle(t *testing.T) {
	for _, in := range []string{
		"200000000 10\na 1 2 3 4 5 6 7 8 9 10\n",
		"200000000 10\n" + string(binaryFile("a ", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "\n")),
		"214748364 10\n",
	} {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, _, err := StreamCompact(io.Discard, strings.NewReader(in), StreamOptions{})
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Errorf("%.20q: no error", in)
		}
		if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
			t.Errorf("%.20q allocated %d bytes", in, got)
		}
	}
}

// TestReadStreamedMalformed: streamed Compact files with a damaged
// trailer or header are refused with a *ParseError, from a stream and
// from a file.
func TestReadStreamedMalformed(t *testing.T) {
	good, _, _, err := streamCompact(t, []byte("2 2\na 1 2\nbb 3 4\n"), StreamOptions{})
	if err != nil {
		t.Fatal(err)
	}
	edit := func(off int, b ...byte) []byte {
		d := bytes.Clone(good)
		copy(d[off:], b)
		return d
	}
	end := len(good) - compactTrailerLen
	for name, data := range map[string][]byte{
		"header with sizes": edit(8, 1),
		"dim 0":             edit(16, 0),
		"count too large":   edit(end, 3),
		"count smaller":     edit(end, 1),
		"wordsLen":          edit(end+8, 9),
		"end magic":         edit(len(good)-1, 'x'),
		"no trailer":        good[:end],
		"short":             good[:compactHeaderLen+4],
		"extra byte":        append(bytes.Clone(good), 0),
		"word list":         edit(end-2, '\n'),
	} {
		if _, err := ReadCompact(bytes.NewReader(data)); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: ReadCompact error %v, want ErrMalformed", name, err)
		}
		path := filepath.Join(t.TempDir(), "v")
		os.WriteFile(path, data, 0o600)
		f, _ := os.Open(path)
		if _, err := Load(f); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Load of a file: error %v, want ErrMalformed", name, err)
		}
		f.Close()
	}
}

// BenchmarkStreamCompact streams a 60k x 100 text file to io.Discard
// (compare BenchmarkReadText, which builds the set).
func BenchmarkStreamCompact(b *testing.B) {
	_, text, _ := benchFiles(b)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := StreamCompact(io.Discard, bytes.NewReader(text), StreamOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestWordList: the list keeps each word once, in order, across chunk
// and table growth, long words included.
func TestWordList(t *testing.T) {
	l := newWordList()
	seen := map[string]bool{}
	var order []string
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 300_000 {
		w := fmt.Sprintf("w%d", rng.IntN(200_000))
		if i%5000 == 0 {
			w = strings.Repeat(string(rune('a'+i%26)), MaxWordLen-i%7)
		}
		if added := l.add([]byte(w)); added == seen[w] {
			t.Fatalf("add(%.20q) = %v, seen before: %v", w, added, seen[w])
		}
		if !seen[w] {
			seen[w] = true
			order = append(order, w)
		}
	}
	var all []byte
	for _, c := range l.chunks {
		if len(c) > wordChunk {
			t.Fatalf("chunk of %d bytes", len(c))
		}
		all = append(all, c...)
	}
	if want := strings.Join(order, "\n") + "\n"; string(all) != want || l.n != len(order) || l.size != uint64(len(want)) {
		t.Fatalf("list of %d words, %d bytes; want %d, %d", l.n, l.size, len(order), len(want))
	}
}

// TestCompactWriter: a set written row by row is WriteCompact's file of
// it, with and without subwords; misuse and bad rows are ErrInvalid.
func TestCompactWriter(t *testing.T) {
	s := randomSet(t, 50, 4, 7)
	write := func(s *Set) []byte {
		var b bytes.Buffer
		cw, err := NewCompactWriter(&b, s.Words(), s.Dim())
		if err != nil {
			t.Fatal(err)
		}
		for i := range s.Len() {
			if err := cw.WriteRow(s.Row(i)); err != nil {
				t.Fatal(err)
			}
		}
		if sw := s.Subwords(); sw != nil {
			if err := cw.BeginSubwords(sw.Config); err != nil {
				t.Fatal(err)
			}
			for i := range sw.Config.Bucket {
				if err := cw.WriteSubwordRow(sw.Rows[i*s.Dim() : (i+1)*s.Dim()]); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := cw.Close(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	for _, sub := range []bool{false, true} {
		if sub {
			rows := make([]float32, 30*s.Dim())
			for i := range rows {
				rows[i] = float32(i%7) - 3
			}
			if err := s.SetSubwords(&Subwords{Config: subword.Config{MinN: 3, MaxN: 5, Bucket: 30}, Rows: rows}); err != nil {
				t.Fatal(err)
			}
		}
		var want bytes.Buffer
		if err := WriteCompact(&want, s); err != nil {
			t.Fatal(err)
		}
		if got := write(s); !bytes.Equal(got, want.Bytes()) {
			t.Fatalf("subwords %v: %d bytes differ from WriteCompact's %d", sub, len(got), want.Len())
		}
	}

	bad := func(name string, err error) {
		t.Helper()
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v, want ErrInvalid", name, err)
		}
	}
	for name, words := range map[string][]string{"empty word": {"a", ""}, "space": {"a b"}, "newline": {"a\nb"}, "duplicate": {"a", "b", "a"}} {
		_, err := NewCompactWriter(io.Discard, words, 2)
		bad(name, err)
	}
	_, err := NewCompactWriter(io.Discard, []string{"a"}, 0)
	bad("dim 0", err)
	_, err = NewCompactWriter(io.Discard, []string{"a"}, MaxDim+1)
	bad("dim too large", err)
	cw, _ := NewCompactWriter(io.Discard, []string{"a", "b"}, 2)
	bad("short row", cw.WriteRow([]float32{1}))
	bad("NaN row", cw.WriteRow([]float32{1, float32(math.NaN())}))
	bad("subword row first", cw.WriteSubwordRow([]float32{1, 2}))
	bad("close before every row", cw.Close())
	bad("subwords before every row", cw.BeginSubwords(subword.Config{MinN: 3, MaxN: 4, Bucket: 2}))
	cw.WriteRow([]float32{1, 2})
	cw.WriteRow([]float32{3, 4})
	bad("a row too many", cw.WriteRow([]float32{5, 6}))
	bad("bucket 0", cw.BeginSubwords(subword.Config{MinN: 3, MaxN: 4}))
	if err := cw.BeginSubwords(subword.Config{MinN: 3, MaxN: 4, Bucket: 1}); err != nil {
		t.Fatal(err)
	}
	bad("close before every subword row", cw.Close())
	cw.WriteSubwordRow([]float32{0, 1})
	bad("a subword row too many", cw.WriteSubwordRow([]float32{0, 1}))
	if err := cw.Close(); err != nil {
		t.Fatal(err)
	}
	bad("after close", cw.WriteRow([]float32{1, 2}))

	// A writer's error is kept and returned.
	cw, err = NewCompactWriter(noSpaceWriter{}, []string{"a"}, 2)
	if err == nil {
		err = cw.WriteRow([]float32{1, 2})
		if err == nil {
			err = cw.Close()
		}
	}
	if err == nil || errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "no space") {
		t.Fatalf("a failing writer: %v", err)
	}
}

type noSpaceWriter struct{}

func (noSpaceWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// TestConvert: Convert writes what Write writes of Read's set, in both
// formats and from both, duplicates and a headerless file included; a
// malformed file writes nothing.
func TestConvert(t *testing.T) {
	s := randomSet(t, 300, 7, 3)
	var text, bin bytes.Buffer
	if err := Write(&text, s, Text); err != nil {
		t.Fatal(err)
	}
	if err := Write(&bin, s, Binary); err != nil {
		t.Fatal(err)
	}
	inputs := map[string][]byte{
		"text": text.Bytes(), "binary": bin.Bytes(),
		"duplicates": []byte("3 2\na 1 2\nb 3 4\na 5 6\n"),
		"headerless": []byte("a 1 2\nb 3.5 -4\n"),
	}
	for name, in := range inputs {
		want, err := Read(bytes.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range []Format{Text, Binary} {
			var exp, got bytes.Buffer
			Write(&exp, want, f)
			n, dim, err := Convert(&got, bytes.NewReader(in), f, t.TempDir())
			if err != nil || n != want.Len() || dim != want.Dim() {
				t.Fatalf("%s to %s: %d x %d, %v", name, f, n, dim, err)
			}
			if !bytes.Equal(got.Bytes(), exp.Bytes()) {
				t.Fatalf("%s to %s: output differs from Write's", name, f)
			}
		}
	}
	var out bytes.Buffer
	_, _, err := Convert(&out, strings.NewReader("3 2\na 1 2\nb 3 NaN\n"), Binary, t.TempDir())
	var pe *ParseError
	if !errors.As(err, &pe) || out.Len() != 0 {
		t.Fatalf("a malformed file: %v, %d bytes written", err, out.Len())
	}
	if _, _, err := Convert(&out, strings.NewReader("1 1\na 1\n"), Compact, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Convert to compact: %v", err)
	}
}
