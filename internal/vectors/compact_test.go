package vectors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

func compactFile(t testing.TB, s *Set) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteCompact(&buf, s); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestCompactRoundTrip(t *testing.T) {
	for name, s := range map[string]*Set{
		"awkward": awkwardSet(t),
		"random":  randomSet(t, 300, 50, 9),
		"empty":   mustSet(t, nil, 7),
		"dim1":    mustSet(t, []string{"x", "y"}, 1, 0.5, -3),
	} {
		data := compactFile(t, s)
		if want := compactHeaderLen + 4*s.Len()*s.Dim(); len(data) < want {
			t.Fatalf("%s: %d bytes, want at least %d", name, len(data), want)
		}
		for rname, rd := range map[string]func([]byte) (*Set, error){
			"ReadCompact": func(b []byte) (*Set, error) { return ReadCompact(bytes.NewReader(b)) },
			"Load":        func(b []byte) (*Set, error) { return Load(bytes.NewReader(b)) },
			"one byte":    func(b []byte) (*Set, error) { return ReadCompact(iotest.OneByteReader(bytes.NewReader(b))) },
			"file": func(b []byte) (*Set, error) {
				path := filepath.Join(t.TempDir(), "v")
				os.WriteFile(path, b, 0o600)
				f, err := os.Open(path)
				if err != nil {
					return nil, err
				}
				defer f.Close()
				return Load(f)
			},
		} {
			got, err := rd(data)
			if err != nil {
				t.Fatalf("%s %s: %v", name, rname, err)
			}
			sameSet(t, got, s)
		}
	}
}

// TestLoadReadsEveryFormat: the store's loader takes older stores' word2vec
// files as well as Compact.
func TestLoadReadsEveryFormat(t *testing.T) {
	s := awkwardSet(t)
	for _, f := range []Format{Text, Binary} {
		var buf bytes.Buffer
		if err := Write(&buf, s, f); err != nil {
			t.Fatal(err)
		}
		got, err := Load(&buf)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		sameSet(t, got, s)
	}
}

func TestReadCompactMalformed(t *testing.T) {
	good := compactFile(t, mustSet(t, []string{"a", "bb"}, 2, 1, 2, 3, 4))
	header := func(count, dim, wordsLen uint64) []byte {
		b := append([]byte(nil), compactMagic...)
		b = binary.LittleEndian.AppendUint64(b, count)
		b = binary.LittleEndian.AppendUint64(b, dim)
		return binary.LittleEndian.AppendUint64(b, wordsLen)
	}
	withWords := func(words string) []byte {
		b := header(2, 2, uint64(len(words)))
		b = append(b, good[compactHeaderLen:compactHeaderLen+16]...)
		return append(b, words...)
	}
	nan := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(nan[compactHeaderLen+8:], math.Float32bits(float32(math.NaN())))
	for _, c := range []struct {
		name, want string
		data       []byte
	}{
		{"empty", "header shorter", nil},
		{"short header", "header shorter", good[:20]},
		{"magic", "not the compact", append([]byte("OPHVEC9\n"), good[8:]...)},
		{"dim 0", "dimension 0", header(1, 0, 2)},
		{"dim huge", "dimension 10001", header(1, MaxDim+1, 2)},
		{"too many values", "exceed the limit", header(1<<40, 100, 1<<41)},
		{"words too short", "bytes of words", header(3, 2, 5)},
		{"truncated matrix", "bytes after the header", good[:compactHeaderLen+10]},
		{"truncated words", "bytes after the header", good[:len(good)-1]},
		{"data after", "data after", append(append([]byte(nil), good...), 'x')},
		{"nan", "row 2: malformed vector file: value 1 is not finite", nan},
		{"no final newline", "does not end with a newline", withWords("a\nbbb")},
		{"too few words", "holds 1 words", withWords("abcd\n")},
		{"too many words", "holds 3 words", withWords("a\nb\nc\n")},
		{"empty word", "empty word", withWords("\nabc\n")},
		{"duplicate", "duplicate word", withWords("ab\nab\n")},
		{"space", "white space", withWords("a b\nc\n")},
	} {
		_, err := ReadCompact(bytes.NewReader(c.data))
		var pe *ParseError
		if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want a *ParseError wrapping ErrMalformed containing %q", c.name, err, c.want)
		}
	}
}

// TestReadCompactFileSizeChecked: a file whose size disagrees with its
// header is refused before the matrix is allocated.
func TestReadCompactFileSizeChecked(t *testing.T) {
	data := compactFile(t, randomSet(t, 10, 4, 1))
	path := filepath.Join(t.TempDir(), "v")
	if err := os.WriteFile(path, data[:len(data)-3], 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := ReadCompact(f); err == nil || !strings.Contains(err.Error(), "header announces") {
		t.Fatalf("error %v, want a size mismatch", err)
	}
}

func FuzzReadCompact(f *testing.F) {
	for _, s := range []*Set{awkwardSet(f), randomSet(f, 3, 5, 1), mustSet(f, nil, 4)} {
		f.Add(compactFile(f, s))
		f.Add(streamedFile(f, s))
	}
	for _, s := range []*Set{subwordSet(f, 3, 2, 3, 1), subwordSet(f, 4, 3, 2, 2)} {
		data := compactFile(f, s)
		f.Add(data)
		f.Add(data[:len(data)-5])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadCompact(bytes.NewReader(data))
		checkRead(t, data, s, err)
		if err != nil {
			return
		}
		want := compactFile(t, s)
		if bytes.HasPrefix(data, streamMagic) {
			want = streamedFile(t, s)
		}
		if !bytes.Equal(want, data) {
			t.Fatal("a set read from a compact file writes another file")
		}
	})
}

// streamedFile is s in the streamed Compact layout (StreamCompact of its
// text file).
func streamedFile(t testing.TB, s *Set) []byte {
	t.Helper()
	var text, out bytes.Buffer
	if err := WriteText(&text, s); err != nil {
		t.Fatal(err)
	}
	if _, _, err := StreamCompact(&out, &text, StreamOptions{}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// BenchmarkLoadCompact and BenchmarkLoadBinary load the same 58k x 100
// set from a file, as the server loads a model on its first query.
func BenchmarkLoadCompact(b *testing.B) {
	benchLoad(b, func(s *Set, buf *bytes.Buffer) error { return WriteCompact(buf, s) })
}
func BenchmarkLoadBinary(b *testing.B) {
	benchLoad(b, func(s *Set, buf *bytes.Buffer) error { return WriteBinary(buf, s) })
}

func benchLoad(b *testing.B, write func(*Set, *bytes.Buffer) error) {
	var buf bytes.Buffer
	if err := write(randomSet(b, 58_000, 100, 1), &buf); err != nil {
		b.Fatal(err)
	}
	path := filepath.Join(b.TempDir(), "v")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Load(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// TestLoadMapsLargeCompactFiles loads a Compact file above mapMinBytes
// (mapped on Linux), deletes the file, searches it from several
// goroutines while the garbage collector runs, then drops the set so its
// mapping is released, and loads it again from a copy.
func TestLoadMapsLargeCompactFiles(t *testing.T) {
	want := randomSet(t, 4000, 100, 3) // 1.6 MB
	data := compactFile(t, want)
	if len(data) < mapMinBytes && runtime.GOOS == "linux" {
		t.Fatalf("test file of %d bytes is below mapMinBytes", len(data))
	}
	load := func() *Set {
		path := filepath.Join(t.TempDir(), "v")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		s, err := Load(f)
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(path) // a mapping outlives its file's name
		return s
	}
	for round := range 3 {
		s := load()
		sameSet(t, s, want)
		if s.mapped != (runtime.GOOS == "linux") {
			t.Fatalf("mapped %v on %s", s.mapped, runtime.GOOS)
		}
		wantHits, _ := want.Nearest("w17", 10)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 50 {
					got, err := s.Nearest("w17", 10)
					if err != nil || !slices.Equal(got, wantHits) {
						t.Errorf("round %d goroutine %d query %d: %v %v", round, g, i, got, err)
						return
					}
					if i%10 == 0 {
						runtime.GC()
					}
				}
			})
		}
		wg.Wait()
		s = nil
		runtime.GC()
		runtime.GC()
	}
}
