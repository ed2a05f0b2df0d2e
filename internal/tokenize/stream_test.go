package tokenize

import (
	"io"
	"runtime"
	"strings"
	"testing"
	"unicode/utf8"
)

// repeatReader yields its pattern repeated until size bytes have been read,
// without ever holding more than the pattern.
type repeatReader struct {
	pattern []byte
	left    int64
	off     int
}

func newRepeatReader(pattern string, size int64) *repeatReader {
	return &repeatReader{pattern: []byte(pattern), left: size}
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := 0
	for n < len(p) && r.left > 0 {
		chunk := r.pattern[r.off:]
		if int64(len(chunk)) > r.left {
			chunk = chunk[:r.left]
		}
		c := copy(p[n:], chunk)
		n += c
		r.left -= int64(c)
		r.off = (r.off + c) % len(r.pattern)
	}
	return n, nil
}

// allocated returns the bytes allocated on the heap so far.
func allocated() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// TestHugeLine streams a 150 MB single-line corpus (text8 style, no
// punctuation, no line end) through every mode: the token count must be
// exact, every chunk but the last must hold exactly MaxSentence tokens, and
// the heap allocation of the whole run must stay a small constant.
func TestHugeLine(t *testing.T) {
	const pattern = "the quick brown fox jumps over the lazy dog " // 9 tokens
	const patternTokens = 9
	reps := int64(150_000_000/len(pattern) + 1) // just over 150 MB
	if raceEnabled || testing.Short() {
		reps /= 10
	}
	size := reps * int64(len(pattern))
	wantTokens := reps * patternTokens
	for _, m := range Modes {
		runtime.GC()
		before := allocated()
		s, err := NewScanner(newRepeatReader(pattern, size), Options{Mode: m})
		if err != nil {
			t.Fatal(err)
		}
		var tokens, sentences int64
		var lastLen int
		for s.Scan() {
			sent := s.Sentence()
			if lastLen != 0 && lastLen != DefaultMaxSentence {
				t.Fatalf("%s: chunk %d has %d tokens, only the last may have fewer than %d", m, sentences-1, lastLen, DefaultMaxSentence)
			}
			lastLen = len(sent)
			sentences++
			tokens += int64(len(sent))
		}
		grown := allocated() - before
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if tokens != wantTokens || s.Bytes() != size {
			t.Errorf("%s: %d tokens from %d bytes, want %d tokens from %d bytes", m, tokens, s.Bytes(), wantTokens, size)
		}
		if want := (wantTokens + DefaultMaxSentence - 1) / DefaultMaxSentence; sentences != want {
			t.Errorf("%s: %d chunks, want %d", m, sentences, want)
		}
		if grown > 4<<20 {
			t.Errorf("%s: %d bytes allocated to scan %d bytes; want a small constant", m, grown, size)
		}
		if c := cap(s.arena); c > 1<<20 {
			t.Errorf("%s: token arena grew to %d bytes", m, c)
		}
		t.Logf("%s: %d bytes, %d tokens, %d chunks, %d bytes allocated", m, size, tokens, sentences, grown)
	}
}

// TestLongToken feeds tokens of many MiB with no separator: they are
// truncated to MaxTokenBytes (whole characters), the text after them is
// intact, and memory does not grow with their length.
func TestLongToken(t *testing.T) {
	size := int64(16 << 20)
	if raceEnabled || testing.Short() {
		size = 4 << 20
	}
	cases := []struct {
		mode  Mode
		unit  string // repeated to make the long token
		token string // its truncated form
	}{
		{Unicode, "a", strings.Repeat("a", MaxTokenBytes)},
		{Unicode, "É", strings.Repeat("é", MaxTokenBytes/2)},
		// Apostrophes between letters stay, as ASCII; an apostrophe is
		// appended only with the letter after it (1024 = 3*341 + 1).
		{Unicode, "ab’", strings.Repeat("ab'", MaxTokenBytes/3) + "a"},
		{Classic, "A", strings.Repeat("a", MaxTokenBytes)},
		{Whitespace, "\x01", strings.Repeat("\x01", MaxTokenBytes)},
		{Whitespace, "€", strings.Repeat("€", MaxTokenBytes/3)},
	}
	for _, c := range cases {
		want := c.token
		runtime.GC()
		before := allocated()
		r := io.MultiReader(strings.NewReader("before "), newRepeatReader(c.unit, size/int64(len(c.unit))*int64(len(c.unit))), strings.NewReader(" after"))
		got := scanAll(t, r, Options{Mode: c.mode})
		grown := allocated() - before
		if len(got) != 1 || len(got[0]) != 3 || got[0][0] != "before" || got[0][2] != "after" {
			t.Fatalf("%s %q: got %d sentences: %.100q", c.mode, c.unit, len(got), got)
		}
		if tok := got[0][1]; tok != want || len(tok) > MaxTokenBytes || !utf8.ValidString(tok) {
			t.Errorf("%s %q: long token truncated to %d bytes %.40q…, want %d bytes %.40q…", c.mode, c.unit, len(tok), tok, len(want), want)
		}
		if grown > 2<<20 {
			t.Errorf("%s %q: %d bytes allocated for a %d-byte token", c.mode, c.unit, grown, size)
		}
	}
}
