package vectors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// sameSet fails unless a and b have the same words, dimension and
// bit-identical vectors.
func sameSet(t testing.TB, got, want *Set) {
	t.Helper()
	if got.Dim() != want.Dim() {
		t.Fatalf("dim %d, want %d", got.Dim(), want.Dim())
	}
	if !slices.Equal(got.Words(), want.Words()) {
		t.Fatalf("words %q, want %q", clipWords(got.Words()), clipWords(want.Words()))
	}
	for i := range got.vecs {
		if math.Float32bits(got.vecs[i]) != math.Float32bits(want.vecs[i]) {
			t.Fatalf("value %d (row %d): %v, want %v", i, i/got.dim, got.vecs[i], want.vecs[i])
		}
	}
	for w, i := range want.index {
		if j, ok := got.Index(w); !ok || j != i {
			t.Fatalf("Index(%q) = %d, %v; want %d", w, j, ok, i)
		}
	}
}

func clipWords(w []string) []string {
	if len(w) > 10 {
		return w[:10]
	}
	return w
}

// mustSet builds a Set or fails.
func mustSet(t testing.TB, words []string, dim int, vecs ...float32) *Set {
	t.Helper()
	s, err := New(words, dim, vecs)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// awkwardSet has values that stress the float formatting and words that
// stress the tokenising.
func awkwardSet(t testing.TB) *Set {
	return mustSet(t, []string{"</s>", "naïve", "\xff\xfe", "a,b", "1", "日本"}, 4,
		0, float32(math.Copysign(0, -1)), 1, -1,
		math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, 1e-38,
		0.1, 1.0/3, 123456789, -2.5e-7,
		float32(math.Nextafter32(1, 2)), 16777217, 3.4e38, 1e-45,
		0.5, 0.25, 0.125, 0.0625,
		7, -7, 1e10, -1e-10,
	)
}

func TestRoundTrip(t *testing.T) {
	sets := map[string]*Set{
		"awkward": awkwardSet(t),
		"random":  randomSet(t, 300, 50, 9),
		"empty":   mustSet(t, nil, 7),
		"dim1":    mustSet(t, []string{"x", "y"}, 1, 0.5, -3),
	}
	for name, s := range sets {
		for _, f := range []Format{Text, Binary} {
			t.Run(name+"/"+string(f), func(t *testing.T) {
				var buf bytes.Buffer
				if err := Write(&buf, s, f); err != nil {
					t.Fatal(err)
				}
				data := buf.Bytes()
				read := map[string]func(io.Reader) (*Set, error){"Read": Read, "ReadText": ReadText, "ReadBinary": ReadBinary}
				for rname, rd := range read {
					if (rname == "ReadText" && f == Binary) || (rname == "ReadBinary" && f == Text) {
						continue
					}
					got, err := rd(bytes.NewReader(data))
					if err != nil {
						t.Fatalf("%s: %v", rname, err)
					}
					sameSet(t, got, s)
					// Byte-at-a-time and error-free short reads change nothing.
					got, err = rd(iotest.OneByteReader(bytes.NewReader(data)))
					if err != nil {
						t.Fatalf("%s one byte at a time: %v", rname, err)
					}
					sameSet(t, got, s)
				}
			})
		}
	}
}

func TestWriteTextLayout(t *testing.T) {
	s := mustSet(t, []string{"a", "bé"}, 3, 1, -0.5, 1e-7, 0.1, 2, 300000)
	var buf bytes.Buffer
	if err := WriteText(&buf, s); err != nil {
		t.Fatal(err)
	}
	want := "2 3\na 1 -0.5 1e-07\nbé 0.1 2 300000\n"
	if buf.String() != want {
		t.Errorf("WriteText wrote %q, want %q", buf.String(), want)
	}
}

func TestWriteBinaryLayout(t *testing.T) {
	s := mustSet(t, []string{"a", "bc"}, 2, 1, -2, 0.5, 0)
	var buf bytes.Buffer
	if err := WriteBinary(&buf, s); err != nil {
		t.Fatal(err)
	}
	want := binaryFile("2 2\n", "a ", 1, -2, "\n", "bc ", 0.5, 0, "\n")
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("WriteBinary wrote\n%q, want\n%q", buf.Bytes(), want)
	}
}

// binaryFile assembles a file from strings (copied as is) and float32
// values (4 little-endian bytes each).
func binaryFile(parts ...any) []byte {
	var b []byte
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			b = append(b, p...)
		case int:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(p)))
		case float64:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(float32(p)))
		case float32:
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(p))
		case uint32: // raw bits
			b = binary.LittleEndian.AppendUint32(b, p)
		default:
			panic("binaryFile: bad part")
		}
	}
	return b
}

func TestReadWord2vecCText(t *testing.T) {
	// As word2vec.c -binary 0 writes it: "%lf " after every value.
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vectors", "word2vec-c.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := mustSet(t, []string{"</s>", "the", "of", "naïve", "\xff\xfebytes"}, 4,
		0.004003, 0.004419, -0.003830, -0.003278,
		-0.036383, 0.127536, 0.078214, -0.011244,
		0.086250, -0.013467, 0.104123, 0,
		1, -2.5, 0, 3.25,
		-1, 0.5, 0.25, -0.125)
	for name, rd := range map[string]func(io.Reader) (*Set, error){"ReadText": ReadText, "Read": Read} {
		got, err := rd(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameSet(t, got, want)
		// \r\n line ends and no final newline.
		crlf := bytes.TrimSuffix(bytes.ReplaceAll(data, []byte("\n"), []byte("\r\n")), []byte("\r\n"))
		got, err = rd(bytes.NewReader(crlf))
		if err != nil {
			t.Fatalf("%s CRLF: %v", name, err)
		}
		sameSet(t, got, want)
	}
}

func TestReadGloVe(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vectors", "glove.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := mustSet(t, []string{"the", ",", "of"}, 3,
		0.418, 0.24968, -0.41242,
		0.013441, 0.23682, -0.16899,
		0.70853, 0.57088, -0.4716)
	for name, rd := range map[string]func(io.Reader) (*Set, error){"ReadText": ReadText, "Read": Read} {
		got, err := rd(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		sameSet(t, got, want)
	}
	if _, err := ReadBinary(bytes.NewReader(data)); !errors.Is(err, ErrMalformed) {
		t.Errorf("ReadBinary of a headerless file: %v, want ErrMalformed", err)
	}
}

func TestReadBinaryByteByByte(t *testing.T) {
	want := mustSet(t, []string{"</s>", "héllo", "x"}, 3,
		1, -2, 0.5,
		0, 3.25, -1e-3,
		65536, 7, -0.125)
	// As word2vec.c and gensim write it.
	file := binaryFile("3 3\n",
		"</s> ", 1, -2, 0.5, "\n",
		"héllo ", 0, 3.25, -1e-3, "\n",
		"x ", 65536, 7, -0.125, "\n")
	// Without the newline after each vector (and none at the end), with
	// extra white space before words and trailing white space at the end.
	bare := binaryFile("3 3\r\n",
		"</s> ", 1, -2, 0.5,
		"héllo ", 0, 3.25, -1e-3,
		"\n\n x ", 65536, 7, -0.125, "\n \n")
	for name, data := range map[string][]byte{"file": file, "bare": bare} {
		for rname, rd := range map[string]func(io.Reader) (*Set, error){"ReadBinary": ReadBinary, "Read": Read} {
			got, err := rd(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("%s %s: %v", rname, name, err)
			}
			sameSet(t, got, want)
		}
	}
	// A vector whose bytes hold '\n' and ' ' reads fine.
	tricky := binaryFile("2 2\n", "a ", uint32(0x200a200a), uint32(0x0a0a0a0a), "\n", "b ", 1, 2, "\n")
	got, err := ReadBinary(bytes.NewReader(tricky))
	if err != nil {
		t.Fatal(err)
	}
	if got.Len() != 2 || math.Float32bits(got.Row(0)[0]) != 0x200a200a || math.Float32bits(got.Row(0)[1]) != 0x0a0a0a0a {
		t.Errorf("tricky row read as %v", got.Row(0))
	}
}

func TestReadDuplicatesKeepFirst(t *testing.T) {
	text := "4 2\na 1 2\nb 3 4\na 5 6\nc 7 8\n"
	bin := binaryFile("4 2\n", "a ", 1, 2, "\n", "b ", 3, 4, "\n", "a ", 5, 6, "\n", "c ", 7, 8, "\n")
	want := mustSet(t, []string{"a", "b", "c"}, 2, 1, 2, 3, 4, 7, 8)
	got, err := ReadText(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	sameSet(t, got, want)
	got, err = ReadBinary(bytes.NewReader(bin))
	if err != nil {
		t.Fatal(err)
	}
	sameSet(t, got, want)
	// COUNT counts the file's rows, duplicates included.
	if _, err := ReadText(strings.NewReader("3 2\na 1 2\nb 3 4\na 5 6\nc 7 8\n")); !errors.Is(err, ErrMalformed) {
		t.Errorf("COUNT excluding the duplicate: %v, want ErrMalformed", err)
	}
}

func TestReadMalformed(t *testing.T) {
	row := func(w string, v ...any) string {
		return string(binaryFile(append(append([]any{w + " "}, v...), "\n")...))
	}
	cases := []struct {
		name   string
		read   func(io.Reader) (*Set, error)
		input  string
		line   int // text only
		row    int
		substr string
	}{
		{"text empty", ReadText, "", 1, 0, "empty input"},
		{"text blank", ReadText, "\n \n", 3, 0, "empty input"},
		{"text dim 0", ReadText, "3 0\n", 1, 0, "dimension 0"},
		{"text dim too big", ReadText, "3 10001\n", 1, 0, "dimension 10001"},
		{"text too many values", ReadText, "1000000000 10000\n", 1, 0, "exceed the limit"},
		{"text count overflow", ReadText, "99999999999999999999999 3\n", 1, 0, "out of range"},
		{"text few values", ReadText, "2 3\na 1 2 3\nb 1 2\n", 3, 2, "2 values, want 3"},
		{"text many values", ReadText, "2 3\na 1 2 3\nb 1 2 3 4\n", 3, 2, "more than 3 values"},
		{"text bad number", ReadText, "1 2\na 1 x2\n", 2, 1, `value 2 "x2"`},
		{"text NaN", ReadText, "1 2\na 1 NaN\n", 2, 1, "not a finite"},
		{"text Inf", ReadText, "1 2\na -inf 1\n", 2, 1, "not a finite"},
		{"text overflow", ReadText, "1 2\na 1e39 1\n", 2, 1, "not a finite"},
		{"text fewer rows", ReadText, "3 2\na 1 2\n\nb 1 2\n", 5, 3, "after 2 of 3 rows"},
		{"text more rows", ReadText, "1 2\na 1 2\nb 1 2\n", 3, 2, "more rows"},
		{"text word too long", ReadText, "1 1\n" + strings.Repeat("w", MaxWordLen+1) + " 1\n", 2, 1, "longer than"},
		{"text line too long", ReadText, "1 1\nw " + strings.Repeat(" ", 2<<20) + "1\n", 2, 1, "line longer"},
		{"glove no values", ReadText, "word\nb 1\n", 1, 0, "neither a header"},
		{"glove ragged", ReadText, "a 1 2\nb 1\n", 2, 2, "1 values, want 2"},
		{"binary empty", ReadBinary, "", 0, 0, "empty input"},
		{"binary no header", ReadBinary, "a 1 2 3\n", 0, 0, "not a header"},
		{"binary dim too big", ReadBinary, "1 20000\n", 0, 0, "dimension 20000"},
		{"binary truncated vector", ReadBinary, "2 2\n" + row("a", 1, 2) + "b " + "\x00\x00\x80", 0, 2, "shorter than 8 bytes"},
		{"binary truncated word", ReadBinary, "2 2\n" + row("a", 1, 2) + "bword", 0, 2, "has no vector"},
		{"binary fewer rows", ReadBinary, "3 2\n" + row("a", 1, 2) + row("b", 1, 2), 0, 3, "after 2 of 3 rows"},
		{"binary more rows", ReadBinary, "1 2\n" + row("a", 1, 2) + row("b", 1, 2), 0, 2, "data after"},
		{"binary NaN", ReadBinary, "1 2\n" + row("a", 1, uint32(0x7fc00000)), 0, 1, "value 2 of \"a\" is not finite"},
		{"binary Inf", ReadBinary, "1 2\n" + row("a", uint32(0xff800000), 1), 0, 1, "not finite"},
		{"binary space in word", ReadBinary, "1 2\nab\tc " + "12345678", 0, 1, "white space"},
		{"binary word too long", ReadBinary, "1 1\n" + strings.Repeat("w", MaxWordLen+1) + " 1234", 0, 1, "longer than"},
		{"binary word very long", ReadBinary, "1 1\n" + strings.Repeat("w", 200_000), 0, 1, "longer than"},
		{"binary wrong dim", ReadBinary, "2 3\n" + row("a", 1, 2) + row("b", 1, 2), 0, 2, "has no vector"},
		{"read text fewer values", Read, "2 3\na 1 2 3\nb 1 2\n", 3, 2, "2 values, want 3"},
		{"read text bad first row", Read, "2 3\na 1 2\nb 1 2 3\n", 2, 1, "2 values, want 3"},
		{"read binary truncated", Read, "2 2\n" + row("a", 1.5, 2) + "b " + "\x00\x00", 0, 2, "shorter than"},
		{"read bad header", Read, "2 x y\n", 1, 1, `value 1 "x"`},
		{"read text second row short", Read, "3 3\na 1 2 3\nbc 1 2\nd 1 2 3\n", 3, 2, "2 values, want 3"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := c.read(strings.NewReader(c.input))
			if err == nil {
				t.Fatalf("no error; read %d words", s.Len())
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v, want *ParseError", err, err)
			}
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("error %v does not wrap ErrMalformed", err)
			}
			if pe.Line != c.line || pe.Row != c.row {
				t.Errorf("error at line %d row %d, want line %d row %d: %v", pe.Line, pe.Row, c.line, c.row, err)
			}
			if !strings.Contains(err.Error(), c.substr) {
				t.Errorf("error %q does not mention %q", err, c.substr)
			}
		})
	}
}

func TestReadTruncatedTextIsUnexpectedEOF(t *testing.T) {
	_, err := ReadText(strings.NewReader("2 1\na 1\n"))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("error %v, want io.ErrUnexpectedEOF", err)
	}
	_, err = ReadBinary(strings.NewReader("1 1\na \x00"))
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("error %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestReadPassesReaderErrors(t *testing.T) {
	boom := errors.New("boom")
	var buf bytes.Buffer
	if err := WriteBinary(&buf, randomSet(t, 2000, 20, 1)); err != nil {
		t.Fatal(err)
	}
	for name, rd := range map[string]func(io.Reader) (*Set, error){"ReadText": ReadText, "ReadBinary": ReadBinary, "Read": Read} {
		r := io.MultiReader(bytes.NewReader(buf.Bytes()[:100_000]), iotest.ErrReader(boom))
		_, err := rd(r)
		if name == "ReadText" && errors.Is(err, ErrMalformed) {
			continue // binary content is malformed text before the reader fails
		}
		if !errors.Is(err, boom) {
			t.Errorf("%s: error %v, want boom", name, err)
		}
	}
}

// A header announcing a huge set must not allocate it: memory follows the
// rows actually present.
func TestReadHugeHeaderAllocatesLittle(t *testing.T) {
	inputs := []string{
		"1000000000 10000\n",      // over MaxValues: rejected at once
		"200000000 10\na 1 2 3\n", // 8 GB announced, valid, then broken
		"200000000 10\n" + string(binaryFile("a ", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, "\n")),
		"2147483648 1\n",
		"214748364 10\n",
	}
	for _, in := range inputs {
		for name, rd := range map[string]func(io.Reader) (*Set, error){"ReadText": ReadText, "ReadBinary": ReadBinary, "Read": Read} {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := rd(strings.NewReader(in))
			runtime.ReadMemStats(&after)
			if err == nil {
				t.Errorf("%s(%.20q): no error", name, in)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 4<<20 {
				t.Errorf("%s(%.20q) allocated %d bytes", name, in, got)
			}
		}
	}
}

func TestWriteRejectsNonFinite(t *testing.T) {
	s := mustSet(t, []string{"a", "b"}, 2, 1, 2, 3, float32(math.NaN()))
	for _, f := range []Format{Text, Binary} {
		var buf bytes.Buffer
		err := Write(&buf, s, f)
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `row 1 ("b")`) {
			t.Errorf("%s: error %v, want ErrInvalid naming row 1", f, err)
		}
		if buf.Len() != 0 {
			t.Errorf("%s: wrote %d bytes before failing", f, buf.Len())
		}
	}
}

func TestWritePassesWriterErrors(t *testing.T) {
	s := randomSet(t, 3000, 50, 2)
	for _, f := range []Format{Text, Binary} {
		w := &failWriter{n: 100_000}
		if err := Write(w, s, f); !errors.Is(err, errFull) {
			t.Errorf("%s: error %v, want errFull", f, err)
		}
	}
}

var errFull = errors.New("disk full")

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		n := w.n
		w.n = 0
		return n, errFull
	}
	w.n -= len(p)
	return len(p), nil
}

func TestFormat(t *testing.T) {
	for in, want := range map[string]Format{"text": Text, "binary": Binary, " Binary ": Binary, "TEXT": Text} {
		if got, err := ParseFormat(in); err != nil || got != want {
			t.Errorf("ParseFormat(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "bin", "txt", "json"} {
		if _, err := ParseFormat(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseFormat(%q) error %v, want ErrInvalid", in, err)
		}
	}
	var buf bytes.Buffer
	if err := Write(&buf, awkwardSet(t), "csv"); !errors.Is(err, ErrInvalid) || buf.Len() != 0 {
		t.Errorf("Write(csv) error %v, wrote %d bytes", err, buf.Len())
	}
}

func TestNewRejectsWhiteSpace(t *testing.T) {
	for _, w := range []string{"a b", "a\tb", "a\n", "\rb"} {
		if _, err := New([]string{w}, 1, []float32{1}); !errors.Is(err, ErrInvalid) {
			t.Errorf("New(%q) error %v, want ErrInvalid", w, err)
		}
	}
}

func TestDetect(t *testing.T) {
	// Read picks the format from the first rows.
	text := "2 3\na 0.1 0.2 0.3\nb 1 2 3\n"
	if got := detectOf(t, text); got != Text {
		t.Errorf("text detected as %s", got)
	}
	// A first row that fits exactly 4*DIM bytes of text is still text.
	if got := detectOf(t, "1 3\na 0.1 0.2 0.35\n"); got != Text {
		t.Errorf("12-byte text row detected as %s", got)
	}
	bin := string(binaryFile("2 3\n", "a ", 0.1, 0.2, 0.3, "\n", "b ", 1, 2, 3, "\n"))
	if got := detectOf(t, bin); got != Binary {
		t.Errorf("binary detected as %s", got)
	}
	// Printable float bytes, newline right after them: binary.
	printable := string(binaryFile("1 2\n", "a ", uint32(0x41414141), uint32(0x42424242), "\n"))
	if got := detectOf(t, printable); got != Binary {
		t.Errorf("printable binary detected as %s", got)
	}
	// A float whose first byte is '\n'.
	nl := string(binaryFile("1 2\n", "a ", uint32(0x3f80000a), 1, "\n"))
	if got := detectOf(t, nl); got != Binary {
		t.Errorf("binary starting with a newline byte detected as %s", got)
	}
}

func detectOf(t *testing.T, data string) Format {
	t.Helper()
	lr := newLineReader(strings.NewReader(data))
	h, _, err := readHeader(lr, "")
	if err != nil {
		t.Fatal(err)
	}
	p, err := lr.br.Peek(bufSize)
	return detect(p, err == io.EOF, h.count, h.dim)
}

// benchSet is the 58k x 100 set of the benchmarks, written in both formats.
func benchFiles(b *testing.B) (s *Set, text, bin []byte) {
	s = randomSet(b, 58_000, 100, 1)
	var tb, bb bytes.Buffer
	if err := WriteText(&tb, s); err != nil {
		b.Fatal(err)
	}
	if err := WriteBinary(&bb, s); err != nil {
		b.Fatal(err)
	}
	return s, tb.Bytes(), bb.Bytes()
}

func BenchmarkWriteText(b *testing.B) {
	s, text, _ := benchFiles(b)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteText(io.Discard, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteBinary(b *testing.B) {
	s, _, bin := benchFiles(b)
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		if err := WriteBinary(io.Discard, s); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadText(b *testing.B) {
	_, text, _ := benchFiles(b)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadText(bytes.NewReader(text)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadBinary(b *testing.B) {
	_, _, bin := benchFiles(b)
	b.SetBytes(int64(len(bin)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ReadBinary(bytes.NewReader(bin)); err != nil {
			b.Fatal(err)
		}
	}
}
