package vectors

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// Format names a word2vec file format.
type Format string

// The two word2vec formats, as word2vec.c and gensim's
// save_word2vec_format/load_word2vec_format write and read them.
const (
	// Text: a header line "COUNT DIM", then one line per word: the word and
	// DIM decimal values separated by spaces.
	Text Format = "text"
	// Binary: the same header line, then per word: the word, one space, DIM
	// little-endian IEEE 754 float32 values (4*DIM bytes), a newline.
	Binary Format = "binary"
)

// Limits the readers enforce before trusting a file. Larger files are
// rejected with a *ParseError.
const (
	// MaxDim is the largest vector dimension accepted.
	MaxDim = 10_000
	// MaxWordLen is the longest word accepted, in bytes.
	MaxWordLen = 10_000
	// MaxValues is the largest COUNT*DIM accepted: 2^31 float32 values,
	// 8 GiB of vectors (the Set needs twice that, with the unit copy).
	MaxValues = 1 << 31
)

const (
	bufSize       = 64 << 10 // read buffer; also how far Read peeks
	maxLineLen    = 1 << 20  // longest text line accepted
	preallocVals  = 1 << 18  // values allocated before any row arrives (1 MiB)
	preallocWords = 1 << 12  // words and index entries allocated before any row arrives
)

// ErrMalformed is wrapped by every *ParseError caused by the content of the
// input (as opposed to an error returned by the underlying reader).
var ErrMalformed = errors.New("malformed vector file")

// ParseError reports where a reader failed. Err wraps ErrMalformed when the
// input is malformed (wrong value count, bad number, truncation, limits
// exceeded...), and is the reader's own error otherwise.
type ParseError struct {
	Format Format // format being read; "" while Read is still reading the header
	Line   int    // 1-based line of a text file (the header is line 1); 0 for ReadBinary
	Row    int    // 1-based vector row; 0 for the header
	Err    error
}

func (e *ParseError) Error() string {
	return "vectors: " + e.where() + ": " + e.Err.Error()
}

// Reason is the error for a user: where and what, without the package's
// prefix and the ErrMalformed wording ("text line 3 (row 2): 3 values,
// want 4").
func (e *ParseError) Reason() string {
	return e.where() + ": " + strings.TrimPrefix(e.Err.Error(), ErrMalformed.Error()+": ")
}

// where names the format and the position.
func (e *ParseError) where() string {
	var b strings.Builder
	if e.Format != "" {
		b.WriteString(string(e.Format))
		b.WriteByte(' ')
	}
	switch {
	case e.Row == 0:
		b.WriteString("header")
	case e.Line > 0:
		fmt.Fprintf(&b, "line %d (row %d)", e.Line, e.Row)
	default:
		fmt.Fprintf(&b, "row %d", e.Row)
	}
	return b.String()
}

func (e *ParseError) Unwrap() error { return e.Err }

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// truncated is the error for input that ends too early.
func truncated(what string) error {
	return fmt.Errorf("%w: %s (%w)", ErrMalformed, what, io.ErrUnexpectedEOF)
}

// ParseFormat parses "text" or "binary" (case-insensitive, surrounding
// space ignored). Any other string yields an error wrapping ErrInvalid.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case Text, Binary:
		return f, nil
	}
	return "", fmt.Errorf("%w: unknown format %q (want %q or %q)", ErrInvalid, s, Text, Binary)
}

// Write writes s to w in format f with WriteText or WriteBinary. An unknown
// format yields an error wrapping ErrInvalid and nothing is written.
func Write(w io.Writer, s *Set, f Format) error {
	switch f {
	case Text:
		return WriteText(w, s)
	case Binary:
		return WriteBinary(w, s)
	}
	return fmt.Errorf("%w: unknown format %q", ErrInvalid, f)
}

// Read reads a word2vec file in either format, telling them apart after
// the header by peeking at (at most 64 KiB of) what follows without
// consuming it:
//
//   - no header line (first line not two integers): text without a header
//     (GloVe style), as ReadText;
//   - COUNT is 0, or the first row parses as a text row of DIM values:
//     text;
//   - the first line of the first row holds, after the word, a byte that
//     is neither printable ASCII nor white space (a float32's bytes almost
//     always do): binary;
//   - the byte 4*DIM bytes after the word's trailing space is a newline
//     (or, for COUNT 1, the end of the input): the shape of a binary row,
//     binary;
//   - otherwise text (and ReadText reports what is wrong).
//
// A binary first row whose bytes happen to spell a valid text row (only
// conceivable for DIM 1 or 2) would be read as text. Errors and ownership
// are as for ReadText and ReadBinary.
func Read(r io.Reader) (*Set, error) {
	return read(r, inputSize(r))
}

// read is Read for an input of size bytes (-1: unknown).
func read(r io.Reader, size int64) (*Set, error) {
	rr, err := openRows(r)
	if err != nil {
		return nil, err
	}
	return readSet(rr, size)
}

// inputSize is the size of r when it is a file (it has Stat), else -1.
func inputSize(r io.Reader) int64 {
	if f, ok := r.(interface{ Stat() (os.FileInfo, error) }); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			return fi.Size()
		}
	}
	return -1
}

// detect decides between text and binary from the bytes p that follow the
// header (eof: p is all there is). See Read.
func detect(p []byte, eof bool, count, dim int) Format {
	if count == 0 || looksText(p, eof, dim) {
		return Text
	}
	i := 0
	for i < len(p) && isSpace(p[i]) {
		i++
	}
	j := bytes.IndexByte(p[i:], ' ')
	if j < 0 {
		return Text
	}
	vals := p[i+j+1:]
	line := vals
	if k := bytes.IndexByte(vals, '\n'); k >= 0 {
		line = vals[:k]
	}
	for _, c := range line {
		if c >= 0x7f || (c < 0x20 && !isSpace(c)) {
			return Binary
		}
	}
	if end := 4 * dim; (len(vals) > end && vals[end] == '\n') || (len(vals) == end && eof && count == 1) {
		return Binary
	}
	return Text
}

// looksText reports whether the first non-blank line of p is a valid text
// row of dim values.
func looksText(p []byte, eof bool, dim int) bool {
	for len(p) > 0 {
		line := p
		k := bytes.IndexByte(p, '\n')
		switch {
		case k >= 0:
			line, p = p[:k], p[k+1:]
		case !eof:
			return false // incomplete line
		default:
			p = nil
		}
		if !isBlank(line) {
			_, err := parseTextRow(line, dim, make([]float32, dim))
			return err == nil
		}
	}
	return false
}

// header is what the first line of a file says.
type header struct {
	count, dim int
	headerless bool // no header line: count unknown, dim from the first row
}

// readHeader reads the first non-blank line. If it is two unsigned
// integers it is the header; otherwise the file has no header and the
// line, returned as first, is the first row (valid until the next read).
func readHeader(lr *lineReader, f Format) (h header, first []byte, err error) {
	fail := func(err error) (header, []byte, error) {
		pe := &ParseError{Format: f, Line: lr.line, Err: err}
		if f == Binary {
			pe.Line = 0
		}
		return header{}, nil, pe
	}
	var line []byte
	for {
		line, err = lr.next()
		if err == io.EOF {
			lr.line++
			return fail(truncated("empty input, no header"))
		}
		if err != nil {
			return fail(err)
		}
		if lr.line == 1 {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
		}
		if !isBlank(line) {
			break
		}
	}
	a, rest := nextField(line)
	b, rest := nextField(rest)
	if c, _ := nextField(rest); len(c) == 0 && isDigits(a) && isDigits(b) {
		count, err1 := strconv.Atoi(string(a))
		dim, err2 := strconv.Atoi(string(b))
		switch {
		case err1 != nil || err2 != nil:
			return fail(malformed("header %q: number out of range", clip(line)))
		case dim < 1 || dim > MaxDim:
			return fail(malformed("dimension %d out of range 1..%d", dim, MaxDim))
		case count > MaxValues/dim:
			return fail(malformed("%d vectors of dimension %d exceed the limit of %d values", count, dim, MaxValues))
		}
		return header{count: count, dim: dim}, nil, nil
	}
	// No header: GloVe style. The dimension is the number of values of the
	// first row.
	if f == Binary {
		return fail(malformed("first line %q is not a header \"COUNT DIM\"", clip(line)))
	}
	dim := -1
	for rest := line; ; dim++ {
		var fld []byte
		if fld, rest = nextField(rest); len(fld) == 0 {
			break
		}
	}
	if dim < 1 || dim > MaxDim {
		return fail(malformed("first line is neither a header \"COUNT DIM\" nor a row of 1..%d values", MaxDim))
	}
	return header{count: -1, dim: dim, headerless: true}, line, nil
}

// builder accumulates rows, growing the matrix as rows arrive rather than
// trusting the header's count beyond a modest preallocation.
type builder struct {
	dim   int
	limit int // most values expected: count*dim, or MaxValues if unknown
	words []string
	vecs  []float32
	index map[string]int
}

// newBuilder prepares for count rows of dim values. The header's count is
// trusted for the allocation only when the input's size (inputSize, -1
// when unknown) can hold that many values at minBytes bytes each: a file
// whose header lies cannot make the reader allocate more than it holds.
func newBuilder(count, dim int, inputSize int64, minBytes int) *builder {
	limit := MaxValues
	if count >= 0 {
		limit = count * dim
	}
	n := min(limit, max(preallocVals, dim))
	words := min(n/dim, preallocWords)
	if count > 0 && inputSize > 0 && int64(limit)*int64(minBytes) <= inputSize {
		n, words = limit, count
	}
	return &builder{
		dim:   dim,
		limit: limit,
		words: make([]string, 0, words),
		vecs:  make([]float32, 0, n),
		index: make(map[string]int, words),
	}
}

// row returns room for the next row's values; add or drop must follow.
// It fails if the limit of values would be exceeded.
func (b *builder) row() ([]float32, error) {
	n := len(b.vecs)
	if n+b.dim > b.limit {
		return nil, malformed("more than %d values", b.limit)
	}
	if n+b.dim > cap(b.vecs) {
		c := min(max(2*cap(b.vecs), n+b.dim), b.limit)
		v := make([]float32, n, c)
		copy(v, b.vecs)
		b.vecs = v
	}
	b.vecs = b.vecs[:n+b.dim]
	return b.vecs[n:], nil
}

// add keeps the row just filled under word, unless word was seen before:
// then the row is dropped, as gensim does (first occurrence wins).
func (b *builder) add(word []byte) {
	if _, dup := b.index[string(word)]; dup {
		b.vecs = b.vecs[:len(b.vecs)-b.dim]
		return
	}
	w := string(word)
	b.index[w] = len(b.words)
	b.words = append(b.words, w)
}

func (b *builder) set() *Set {
	s := &Set{words: b.words, dim: b.dim, vecs: b.vecs, index: b.index}
	s.invNorm = inverseNorms(b.vecs, b.dim)
	return s
}

// isSpace reports ASCII white space, the separators of both formats.
func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if !isSpace(c) {
			return false
		}
	}
	return true
}

func hasSpace[T string | []byte](b T) bool {
	for i := 0; i < len(b); i++ {
		if isSpace(b[i]) {
			return true
		}
	}
	return false
}

func isDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return len(b) > 0
}

// nextField splits off the first white-space separated field of b.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	j := i
	for j < len(b) && !isSpace(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

// clip shortens b for an error message.
func clip(b []byte) string {
	const max = 40
	if len(b) > max {
		return string(b[:max]) + "..."
	}
	return string(b)
}

// checkFinite returns an error wrapping ErrInvalid naming the first row of
// s with a NaN or infinite value: the readers reject them, so the writers
// refuse to write them.
func checkFinite(s *Set) error {
	defer runtime.KeepAlive(s) // the matrix may be a mapping (see Set)
	for i, v := range s.vecs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			r := i / s.dim
			return fmt.Errorf("%w: row %d (%q) has a non-finite value %v", ErrInvalid, r, s.words[r], v)
		}
	}
	return nil
}
