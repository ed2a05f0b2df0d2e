package tokenize

import (
	"bytes"
	"reflect"
	"testing"
	"testing/iotest"
	"unicode"
	"unicode/utf8"
)

// rechunk cuts every sentence into pieces of at most max tokens.
func rechunk(sents [][]string, max int) [][]string {
	out := [][]string{}
	for _, s := range sents {
		for len(s) > max {
			out = append(out, s[:max])
			s = s[max:]
		}
		out = append(out, s)
	}
	return out
}

// checkToken reports why tok is not a valid token of mode m, or "".
func checkToken(m Mode, tok []byte) string {
	switch {
	case len(tok) == 0:
		return "empty token"
	case len(tok) > MaxTokenBytes:
		return "token longer than MaxTokenBytes"
	}
	switch m {
	case Classic:
		for _, c := range tok {
			if c < 'a' || c > 'z' {
				return "byte outside a-z"
			}
		}
		return ""
	case Whitespace:
		if !utf8.Valid(tok) {
			return "invalid UTF-8"
		}
		for _, r := range string(tok) {
			if unicode.IsSpace(r) || r == utf8.RuneError {
				return "white space or U+FFFD in a token"
			}
		}
		return ""
	}
	if !utf8.Valid(tok) {
		return "invalid UTF-8"
	}
	if tok[0] == '\'' || tok[len(tok)-1] == '\'' {
		return "apostrophe at an edge"
	}
	for _, r := range string(tok) {
		switch {
		case r == '\'':
		case unicode.IsLetter(r), unicode.IsDigit(r), unicode.In(r, unicode.Mn, unicode.Mc):
			if unicode.ToLower(r) != r {
				return "upper-case letter"
			}
		default:
			return "separator in a token"
		}
	}
	return ""
}

// FuzzScanner feeds arbitrary bytes to every mode: no panic, every sentence
// holds 1 to MaxSentence valid tokens, chunking only cuts sentences, and
// reading one byte at a time changes nothing.
func FuzzScanner(f *testing.F) {
	seeds := []string{
		"",
		"Hello, World. Don’t stop!\r\n\r\nNew paragraph… 3.14 e.g. “Quoted.” (Bracket.)",
		"\ufeff*** START OF THE PROJECT GUTENBERG EBOOK X ***\r\nbody text\r\nEnd of the Project Gutenberg EBook\r\nlicence",
		"header\n*** START OF THIS PROJECT GUTENBERG\rbody\n*** END OF THIS PROJECT GUTENBERG\nx\n***START OF THE PROJECT GUTENBERG\n2",
		"ﬁne Ｆｕｌｌ ℍ cafe\u0301 \ufdfa ﾞ ŉ İstanbul ΣΟΦΟΣ 東京タワー",
		"caf\xe9 \xff\xfe\xc0\x80 \xed\xa0\x80 \xf4\x90\x80\x80 a\xe2\x80",
		"l'été a''b 'x' dogs' rock’n’roll 80's ab’\u0301c",
		"one\u2028two\u2029three\u0085four\r\rfive\n \nsix",
		"a\x00b\tc\vd\fe\u00a0f\u3000g\ufffdh",
		"A. B! C? D… E。F！G？H",
	}
	for i, s := range seeds {
		f.Add([]byte(s), uint8(i), uint8(i%5), i%2 == 0, i%3 == 0)
	}
	f.Fuzz(func(t *testing.T, data []byte, mode, maxSentence uint8, latin1, keep bool) {
		opts := Options{
			Mode:          Modes[int(mode)%len(Modes)],
			MaxSentence:   int(maxSentence%8) + 1,
			KeepGutenberg: keep,
		}
		if latin1 {
			opts.Encoding = "latin-1"
		}
		s, err := NewScanner(bytes.NewReader(data), opts)
		if err != nil {
			t.Fatal(err)
		}
		got := [][]string{}
		for s.Scan() {
			sent := s.Sentence()
			if len(sent) == 0 || len(sent) > opts.MaxSentence {
				t.Fatalf("sentence of %d tokens, MaxSentence %d", len(sent), opts.MaxSentence)
			}
			words := make([]string, len(sent))
			for i, tok := range sent {
				if why := checkToken(opts.Mode, tok); why != "" {
					t.Fatalf("%s mode, token %q: %s", opts.Mode, tok, why)
				}
				words[i] = string(tok)
			}
			got = append(got, words)
		}
		if err := s.Err(); err != nil {
			t.Fatal(err)
		}
		if s.Bytes() != int64(len(data)) {
			t.Fatalf("Bytes() = %d, want %d", s.Bytes(), len(data))
		}

		slow := scanAll(t, iotest.OneByteReader(bytes.NewReader(data)), opts)
		if !reflect.DeepEqual(slow, got) {
			t.Fatalf("one byte at a time:\n got %q\nwant %q", slow, got)
		}

		whole := opts
		whole.MaxSentence = 1 << 20
		if want := rechunk(scanAll(t, bytes.NewReader(data), whole), opts.MaxSentence); !reflect.DeepEqual(got, want) {
			t.Fatalf("chunking changed more than sentence ends:\n got %q\nwant %q", got, want)
		}
	})
}

// FuzzGutenberg checks the streaming Gutenberg filter against the simple
// whole-text version, on texts built from marker lines, text and line ends.
func FuzzGutenberg(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{3, 0, 9, 1, 4, 2, 7, 1, 11, 0, 5})
	f.Add([]byte("\x02\x08\x01\x0a\x03\x09\x05"))
	pieces := []string{
		"*** START OF THE PROJECT GUTENBERG EBOOK X ***",
		"***START OF THIS PROJECT GUTENBERG",
		"*** END OF THE PROJECT GUTENBERG EBOOK X ***",
		"End of the Project Gutenberg EBook",
		"End of Project Gutenberg’s X",
		"some text", "  indented", "*", "E", "End", "\ufeff",
		"\r\n", "\n", "\r", "\r\n\r\n",
	}
	f.Fuzz(func(t *testing.T, ops []byte) {
		var b bytes.Buffer
		for _, op := range ops {
			b.WriteString(pieces[int(op)%len(pieces)])
			if op >= 128 {
				b.WriteString("\n")
			}
		}
		text := b.String()
		want := stripReference(text)
		if got := stripStream(t, bytes.NewReader(b.Bytes())); got != want {
			t.Fatalf("whole read of %q:\n got %q\nwant %q", text, got, want)
		}
		if got := stripStream(t, iotest.OneByteReader(bytes.NewReader(b.Bytes()))); got != want {
			t.Fatalf("one byte at a time, %q:\n got %q\nwant %q", text, got, want)
		}
	})
}
