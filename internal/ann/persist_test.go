package ann

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

// written returns ix's file.
func written(t testing.TB, ix *Index) []byte {
	t.Helper()
	var b bytes.Buffer
	n, err := ix.WriteTo(&b)
	if err != nil || n != int64(b.Len()) {
		t.Fatalf("WriteTo: %d bytes of %d, %v", n, b.Len(), err)
	}
	return b.Bytes()
}

// loadFile writes data to a file and loads it from the open file.
func loadFile(t *testing.T, data []byte, set *vectors.Set) (*Index, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "index")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return Load(f, set)
}

// reseal recomputes both checksums of a file, so that a test reaches the
// checks behind them.
func reseal(b []byte) {
	le := binary.LittleEndian
	le.PutUint32(b[56:], crc32.Checksum(b[headerLen:], castagnoli))
	le.PutUint32(b[60:], crc32.Checksum(b[:60], castagnoli))
}

func TestPersistRoundTrip(t *testing.T) {
	set := synthetic(t, 20_000, 32, 11)
	ix := build(t, set, Config{Ef: 50})
	data := written(t, ix)
	if ix.Levels() < 2 {
		t.Fatalf("%d layers: the test needs upper layers", ix.Levels())
	}
	mapped, err := loadFile(t, data, set)
	if err != nil {
		t.Fatal(err)
	}
	if !mapped.mapped {
		t.Error("a file was read, not mapped")
	}
	read, err := Load(bytes.NewReader(data), set)
	if err != nil {
		t.Fatal(err)
	}
	if read.mapped {
		t.Error("a reader's index claims a mapping")
	}
	for _, l := range []*Index{mapped, read} {
		if l.Bytes() != ix.Bytes() || l.Ef() != 50 || l.Levels() != ix.Levels() {
			t.Errorf("loaded: %d bytes, ef %d, %d layers; built: %d, 50, %d", l.Bytes(), l.Ef(), l.Levels(), ix.Bytes(), ix.Levels())
		}
		if !bytes.Equal(written(t, l), data) {
			t.Error("a loaded index writes another file")
		}
	}
	for i := 0; i < set.Len(); i += 97 {
		q := set.Row(i)
		want := ix.Search(q, 10, []int{i})
		if got := mapped.Search(q, 10, []int{i}); !slices.Equal(got, want) {
			t.Fatalf("row %d: mapped index answers %v, built %v", i, got, want)
		}
		if got := read.Search(q, 10, []int{i}); !slices.Equal(got, want) {
			t.Fatalf("row %d: read index answers %v, built %v", i, got, want)
		}
	}
}

func TestLoadTruncated(t *testing.T) {
	set := synthetic(t, 3000, 16, 12)
	data := written(t, build(t, set, Config{}))
	cuts := []int{0, 1, 7, 8, 63, 64, 65, 67, 68, len(data) / 2, len(data) - 4, len(data) - 1}
	for c := 100; c < len(data); c += len(data) / 37 {
		cuts = append(cuts, c)
	}
	for _, c := range cuts {
		if _, err := Load(bytes.NewReader(data[:c]), set); !errors.Is(err, ErrFormat) {
			t.Errorf("reader cut at %d of %d: %v, want ErrFormat", c, len(data), err)
		}
		if _, err := loadFile(t, data[:c], set); !errors.Is(err, ErrFormat) {
			t.Errorf("file cut at %d of %d: %v, want ErrFormat", c, len(data), err)
		}
	}
	long := append(slices.Clone(data), 0, 0, 0, 0)
	if _, err := Load(bytes.NewReader(long), set); !errors.Is(err, ErrFormat) {
		t.Errorf("reader with 4 more bytes: %v", err)
	}
	if _, err := loadFile(t, long, set); !errors.Is(err, ErrFormat) {
		t.Errorf("file with 4 more bytes: %v", err)
	}
}

func TestLoadBitFlips(t *testing.T) {
	set := synthetic(t, 3000, 16, 13)
	data := written(t, build(t, set, Config{}))
	positions := []int{}
	for p := range headerLen {
		positions = append(positions, p)
	}
	for p := headerLen; p < len(data); p += len(data) / 150 {
		positions = append(positions, p)
	}
	positions = append(positions, len(data)-1)
	for _, p := range positions {
		for _, bit := range []byte{1, 0x80} {
			bad := slices.Clone(data)
			bad[p] ^= bit
			if _, err := Load(bytes.NewReader(bad), set); err == nil {
				t.Fatalf("reader: byte %d ^ %#x loaded", p, bit)
			}
			if p%3 == 0 {
				if _, err := loadFile(t, bad, set); err == nil {
					t.Fatalf("file: byte %d ^ %#x loaded", p, bit)
				}
			}
		}
	}
}

func TestLoadOtherSet(t *testing.T) {
	set := synthetic(t, 3000, 16, 14)
	data := written(t, build(t, set, Config{}))
	other := func(change func(words []string, vecs []float32)) *vectors.Set {
		words := slices.Clone(set.Words())
		vecs := make([]float32, 0, set.Len()*set.Dim())
		for i := range set.Len() {
			vecs = append(vecs, set.Row(i)...)
		}
		change(words, vecs)
		s, err := vectors.New(words, set.Dim(), vecs)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	same := other(func([]string, []float32) {})
	if _, err := Load(bytes.NewReader(data), same); err != nil {
		t.Fatalf("an equal set: %v", err)
	}
	for name, s := range map[string]*vectors.Set{
		"one value":    other(func(_ []string, v []float32) { v[1234*16+5] += 0.01 }),
		"swapped":      other(func(_ []string, v []float32) { v[1235*16+5], v[1235*16+6] = v[1235*16+6], v[1235*16+5] }),
		"one word":     other(func(w []string, _ []float32) { w[2999] = "other" }),
		"two rows":     other(func(w []string, v []float32) { copy(v[:16], v[16:32]); w[0], w[1] = w[1], w[0] }),
		"fewer rows":   synthetic(t, 2999, 16, 14),
		"another dim":  synthetic(t, 3000, 17, 14),
		"another seed": synthetic(t, 3000, 16, 15),
	} {
		if _, err := Load(bytes.NewReader(data), s); !errors.Is(err, ErrMismatch) {
			t.Errorf("%s: %v, want ErrMismatch", name, err)
		}
		if _, err := loadFile(t, data, s); !errors.Is(err, ErrMismatch) {
			t.Errorf("file, %s: %v, want ErrMismatch", name, err)
		}
	}
}

// TestLoadHostile: files whose checksums are right but whose contents
// are not (what an attacker or a bug writes) are refused, without a panic
// or an allocation the header asks for.
func TestLoadHostile(t *testing.T) {
	set := synthetic(t, 3000, 16, 16)
	ix := build(t, set, Config{})
	data := written(t, ix)
	le := binary.LittleEndian
	levels := ix.Levels()
	l0 := headerLen + 4*(levels-1) // the first link of layer 0
	up := l0 + 4*set.Len()*ix.m0   // layer 1's rows
	for name, edit := range map[string]func(b []byte) []byte{
		"version":          func(b []byte) []byte { le.PutUint32(b[8:], 2); return b },
		"M 0":              func(b []byte) []byte { le.PutUint32(b[12:], 0); return b },
		"M huge":           func(b []byte) []byte { le.PutUint32(b[12:], 1<<31); le.PutUint32(b[16:], 0); return b },
		"M0 not 2M":        func(b []byte) []byte { le.PutUint32(b[16:], 33); return b },
		"no layers":        func(b []byte) []byte { le.PutUint32(b[20:], 0); return b },
		"many layers":      func(b []byte) []byte { le.PutUint32(b[20:], 1<<30); return b },
		"ef 0":             func(b []byte) []byte { le.PutUint32(b[28:], 0); return b },
		"ef huge":          func(b []byte) []byte { le.PutUint32(b[28:], 1<<31); return b },
		"rows huge":        func(b []byte) []byte { le.PutUint64(b[32:], 1<<62); return b },
		"dim huge":         func(b []byte) []byte { le.PutUint64(b[40:], 1<<62); return b },
		"entry off layer":  func(b []byte) []byte { le.PutUint32(b[24:], 2999); return b },
		"entry past rows":  func(b []byte) []byte { le.PutUint32(b[24:], 1<<31); return b },
		"layer count huge": func(b []byte) []byte { le.PutUint32(b[headerLen:], 1<<31); return b },
		"layer count 0":    func(b []byte) []byte { le.PutUint32(b[headerLen:], 0); return b },
		"link past rows":   func(b []byte) []byte { le.PutUint32(b[l0+8:], 3000); return b },
		"upper rows unsorted": func(b []byte) []byte {
			x, y := le.Uint32(b[up:]), le.Uint32(b[up+4:])
			le.PutUint32(b[up:], y)
			le.PutUint32(b[up+4:], x)
			return b
		},
		"upper link off layer": func(b []byte) []byte {
			n := int(le.Uint32(b[headerLen:]))
			links := up + 4*n
			for r := range 3000 {
				if slices.Index(ix.upper[0].ids, uint32(r)) < 0 {
					le.PutUint32(b[links:], uint32(r))
					break
				}
			}
			return b
		},
		"appended": func(b []byte) []byte { return append(b, make([]byte, 4)...) },
	} {
		bad := edit(slices.Clone(data))
		reseal(bad)
		if _, err := Load(bytes.NewReader(bad), set); err == nil || !(errors.Is(err, ErrFormat) || errors.Is(err, ErrMismatch)) {
			t.Errorf("reader, %s: %v, want ErrFormat or ErrMismatch", name, err)
		}
		if _, err := loadFile(t, bad, set); err == nil || !(errors.Is(err, ErrFormat) || errors.Is(err, ErrMismatch)) {
			t.Errorf("file, %s: %v, want ErrFormat or ErrMismatch", name, err)
		}
	}
}

func TestFingerprint(t *testing.T) {
	a := synthetic(t, 5000, 8, 17)
	b := synthetic(t, 5000, 8, 17)
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatal("equal sets, other fingerprints")
	}
	if c := synthetic(t, 5000, 8, 18); c.Fingerprint() == a.Fingerprint() {
		t.Fatal("another set, the same fingerprint")
	}
}

func FuzzLoad(f *testing.F) {
	set := synthetic(f, 300, 4, 19)
	ix, err := Build(context.Background(), set, Config{M: 3, EfConstruction: 8}, nil)
	if err != nil {
		f.Fatal(err)
	}
	var b bytes.Buffer
	ix.WriteTo(&b)
	f.Add(b.Bytes())
	f.Add(b.Bytes()[:headerLen])
	f.Add([]byte("OPHHNSW\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Checksums would stop nearly every input at once: reseal a
		// copy too, so the fuzzer reaches the structural checks.
		for _, in := range [][]byte{data, resealed(data)} {
			ix, err := Load(bytes.NewReader(in), set)
			if err != nil {
				if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrMismatch) {
					t.Fatalf("error outside ErrFormat/ErrMismatch: %v", err)
				}
				continue
			}
			for i := 0; i < set.Len(); i += 37 {
				if got := ix.SearchEf(set.Row(i), 5, 4, nil); len(got) > 5 {
					t.Fatalf("%d results", len(got))
				}
			}
		}
	})
}

func resealed(data []byte) []byte {
	if len(data) < headerLen {
		return data
	}
	b := slices.Clone(data)
	reseal(b)
	return b
}
