package vectors

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// fuzzSeeds are small valid files in both formats and their truncations.
func fuzzSeeds(f *testing.F) {
	var files [][]byte
	for _, s := range []*Set{
		awkwardSet(f),
		randomSet(f, 3, 5, 1),
		mustSet(f, []string{"a", "b", "a2"}, 1, 1, -1, 0.5),
		mustSet(f, nil, 4),
	} {
		for _, format := range []Format{Text, Binary} {
			var buf bytes.Buffer
			if err := Write(&buf, s, format); err != nil {
				f.Fatal(err)
			}
			files = append(files, buf.Bytes())
		}
	}
	for _, name := range []string{"word2vec-c.txt", "glove.txt"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "vectors", name))
		if err != nil {
			f.Fatal(err)
		}
		files = append(files, data)
	}
	files = append(files,
		[]byte("2 2\r\na 1 2\r\nb 3 4"),
		[]byte("2 2\na 1 2\na 3 4\n"),
		binaryFile("2 2\n", "a ", 1, 2, "b ", 3, 4),
		binaryFile("1 2\n", "a ", uint32(0x7fc00000), 1, "\n"),
		[]byte("1000000000 10000\n"),
		[]byte("200000000 10\nw 1 2 3 4 5 6 7 8 9 10\n"),
	)
	for _, data := range files {
		f.Add(data)
		for _, n := range []int{1, len(data) / 3, len(data) / 2, len(data) - 1} {
			if n > 0 && n < len(data) {
				f.Add(data[:n])
			}
		}
	}
}

// checkRead checks what a reader returned for data: an error that is a
// *ParseError wrapping ErrMalformed, or a consistent Set that survives
// both round trips.
func checkRead(t *testing.T, data []byte, s *Set, err error) {
	t.Helper()
	if err != nil {
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
			t.Fatalf("error %T %v: want a *ParseError wrapping ErrMalformed", err, err)
		}
		return
	}
	if s.Dim() < 1 || s.Dim() > MaxDim || len(s.vecs) != s.Len()*s.Dim() ||
		len(s.invNorm) != s.Len() || len(s.index) != s.Len() || s.Len() > len(data) {
		t.Fatalf("inconsistent set: %d words, dim %d, %d values, %d norms, %d index, from %d bytes",
			s.Len(), s.Dim(), len(s.vecs), len(s.invNorm), len(s.index), len(data))
	}
	for i, w := range s.words {
		if w == "" || hasSpace(w) || len(w) > MaxWordLen || s.index[w] != i {
			t.Fatalf("bad word %d %q", i, w)
		}
	}
	for i, v := range s.vecs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("value %d is %v", i, v)
		}
	}
	for _, f := range []Format{Text, Binary} {
		var buf bytes.Buffer
		if err := Write(&buf, s, f); err != nil {
			t.Fatalf("Write %s: %v", f, err)
		}
		read := ReadText
		if f == Binary {
			read = ReadBinary
		}
		got, err := read(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("reading back %s: %v", f, err)
		}
		sameSet(t, got, s)

		got, err = Read(bytes.NewReader(buf.Bytes()))
		if f == Binary && firstRowIsText(buf.Bytes(), s.Dim()) {
			continue // documented ambiguity: read as text
		}
		if err != nil {
			t.Fatalf("Read of %s output: %v", f, err)
		}
		sameSet(t, got, s)
	}
}

// firstRowIsText reports whether the first row after the header line of
// data parses as a text row.
func firstRowIsText(data []byte, dim int) bool {
	i := bytes.IndexByte(data, '\n')
	return i >= 0 && looksText(data[i+1:], true, dim)
}

func FuzzReadText(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadText(bytes.NewReader(data))
		checkRead(t, data, s, err)
	})
}

func FuzzReadBinary(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadBinary(bytes.NewReader(data))
		checkRead(t, data, s, err)
	})
}

func FuzzRead(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Read(bytes.NewReader(data))
		checkRead(t, data, s, err)
		if err != nil {
			return
		}
		// Read agrees with the reader of the format it picked.
		for _, rd := range []func(io.Reader) (*Set, error){ReadText, ReadBinary} {
			if o, err := rd(bytes.NewReader(data)); err == nil && equalSets(o, s) {
				return
			}
		}
		t.Fatalf("Read returned a set that neither ReadText nor ReadBinary returns")
	})
}

func equalSets(a, b *Set) bool {
	if a.dim != b.dim || len(a.words) != len(b.words) || len(a.vecs) != len(b.vecs) {
		return false
	}
	for i := range a.words {
		if a.words[i] != b.words[i] {
			return false
		}
	}
	for i := range a.vecs {
		if math.Float32bits(a.vecs[i]) != math.Float32bits(b.vecs[i]) {
			return false
		}
	}
	return true
}
