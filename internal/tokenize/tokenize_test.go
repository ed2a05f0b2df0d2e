package tokenize

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// readTestdata reads a file from the module's testdata folder.
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// scanAll runs a Scanner over r and returns copies of its sentences.
func scanAll(t testing.TB, r io.Reader, opts Options) [][]string {
	t.Helper()
	s, err := NewScanner(r, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := [][]string{}
	for s.Scan() {
		sent := s.Sentence()
		words := make([]string, len(sent))
		for i, tok := range sent {
			words[i] = string(tok)
		}
		out = append(out, words)
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func flatten(sents [][]string) []string {
	var all []string
	for _, s := range sents {
		all = append(all, s...)
	}
	return all
}

type tokenizeCase struct {
	name string
	in   string
	want [][]string
}

func runCases(t *testing.T, opts Options, cases []tokenizeCase) {
	t.Helper()
	for _, c := range cases {
		got, err := Tokenize(c.in, opts)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: Tokenize(%q)\n got %q\nwant %q", c.name, c.in, got, c.want)
		}
		// The same text read one byte at a time must give the same result:
		// nothing may depend on where reads end.
		slow := scanAll(t, iotest.OneByteReader(strings.NewReader(c.in)), opts)
		if !reflect.DeepEqual(slow, c.want) {
			t.Errorf("%s: one byte at a time\n got %q\nwant %q", c.name, slow, c.want)
		}
	}
}

type S = []string

func TestUnicodeMode(t *testing.T) {
	runCases(t, Options{}, []tokenizeCase{
		{"empty", "", [][]string{}},
		{"only separators", " ,;: \r\n\r\n -- \n", [][]string{}},
		{"words and case", "Hello, World", [][]string{{"hello", "world"}}},
		{"apostrophes inside words", "Don't stop, Elizabeth's", [][]string{{"don't", "stop", "elizabeth's"}}},
		{"typographic apostrophe", "Don’t", [][]string{{"don't"}}},
		{"apostrophes at edges", "'Tis the dogs' bone, rock 'n' roll", [][]string{{"tis", "the", "dogs", "bone", "rock", "n", "roll"}}},
		{"apostrophe after a digit", "the 80's", [][]string{{"the", "80", "s"}}},
		{"double apostrophe", "a''b", [][]string{{"a", "b"}}},
		{"apostrophe at the end", "dogs'", [][]string{{"dogs"}}},
		{"non-ASCII letter after apostrophe", "l'été", [][]string{{"l'été"}}},
		{"digits", "In 1812, 42 men", [][]string{{"in", "1812", "42", "men"}}},
		{"decimal point", "pi is 3.14 or so", [][]string{{"pi", "is", "3", "14", "or", "so"}}},
		{"dot before a letter", "e.g this and www.example.org too", [][]string{{"e", "g", "this", "and", "www", "example", "org", "too"}}},
		{"dot before a space", "It is. It was", [][]string{{"it", "is"}, {"it", "was"}}},
		{"abbreviations are not recognised", "Mr. Darcy", [][]string{{"mr"}, {"darcy"}}},
		{"dot at the end", "the end.", [][]string{{"the", "end"}}},
		{"dot then closing quote", `He said "Stop." Then`, [][]string{{"he", "said", "stop"}, {"then"}}},
		{"dot then closing apostrophe", "'Stop.' Then", [][]string{{"stop"}, {"then"}}},
		{"dot then bracket", "(See this.) Then", [][]string{{"see", "this"}, {"then"}}},
		{"dot then typographic quote", "“Stop.” Then", [][]string{{"stop"}, {"then"}}},
		{"dot then guillemet", "«Non.» Oui", [][]string{{"non"}, {"oui"}}},
		{"dot then line end", "one.\ntwo", [][]string{{"one"}, {"two"}}},
		{"ellipsis of dots", "wait... what", [][]string{{"wait"}, {"what"}}},
		{"exclamation and question", "Stop!Go?yes", [][]string{{"stop"}, {"go"}, {"yes"}}},
		{"ellipsis character", "Well… yes", [][]string{{"well"}, {"yes"}}},
		{"CJK punctuation", "はい。いいえ！本当？うん", [][]string{{"はい"}, {"いいえ"}, {"本当"}, {"うん"}}},
		{"single line break", "one\ntwo\r\nthree\rfour", [][]string{{"one", "two", "three", "four"}}},
		{"blank line LF", "one\n\ntwo", [][]string{{"one"}, {"two"}}},
		{"blank line CRLF", "one\r\n\r\ntwo", [][]string{{"one"}, {"two"}}},
		{"blank line CR", "one\r\rtwo", [][]string{{"one"}, {"two"}}},
		{"blank line with white space", "one\n \t\u00a0\ntwo", [][]string{{"one"}, {"two"}}},
		{"many blank lines", "one\r\n\r\n\r\n\r\n\r\ntwo", [][]string{{"one"}, {"two"}}},
		{"line separator", "one\u2028two\u2028\u2028three", [][]string{{"one", "two"}, {"three"}}},
		{"paragraph separator", "one\u2029two", [][]string{{"one"}, {"two"}}},
		{"NEL", "one\u0085\u0085two", [][]string{{"one"}, {"two"}}},
		{"NFKC ligature and fullwidth", "ﬁne Ｆｕｌｌ ℍilbert", [][]string{{"fine", "full", "hilbert"}}},
		{"NFKC composes marks", "cafe\u0301", [][]string{{"café"}}},
		{"lower-case non-ASCII", "ÉCOLE Straße МОСКВА", [][]string{{"école", "straße", "москва"}}},
		{"leading combining mark", "\u0301abc", [][]string{{"abc"}}},
		{"letters in other scripts", "東京タワー और عربى ٣٤", [][]string{{"東京タワー", "और", "عربى", "٣٤"}}},
		{"symbols and numbers that are not digits", "½ Ⅻ ① x²", [][]string{{"x"}}},
		{"ligature with spaces", "\ufdfa", [][]string{{"صلىاللهعليهوسلم"}}},
		{"BOM", "\ufeffHello", [][]string{{"hello"}}},
		{"BOM only", "\ufeff", [][]string{}},
		{"short input", "ab", [][]string{{"ab"}}},
		{"invalid UTF-8 is a separator", "caf\xe9 au\xff\xfelait", [][]string{{"caf", "au", "lait"}}},
		{"replacement character is a separator", "a\ufffdb", [][]string{{"a", "b"}}},
		{"truncated rune at the end", "abc\xe2\x80", [][]string{{"abc"}}},
	})
}

func TestWhitespaceMode(t *testing.T) {
	runCases(t, Options{Mode: Whitespace}, []tokenizeCase{
		{"empty", "", [][]string{}},
		{"lines are sentences", "Hello, World.\nNext  line!\r\n\r\nLast", [][]string{{"Hello,", "World."}, {"Next", "line!"}, {"Last"}}},
		{"CR line ends", "a b\rc", [][]string{{"a", "b"}, {"c"}}},
		{"no case change or normalisation", "Don’t ﬁne", [][]string{{"Don’t", "ﬁne"}}},
		{"Unicode spaces", "a\u00a0b\u3000c\u2003d\te\vf\fg", [][]string{{"a", "b", "c", "d", "e", "f", "g"}}},
		{"Unicode line ends", "a\u2028b\u2029c\u0085d", [][]string{{"a"}, {"b"}, {"c"}, {"d"}}},
		{"invalid UTF-8 is a separator", "caf\xe9 x\xffy", [][]string{{"caf", "x", "y"}}},
		{"replacement character is a separator", "x\ufffdy", [][]string{{"x", "y"}}},
		{"control characters are not white space", "a\x00b", [][]string{{"a\x00b"}}},
		{"BOM", "\ufeffHello", [][]string{{"Hello"}}},
		{"text8 style", "anarchism originated as a term", [][]string{{"anarchism", "originated", "as", "a", "term"}}},
	})
}

func TestClassicMode(t *testing.T) {
	runCases(t, Options{Mode: Classic}, []tokenizeCase{
		{"empty", "", [][]string{}},
		{"letters only", "Hello, World! Don't 42x stop", [][]string{{"hello", "world", "don", "t", "x", "stop"}}},
		{"paragraphs split on CRLF CRLF", "one\r\n\r\ntwo\r\nthree", [][]string{{"one"}, {"two", "three"}}},
		{"LF LF does not split", "one\n\ntwo", [][]string{{"one", "two"}}},
		{"CR CR does not split", "one\r\rtwo", [][]string{{"one", "two"}}},
		{"three line ends", "one\r\n\r\n\r\ntwo", [][]string{{"one"}, {"two"}}},
		{"empty paragraphs vanish", "one\r\n\r\n\r\n\r\n...\r\n\r\ntwo", [][]string{{"one"}, {"two"}}},
		{"overlap is not a second split", "a\r\n\r\n\r\nb\r\n\r\nc", [][]string{{"a"}, {"b"}, {"c"}}},
		{"CR before the break", "a\r\r\n\r\nb", [][]string{{"a"}, {"b"}}},
		{"non-ASCII bytes are separators", "café ÉCOLE naïve", [][]string{{"caf", "cole", "na", "ve"}}},
		{"Gutenberg text is kept", "*** START OF THE PROJECT GUTENBERG EBOOK X ***\r\nbody", [][]string{{"start", "of", "the", "project", "gutenberg", "ebook", "x", "body"}}},
	})
}

func TestLatin1(t *testing.T) {
	for _, enc := range []string{"latin-1", "ISO-8859-1"} {
		got, err := Tokenize("caf\xe9 \xc9COLE na\xefve\xa0x", Options{Encoding: enc})
		if err != nil {
			t.Fatal(err)
		}
		if want := [][]string{{"café", "école", "naïve", "x"}}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q, want %q", enc, got, want)
		}
	}
	// Whitespace mode: the no-break space 0xA0 is a space.
	got, err := Tokenize("caf\xe9\xa0Bar", Options{Mode: Whitespace, Encoding: "latin-1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"café", "Bar"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("whitespace latin-1: got %q, want %q", got, want)
	}
	// The same bytes read as UTF-8: the invalid byte is a separator.
	got, err = Tokenize("caf\xe9", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"caf"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("utf-8: got %q, want %q", got, want)
	}
	// Every byte value decodes, and a BOM is not special in Latin-1.
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	all = append([]byte("\xef\xbb\xbf"), all...)
	for _, m := range Modes {
		scanAll(t, iotest.HalfReader(bytes.NewReader(all)), Options{Mode: m, Encoding: "latin-1"})
	}
	got, _ = Tokenize("\xef\xbb\xbfx", Options{Encoding: "latin-1"})
	if want := [][]string{{"ï", "x"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("latin-1 BOM bytes: got %q, want %q", got, want)
	}
}

func TestChunking(t *testing.T) {
	words := strings.Fields(strings.Repeat("alpha beta gamma delta epsilon ", 5)) // 25 words
	text := strings.Join(words, " ")
	for _, m := range Modes {
		got, err := Tokenize(text, Options{Mode: m, MaxSentence: 10})
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for _, s := range got {
			sizes = append(sizes, len(s))
		}
		if !reflect.DeepEqual(sizes, []int{10, 10, 5}) {
			t.Errorf("%s: chunk sizes %v, want [10 10 5]", m, sizes)
		}
		if all := flatten(got); !reflect.DeepEqual(all, words) {
			t.Errorf("%s: tokens changed by chunking: %q", m, all)
		}
	}
	// A chunk that fills up exactly at a sentence end gives no empty sentence.
	got, _ := Tokenize("a b. c d. e", Options{MaxSentence: 2})
	if want := [][]string{{"a", "b"}, {"c", "d"}, {"e"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("chunk at sentence end: got %q, want %q", got, want)
	}
	// MaxSentence 1: one token per sentence.
	got, _ = Tokenize("Don't stop-me now", Options{MaxSentence: 1})
	if want := [][]string{{"don't"}, {"stop"}, {"me"}, {"now"}}; !reflect.DeepEqual(got, want) {
		t.Errorf("MaxSentence 1: got %q, want %q", got, want)
	}
}

func TestParseMode(t *testing.T) {
	for in, want := range map[string]Mode{
		"": Unicode, "unicode": Unicode, "classic": Classic, "whitespace": Whitespace,
		" Classic ": Classic, "WHITESPACE": Whitespace,
	} {
		got, err := ParseMode(in)
		if err != nil || got != want {
			t.Errorf("ParseMode(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	_, err := ParseMode("bogus")
	var oe *OptionError
	if !errors.As(err, &oe) || oe.Option != "mode" || oe.Value != "bogus" {
		t.Fatalf("ParseMode(bogus) error = %#v", err)
	}
	for _, want := range []string{`"bogus"`, "unicode", "classic", "whitespace"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestNewScannerOptions(t *testing.T) {
	for _, c := range []struct {
		opts   Options
		option string
	}{
		{Options{Mode: "bag-of-words"}, "mode"},
		{Options{Encoding: "utf-16"}, "encoding"},
		{Options{MaxSentence: -1}, "max sentence"},
	} {
		s, err := NewScanner(strings.NewReader("x"), c.opts)
		var oe *OptionError
		if s != nil || !errors.As(err, &oe) || oe.Option != c.option {
			t.Errorf("NewScanner(%+v) = %v, %v; want an OptionError for %s", c.opts, s, err, c.option)
		}
		if _, err := Tokenize("x", c.opts); err == nil {
			t.Errorf("Tokenize(%+v) accepted invalid options", c.opts)
		}
	}
	if err := (&OptionError{Option: "encoding", Value: "utf-16", Valid: Encodings}).Error(); !strings.Contains(err, "latin-1") {
		t.Errorf("encoding error %q does not list the valid encodings", err)
	}
	for _, enc := range []string{"", "utf-8", "UTF-8", "utf8", "latin-1", "latin1", "iso-8859-1"} {
		if _, err := NewScanner(strings.NewReader(""), Options{Encoding: enc}); err != nil {
			t.Errorf("encoding %q: %v", enc, err)
		}
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("disk on fire")
	for _, opts := range []Options{
		{}, {KeepGutenberg: true}, {Encoding: "latin-1"}, {Mode: Classic}, {Mode: Whitespace},
	} {
		r := io.MultiReader(strings.NewReader("some words. more words\n"), iotest.ErrReader(boom))
		s, err := NewScanner(r, opts)
		if err != nil {
			t.Fatal(err)
		}
		for s.Scan() {
		}
		err = s.Err()
		var re *ReadError
		if !errors.Is(err, boom) || !errors.As(err, &re) || re.Offset != 23 ||
			err.Error() != "tokenize: reading input after 23 bytes: disk on fire" {
			t.Errorf("%+v: Err() = %v; want the reader's error with context", opts, err)
		}
		if s.Scan() || s.Sentence() != nil {
			t.Errorf("%+v: Scan after an error returned a sentence", opts)
		}
	}
	// A reader that makes no progress.
	for _, opts := range []Options{{}, {KeepGutenberg: true}, {Encoding: "latin-1"}, {Mode: Classic}} {
		s, _ := NewScanner(zeroReader{}, opts)
		if s.Scan() || !errors.Is(s.Err(), io.ErrNoProgress) {
			t.Errorf("%+v, zero reader: Err() = %v, want io.ErrNoProgress", opts, s.Err())
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read([]byte) (int, error) { return 0, nil }

func TestBytesAndEOF(t *testing.T) {
	data := readTestdata(t, "alice-in-wonderland_11-0.txt")
	for _, m := range Modes {
		s, err := NewScanner(bytes.NewReader(data), Options{Mode: m})
		if err != nil {
			t.Fatal(err)
		}
		if s.Bytes() != 0 {
			t.Errorf("%s: Bytes() = %d before Scan", m, s.Bytes())
		}
		// A progress reporter may poll Bytes from another goroutine.
		done := make(chan struct{})
		polled := make(chan int64)
		go func() {
			var last int64
			for {
				select {
				case <-done:
					polled <- last
					return
				default:
					last = max(last, s.Bytes())
				}
			}
		}()
		prev := int64(0)
		for s.Scan() {
			if b := s.Bytes(); b < prev || b > int64(len(data)) {
				t.Fatalf("%s: Bytes() went from %d to %d", m, prev, b)
			}
			prev = s.Bytes()
		}
		close(done)
		if last := <-polled; last > int64(len(data)) {
			t.Errorf("%s: Bytes() polled %d, more than the input", m, last)
		}
		if s.Err() != nil || s.Bytes() != int64(len(data)) {
			t.Errorf("%s: at EOF Bytes() = %d, Err() = %v; want %d, nil", m, s.Bytes(), s.Err(), len(data))
		}
		if s.Scan() || s.Sentence() != nil {
			t.Errorf("%s: Scan after EOF returned a sentence", m)
		}
	}
}

// TestReadSizes checks that results do not depend on how the reader splits
// its data, with readers that return one byte at a time, half the buffer, or
// io.EOF together with the last bytes.
func TestReadSizes(t *testing.T) {
	alice := readTestdata(t, "alice-in-wonderland_11-0.txt")
	tricky := []byte("\ufeffOne’s “quote.” Don’t\r\n\r\n*** START OF THE PROJECT GUTENBERG X\r\nnaïve ﬁne\u2028x.\u2029y é\r\n" +
		"End of the Project Gutenberg\r\nlicence\r\n***START OF THIS PROJECT GUTENBERG\rbody… z\xe9\xff")
	for _, data := range [][]byte{alice, tricky} {
		for _, opts := range []Options{
			{}, {KeepGutenberg: true}, {Encoding: "latin-1"}, {Mode: Classic}, {Mode: Whitespace}, {MaxSentence: 7},
		} {
			want := scanAll(t, bytes.NewReader(data), opts)
			if len(want) == 0 {
				t.Fatalf("%+v: no sentence", opts)
			}
			for name, r := range map[string]io.Reader{
				"one byte": iotest.OneByteReader(bytes.NewReader(data)),
				"half":     iotest.HalfReader(bytes.NewReader(data)),
				"data+EOF": iotest.DataErrReader(bytes.NewReader(data)),
			} {
				if got := scanAll(t, r, opts); !reflect.DeepEqual(got, want) {
					t.Errorf("%+v, %s reader: results differ from a whole read", opts, name)
				}
			}
		}
	}
}

// TestSentenceOwnership checks the documented contract: tokens stay intact
// until the next Scan, and appending to one does not overwrite the next.
func TestSentenceOwnership(t *testing.T) {
	s, _ := NewScanner(strings.NewReader("alpha beta gamma. delta"), Options{})
	if !s.Scan() {
		t.Fatal("no sentence")
	}
	sent := s.Sentence()
	_ = append(sent[0], "XYZ"...)
	if got := string(sent[1]); got != "beta" {
		t.Errorf("appending to a token overwrote the next: %q", got)
	}
}
