package tokenize

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
)

// Mode selects the tokenisation rules; see the package documentation.
type Mode string

// The modes. The empty Mode means Unicode.
const (
	Unicode    Mode = "unicode"    // letters and digits in any script, NFKC, lower case (default)
	Classic    Mode = "classic"    // the original 2016 Ophicleide tokeniser
	Whitespace Mode = "whitespace" // split on white space only, one sentence per line
)

// Modes lists the valid modes, default first.
var Modes = []Mode{Unicode, Classic, Whitespace}

const (
	// DefaultMaxSentence is the chunk size used when Options.MaxSentence is 0.
	DefaultMaxSentence = 10000

	// MaxTokenBytes is the longest token, in bytes, that a Scanner returns.
	// Longer tokens are truncated to their longest prefix of whole
	// characters that fits.
	MaxTokenBytes = 1024

	// GutenbergWindowBytes and GutenbergWindowLines bound the beginning of
	// the input searched, and buffered, for a Project Gutenberg START line.
	GutenbergWindowBytes = 256 << 10
	GutenbergWindowLines = 1000
)

// ParseMode returns the Mode named s, ignoring case and surrounding white
// space; "" gives Unicode. An unknown name gives an *OptionError naming s and
// the valid modes.
func ParseMode(s string) (Mode, error) {
	t := strings.TrimSpace(s)
	if t == "" {
		return Unicode, nil
	}
	for _, m := range Modes {
		if strings.EqualFold(t, string(m)) {
			return m, nil
		}
	}
	return "", &OptionError{Option: "mode", Value: s, Valid: modeNames()}
}

func modeNames() []string {
	names := make([]string, len(Modes))
	for i, m := range Modes {
		names[i] = string(m)
	}
	return names
}

// Encodings lists the valid values of Options.Encoding, default first.
var Encodings = []string{"utf-8", "latin-1", "iso-8859-1"}

type encoding int

const (
	encUTF8 encoding = iota
	encLatin1
)

func parseEncoding(s string) (encoding, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "utf-8", "utf8":
		return encUTF8, nil
	case "latin-1", "latin1", "iso-8859-1", "iso8859-1":
		return encLatin1, nil
	}
	return 0, &OptionError{Option: "encoding", Value: s, Valid: Encodings}
}

// Options configures a Scanner. The zero value is valid: unicode mode, UTF-8,
// chunks of DefaultMaxSentence tokens, Project Gutenberg text stripped.
type Options struct {
	// Mode is the tokenisation rule set; "" means Unicode.
	Mode Mode
	// MaxSentence is the number of tokens after which a sentence is cut
	// into chunks; 0 means DefaultMaxSentence. Negative is an error.
	MaxSentence int
	// Encoding of the input: "" or "utf-8" (default), "latin-1" or
	// "iso-8859-1" (case-insensitive). Anything else is an error.
	Encoding string
	// KeepGutenberg disables Project Gutenberg header and licence stripping
	// in unicode and whitespace modes. Classic mode never strips.
	KeepGutenberg bool
}

// OptionError reports an invalid option value.
type OptionError struct {
	Option string   // "mode", "encoding" or "max sentence"
	Value  string   // the value given
	Valid  []string // the accepted values, when there is a fixed set
}

func (e *OptionError) Error() string {
	if len(e.Valid) == 0 {
		return fmt.Sprintf("tokenize: invalid %s %q", e.Option, e.Value)
	}
	return fmt.Sprintf("tokenize: unknown %s %q (valid: %s)", e.Option, e.Value, strings.Join(e.Valid, ", "))
}

// ReadError is the error Err returns when the reader fails.
type ReadError struct {
	Offset int64 // input bytes read before the failure
	Err    error // the reader's error
}

func (e *ReadError) Error() string {
	return "tokenize: reading input after " + strconv.FormatInt(e.Offset, 10) + " bytes: " + e.Err.Error()
}

func (e *ReadError) Unwrap() error { return e.Err }

// Scanner reads text from an io.Reader and splits it into sentences of
// tokens, like bufio.Scanner splits lines. Create one with NewScanner; the
// zero value is not usable. A Scanner is not safe for concurrent use, except
// for Bytes.
type Scanner struct {
	src   io.Reader // the reader at the top of the decoding/stripping pipeline
	count *countingReader
	mode  Mode
	max   int

	buf  []byte // read buffer; buf[r:w] is unprocessed input
	r, w int
	eof  bool
	err  error
	done bool

	// The current sentence: toks are slices of arena, which holds their
	// bytes back to back (arena may be reallocated while a sentence grows;
	// earlier tokens then keep pointing at the old array, which is fine as
	// they never change).
	arena   []byte
	toks    [][]byte
	scratch []byte // NFKC output for non-ASCII words

	// Word state, shared by every mode.
	inWord    bool
	wordStart int  // offset of the current word in arena
	wordFull  bool // the current word hit MaxTokenBytes; the rest is dropped
	wordASCII bool // the current word holds only ASCII bytes so far

	// Unicode mode state.
	lastLetter  bool // the last word character was a letter (marks keep it)
	pendingApos bool // an apostrophe followed the word; kept if a letter follows
	pendingDot  bool // a '.' was seen; the next character decides
	lineEnds    int  // line ends since the last character that is not white space
	afterCR     bool // the last character was '\r' (so a '\n' is part of "\r\n")

	// Classic mode state: how much of "\r\n\r\n" was just seen.
	crlf int
}

const readBufSize = 64 << 10

// NewScanner returns a Scanner reading r with the given options. It returns an
// *OptionError if an option is invalid, and reads nothing before the first
// call to Scan.
func NewScanner(r io.Reader, opts Options) (*Scanner, error) {
	mode, err := ParseMode(string(opts.Mode))
	if err != nil {
		return nil, err
	}
	enc, err := parseEncoding(opts.Encoding)
	if err != nil {
		return nil, err
	}
	maxSentence := opts.MaxSentence
	switch {
	case maxSentence < 0:
		return nil, &OptionError{Option: "max sentence", Value: fmt.Sprint(maxSentence)}
	case maxSentence == 0:
		maxSentence = DefaultMaxSentence
	}

	s := &Scanner{
		count: &countingReader{r: r},
		mode:  mode,
		max:   maxSentence,
		buf:   make([]byte, readBufSize),
		arena: make([]byte, 0, 64<<10),
		toks:  make([][]byte, 0, min(maxSentence, 1024)),
	}
	s.src = s.count
	if mode != Classic {
		// Classic works on bytes: decoding cannot change its output.
		switch enc {
		case encLatin1:
			s.src = &latin1Reader{r: s.src}
		case encUTF8:
			s.src = &bomReader{r: s.src}
		}
		if !opts.KeepGutenberg {
			s.src = newGutenbergReader(s.src)
		}
	}
	return s, nil
}

// Scan advances to the next non-empty sentence, which Sentence then returns.
// It returns false at the end of the input or on a read error; Err tells
// which. Once Scan has returned false it keeps returning false.
func (s *Scanner) Scan() bool {
	s.toks = s.toks[:0]
	if s.done {
		return false
	}
	s.arena = s.arena[:0]
	var ok bool
	switch s.mode {
	case Classic:
		ok = s.scanClassic()
	case Whitespace:
		ok = s.scanWhitespace()
	default:
		ok = s.scanUnicode()
	}
	if !ok {
		s.done = true
		return false
	}
	return true
}

// Sentence returns the tokens of the sentence found by the last successful
// Scan: between 1 and MaxSentence non-empty tokens. The slices belong to the
// Scanner and are valid only until the next call to Scan; callers copy what
// they keep (string(tok) does). It returns nil after Scan returned false.
func (s *Scanner) Sentence() [][]byte {
	if len(s.toks) == 0 {
		return nil
	}
	return s.toks[:len(s.toks):len(s.toks)]
}

// Err returns the first error other than io.EOF met while reading, as a
// *ReadError that wraps the reader's error (errors.Is sees it), or
// io.ErrNoProgress if the reader returned no data and no error 100 times in
// a row. It returns nil at the end of the input.
func (s *Scanner) Err() error {
	return s.err
}

// Bytes returns the number of input bytes read from the underlying reader so
// far, for progress reporting. It runs ahead of the current sentence by at
// most the internal buffers (about 400 KiB) and equals the input size once
// Scan has returned false at the end of the input. It may be called from
// any goroutine, also while Scan runs.
func (s *Scanner) Bytes() int64 {
	return s.count.n.Load()
}

// Tokenize splits text into sentences of tokens with a Scanner and copies
// them, for tests and small inputs. A text without tokens gives an empty,
// non-nil slice. The error is an *OptionError for invalid options.
func Tokenize(text string, opts Options) ([][]string, error) {
	s, err := NewScanner(strings.NewReader(text), opts)
	if err != nil {
		return nil, err
	}
	out := [][]string{}
	for s.Scan() {
		sent := s.Sentence()
		words := make([]string, len(sent))
		for i, t := range sent {
			words[i] = string(t)
		}
		out = append(out, words)
	}
	return out, s.Err()
}

// fill reads more input into buf, keeping buf[r:w]. It returns false when no
// byte was added: at the end of the input, or on an error stored in s.err.
func (s *Scanner) fill() bool {
	if s.eof || s.err != nil {
		return false
	}
	if s.r > 0 {
		s.w = copy(s.buf, s.buf[s.r:s.w])
		s.r = 0
	}
	for range 100 {
		n, err := s.src.Read(s.buf[s.w:])
		s.w += n
		if err != nil {
			if errors.Is(err, io.EOF) {
				s.eof = true
				return n > 0
			}
			s.err = &ReadError{Offset: s.Bytes(), Err: err}
			return false
		}
		if n > 0 {
			return true
		}
	}
	s.err = &ReadError{Offset: s.Bytes(), Err: io.ErrNoProgress}
	return false
}

// startWord begins a word at the end of the arena.
func (s *Scanner) startWord() {
	s.inWord = true
	s.wordStart = len(s.arena)
	s.wordFull = false
	s.wordASCII = true
}

// room returns how many more bytes the current word may take.
func (s *Scanner) room() int {
	if s.wordFull {
		return 0
	}
	return MaxTokenBytes - (len(s.arena) - s.wordStart)
}

// copyLowerRun appends the run of word bytes at the start of buf[i:n] to the
// current word and returns the end of the run. table maps a word byte to
// itself lower-cased and every other byte to 0 (NUL is never a word byte
// here). The word is truncated at MaxTokenBytes: the rest of the run is
// skipped.
func (s *Scanner) copyLowerRun(buf []byte, i, n int, table *[256]byte) int {
	room := s.room()
	if cap(s.arena)-len(s.arena) < room {
		s.arena = slices.Grow(s.arena, room)
	}
	k := len(s.arena)
	src := buf[i:min(n, i+room)]
	dst := s.arena[k : k+len(src)]
	j := 0
	for ; j < len(src); j++ {
		v := table[src[j]]
		if v == 0 {
			break
		}
		dst[j] = v
	}
	s.arena = s.arena[:k+j]
	if j < len(src) {
		return i + j // the usual case: the run ends in buf
	}
	j += i
	if j < n && table[buf[j]] != 0 {
		s.wordFull = true // truncated
		for j < n && table[buf[j]] != 0 {
			j++
		}
	}
	return j
}

// copyRun is copyLowerRun without case change, for a table of bools.
func (s *Scanner) copyRun(buf []byte, i, n int, isWord *[256]bool) int {
	room := s.room()
	if cap(s.arena)-len(s.arena) < room {
		s.arena = slices.Grow(s.arena, room)
	}
	k := len(s.arena)
	src := buf[i:min(n, i+room)]
	dst := s.arena[k : k+len(src)]
	j := 0
	for ; j < len(src); j++ {
		c := src[j]
		if !isWord[c] {
			break
		}
		dst[j] = c
	}
	s.arena = s.arena[:k+j]
	j += i
	if j < n && isWord[buf[j]] {
		s.wordFull = true // truncated
		for j < n && isWord[buf[j]] {
			j++
		}
	}
	return j
}

// appendRaw appends b, which is whole characters that must stay together, to
// the current word; if they do not fit, the word is full.
func (s *Scanner) appendRaw(b []byte) {
	if len(b) > s.room() {
		s.wordFull = true
		return
	}
	s.arena = append(s.arena, b...)
}

// endWord closes the current word as a token, dropping it if it is empty.
func (s *Scanner) endWord() {
	s.inWord = false
	if e := len(s.arena); e > s.wordStart {
		s.toks = append(s.toks, s.arena[s.wordStart:e:e])
	}
}

var lowerASCII = func() (t [256]byte) {
	for i := range t {
		t[i] = byte(i)
		if 'A' <= i && i <= 'Z' {
			t[i] += 'a' - 'A'
		}
	}
	return t
}()

// countingReader counts the bytes read from r.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
