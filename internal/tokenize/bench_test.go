package tokenize

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// benchCorpus returns the two test books repeated to about 4 MB: English
// prose, CRLF line ends, a little non-ASCII punctuation, and a Gutenberg
// header and licence around every copy.
func benchCorpus(b *testing.B) []byte {
	b.Helper()
	var one []byte
	for _, name := range []string{"pride-and-prejudice_1342-0.txt", "alice-in-wonderland_11-0.txt"} {
		data, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
		if err != nil {
			b.Fatal(err)
		}
		one = append(one, data...)
	}
	return bytes.Repeat(one, 4<<20/len(one)+1)
}

// text8Corpus returns the words of the test books as a text8-style corpus:
// lower-case a-z words separated by single spaces, on one line, about 4 MB.
func text8Corpus(b *testing.B) []byte {
	b.Helper()
	s, err := NewScanner(bytes.NewReader(benchCorpus(b)), Options{Mode: Classic})
	if err != nil {
		b.Fatal(err)
	}
	var out []byte
	for s.Scan() {
		for _, tok := range s.Sentence() {
			if len(out) > 0 {
				out = append(out, ' ')
			}
			out = append(out, tok...)
		}
	}
	return out
}

// BenchmarkScan measures each mode on English prose (the test books,
// repeated), and whitespace mode also on a text8-style line. cpu-MB/s is
// the throughput per CPU second of the scanning thread, which does not drop
// when other processes share the machine.
func BenchmarkScan(b *testing.B) {
	prose := benchCorpus(b)
	text8 := text8Corpus(b)
	cases := []struct {
		name string
		data []byte
		opts Options
	}{
		{"unicode", prose, Options{Mode: Unicode}},
		{"unicode-keepgutenberg", prose, Options{Mode: Unicode, KeepGutenberg: true}},
		{"unicode-latin1", prose, Options{Mode: Unicode, Encoding: "latin-1"}},
		{"classic", prose, Options{Mode: Classic}},
		{"whitespace", prose, Options{Mode: Whitespace}},
		{"whitespace-text8", text8, Options{Mode: Whitespace}},
		{"unicode-text8", text8, Options{Mode: Unicode}},
	}
	for _, c := range cases {
		data := c.data
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0, cpuOK := threadCPUTime()
			var tokens int
			for b.Loop() {
				s, err := NewScanner(bytes.NewReader(data), c.opts)
				if err != nil {
					b.Fatal(err)
				}
				tokens = 0
				for s.Scan() {
					tokens += len(s.Sentence())
				}
				if err := s.Err(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(tokens), "tokens/op")
			if cpu1, ok := threadCPUTime(); ok && cpuOK && cpu1 > cpu0 {
				b.ReportMetric(float64(b.N)*float64(len(data))/1e6/(cpu1-cpu0).Seconds(), "cpu-MB/s")
			}
		})
	}
}
