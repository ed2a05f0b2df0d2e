package vectors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"os"
	"strconv"
	"sync/atomic"
	"unicode/utf8"

	"github.com/ophicleide/ophicleide/internal/subword"
)

// StreamOptions are the checks StreamCompact makes beyond those of Read.
// The zero value makes none: StreamCompact then accepts exactly what Read
// accepts.
type StreamOptions struct {
	// UTF8 refuses a word that is not valid UTF-8 (Read keeps such words
	// as bytes; a JSON API can neither show nor be asked for them).
	UTF8 bool
}

// streamBufSize is StreamCompact's output buffer: the batch of rows it
// writes at once (~650 rows of dimension 100).
const streamBufSize = 256 << 10

// StreamCompact reads a word2vec file from src, in the text or binary
// format (told apart as Read does), and writes it to dst in the Compact
// format, row by row: the matrix is never held, only one row, the input
// and output buffers (64 KiB and 256 KiB) and the word list, which goes
// at the end (O(words): each word's bytes and 11 to 22 bytes of hash
// table, see wordList).
// It returns the number of words written and their dimension.
//
// It accepts and refuses exactly what Read does (duplicate words keep
// their first vector; COUNT must be the number of rows; values finite),
// plus what opt refuses, and what it writes loads (Load, ReadCompact) as
// the set Read returns for src. The header's COUNT is never used to
// allocate. Malformed input yields a *ParseError as Read's do, an error
// from src a *ParseError wrapping it; an error from dst is returned
// wrapped, not as a *ParseError. Whatever the error, dst has received a
// part of the file that is not valid Compact: write to a temporary file
// and keep it only when StreamCompact returns nil.
func StreamCompact(dst io.Writer, src io.Reader, opt StreamOptions) (words, dim int, err error) {
	st, err := OpenStream(src)
	if err != nil {
		return 0, 0, err
	}
	words, err = st.WriteCompact(dst, opt)
	return words, st.Dim(), err
}

// Stream is a word2vec file whose header has been read, to be written in
// the Compact format by WriteCompact: StreamCompact in two steps, so that
// a caller can refuse what is not a vectors file at all before it stores
// anything, and watch a long copy (Rows).
type Stream struct {
	rr   *rowReader
	rows atomic.Int64
}

// OpenStream reads the header of the word2vec file src (the first row too,
// for a text file without one), as StreamCompact does: its errors are
// *ParseError.
func OpenStream(src io.Reader) (*Stream, error) {
	rr, err := openRows(src)
	if err != nil {
		return nil, err
	}
	return &Stream{rr: rr}, nil
}

// Dim is the dimension of the vectors.
func (st *Stream) Dim() int { return st.rr.h.dim }

// Count is the number of rows the header announces (-1 for a text file
// without a header). It is what the file claims, not what it holds:
// never allocate by it.
func (st *Stream) Count() int {
	if st.rr.h.headerless {
		return -1
	}
	return st.rr.h.count
}

// Format is the file's format (Text or Binary).
func (st *Stream) Format() Format { return st.rr.format }

// Rows is how many rows WriteCompact has read so far; it may be called
// from any goroutine while WriteCompact runs.
func (st *Stream) Rows() int64 { return st.rows.Load() }

// WriteCompact writes the rows to dst in the Compact format (see
// StreamCompact, whose errors it returns) and returns the number of words
// written. Call it once.
func (st *Stream) WriteCompact(dst io.Writer, opt StreamOptions) (words int, err error) {
	rr := st.rr
	dim := rr.h.dim
	wfail := func(err error) (int, error) {
		return 0, fmt.Errorf("vectors: writing compact: %w", err)
	}
	bw := bufio.NewWriterSize(dst, streamBufSize)
	hdr := make([]byte, 0, compactHeaderLen)
	hdr = append(hdr, streamMagic...)
	hdr = binary.LittleEndian.AppendUint64(hdr, 0)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(dim))
	hdr = binary.LittleEndian.AppendUint64(hdr, 0)
	if _, err := bw.Write(hdr); err != nil {
		return wfail(err)
	}
	seen := newWordList()
	row := make([]float32, dim)
	out := make([]byte, 4*dim)
	for {
		word, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
		if opt.UTF8 && !utf8.Valid(word) {
			return 0, rr.fail(malformed("word %q is not valid UTF-8", clip(word)))
		}
		if err := rr.values(row); err != nil {
			return 0, err
		}
		st.rows.Add(1)
		if len(seen.chunks) == 1<<(posBits-20) {
			return 0, rr.fail(malformed("more than %d bytes of words", uint64(1)<<posBits))
		}
		if !seen.add(word) {
			continue // seen before: the first vector wins, as in Read
		}
		for j, v := range row {
			binary.LittleEndian.PutUint32(out[4*j:], math.Float32bits(v))
		}
		if _, err := bw.Write(out); err != nil {
			return wfail(err)
		}
	}
	for _, c := range seen.chunks {
		bw.Write(c)
	}
	var tail [compactTrailerLen]byte
	binary.LittleEndian.PutUint64(tail[:], uint64(seen.n))
	binary.LittleEndian.PutUint64(tail[8:], seen.size)
	copy(tail[16:], streamMagic)
	bw.Write(tail[:])
	if err := bw.Flush(); err != nil {
		return wfail(err)
	}
	return seen.n, nil
}

// wordList holds the words StreamCompact has written, each once, in
// order: their bytes, each ended by '\n' as in the Compact word list, in
// chunks of at most wordChunk bytes (a word never spans two, so a chunk
// wastes at most MaxWordLen bytes), and an open-addressing hash table
// (linear probing, at most 3/4 full) of their positions. It holds no
// pointers but the chunks': the garbage collector has next to nothing to
// scan, and a word costs its bytes plus 11 to 22 bytes of table, against
// ~80 for a map of strings. The hash is seeded per list (hash/maphash):
// a file cannot be crafted to collide.
type wordList struct {
	seed   maphash.Seed
	chunks [][]byte
	table  []uint64 // 0: empty; else the hash's top 24 bits << 40 | position+1
	n      int      // words
	size   uint64   // bytes of the chunks (the Compact wordsLen)
}

const (
	wordChunk     = 1 << 20 // longest chunk: a position is chunk<<20 | offset
	firstChunk    = 4 << 10
	posBits       = 40
	posMask       = 1<<posBits - 1
	minTableSlots = 1 << 10
)

func newWordList() *wordList {
	return &wordList{seed: maphash.MakeSeed(), table: make([]uint64, minTableSlots)}
}

// add appends word unless the list holds it, and reports whether it did.
func (l *wordList) add(word []byte) bool {
	if 4*(l.n+1) > 3*len(l.table) {
		l.grow()
	}
	h := maphash.Bytes(l.seed, word)
	tag := h >> posBits << posBits
	mask := uint64(len(l.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := l.table[i]
		if e == 0 {
			l.table[i] = tag | (l.append(word) + 1)
			l.n++
			return true
		}
		if e&^posMask == tag && l.holds(e&posMask-1, word) {
			return false
		}
	}
}

// append stores word and its '\n' and returns its position.
func (l *wordList) append(word []byte) uint64 {
	need := len(word) + 1
	last := len(l.chunks) - 1
	if last < 0 || len(l.chunks[last])+need > cap(l.chunks[last]) {
		c := firstChunk
		if last >= 0 {
			c = min(2*cap(l.chunks[last]), wordChunk)
		}
		l.chunks = append(l.chunks, make([]byte, 0, max(c, need)))
		last++
	}
	pos := uint64(last)<<20 | uint64(len(l.chunks[last]))
	l.chunks[last] = append(append(l.chunks[last], word...), '\n')
	l.size += uint64(need)
	return pos
}

// at returns the word at pos.
func (l *wordList) at(pos uint64) []byte {
	c := l.chunks[pos>>20][pos&(wordChunk-1):]
	return c[:bytes.IndexByte(c, '\n')]
}

// holds reports whether the word at pos is word.
func (l *wordList) holds(pos uint64, word []byte) bool {
	c := l.chunks[pos>>20][pos&(wordChunk-1):]
	return len(c) > len(word) && c[len(word)] == '\n' && bytes.Equal(c[:len(word)], word)
}

// grow doubles the table.
func (l *wordList) grow() {
	old := l.table
	l.table = make([]uint64, 2*len(old))
	mask := uint64(len(l.table) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := maphash.Bytes(l.seed, l.at(e&posMask-1)) & mask
		for l.table[i] != 0 {
			i = (i + 1) & mask
		}
		l.table[i] = e
	}
}

// CompactWriter writes a set in the Compact format (WriteCompact's
// layout, counts in the header, with a subword section) row by row, for
// a set whose words are known before its rows: a fastText .bin file's
// dictionary comes before its matrices. Memory holds the words, a row and
// a 256 KiB buffer, never the matrix; what it writes loads (Load,
// ReadCompact) as WriteCompact's file of the same set.
type CompactWriter struct {
	bw       *bufio.Writer
	words    []string
	dim      int
	rows     int // word rows written
	sub      subword.Config
	subRows  int // subword rows written (once sub is set)
	wordsLen uint64
	out      []byte
	err      error
}

// NewCompactWriter checks words as New does (none empty, none with white
// space, no duplicates) and dim, and writes the header to w. Every error
// wraps ErrInvalid; an error of w is returned by the call that meets it.
func NewCompactWriter(w io.Writer, words []string, dim int) (*CompactWriter, error) {
	if dim <= 0 || dim > MaxDim {
		return nil, fmt.Errorf("%w: dimension %d", ErrInvalid, dim)
	}
	if int64(len(words))*int64(dim) > MaxValues {
		return nil, fmt.Errorf("%w: %d words of dimension %d exceed the limit of %d values", ErrInvalid, len(words), dim, int64(MaxValues))
	}
	seen := newWordList()
	for i, word := range words {
		if word == "" {
			return nil, fmt.Errorf("%w: empty word at row %d", ErrInvalid, i)
		}
		if hasSpace(word) {
			return nil, fmt.Errorf("%w: word %q at row %d contains white space", ErrInvalid, clip([]byte(word)), i)
		}
		if !seen.add([]byte(word)) {
			return nil, fmt.Errorf("%w: duplicate word %q at row %d", ErrInvalid, clip([]byte(word)), i)
		}
	}
	c := &CompactWriter{bw: bufio.NewWriterSize(w, streamBufSize), words: words, dim: dim, wordsLen: seen.size, out: make([]byte, 4*dim)}
	hdr := make([]byte, 0, compactHeaderLen)
	hdr = append(hdr, compactMagic...)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(len(words)))
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(dim))
	hdr = binary.LittleEndian.AppendUint64(hdr, seen.size)
	if _, err := c.bw.Write(hdr); err != nil {
		return nil, fmt.Errorf("vectors: writing compact: %w", err)
	}
	return c, nil
}

// row writes v (of the set's dimension, finite).
func (c *CompactWriter) row(v []float32, what string, i int) error {
	if c.err != nil {
		return c.err
	}
	if len(v) != c.dim {
		return fmt.Errorf("%w: %s %d has %d values, want %d", ErrInvalid, what, i, len(v), c.dim)
	}
	for j, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Errorf("%w: %s %d has a non-finite value %v", ErrInvalid, what, i, x)
		}
		binary.LittleEndian.PutUint32(c.out[4*j:], math.Float32bits(x))
	}
	if _, err := c.bw.Write(c.out); err != nil {
		c.err = fmt.Errorf("vectors: writing compact: %w", err)
		return c.err
	}
	return nil
}

// WriteRow writes the vector of the next word.
func (c *CompactWriter) WriteRow(v []float32) error {
	if c.rows == len(c.words) {
		return fmt.Errorf("%w: more rows than the %d words", ErrInvalid, len(c.words))
	}
	if err := c.row(v, "row", c.rows); err != nil {
		return err
	}
	c.rows++
	return nil
}

// words writes the word list, once every row is written.
func (c *CompactWriter) writeWords() error {
	if c.rows != len(c.words) {
		return fmt.Errorf("%w: %d rows written of %d words", ErrInvalid, c.rows, len(c.words))
	}
	for _, w := range c.words {
		c.bw.WriteString(w)
		c.bw.WriteByte('\n')
	}
	c.rows++ // past the words: no more rows
	return nil
}

// BeginSubwords ends the word rows and starts the subword section of
// cfg (enabled; cfg.Bucket rows follow, through WriteSubwordRow).
func (c *CompactWriter) BeginSubwords(cfg subword.Config) error {
	switch {
	case c.err != nil:
		return c.err
	case !c.sub.Enabled() && c.rows > len(c.words):
		return fmt.Errorf("%w: BeginSubwords after Close", ErrInvalid)
	case c.sub.Enabled():
		return fmt.Errorf("%w: BeginSubwords twice", ErrInvalid)
	case !cfg.Enabled() || cfg.MinN < 1 || cfg.MaxN < cfg.MinN || cfg.MaxN > maxSubwordN || cfg.Bucket < 1 || int64(cfg.Bucket)*int64(c.dim) > MaxValues:
		return fmt.Errorf("%w: subword settings %+v", ErrInvalid, cfg)
	}
	if err := c.writeWords(); err != nil {
		return err
	}
	c.sub = cfg
	writeSubwords(c.bw, &Subwords{Config: cfg}, uint64(compactHeaderLen)+4*uint64(len(c.words))*uint64(c.dim)+c.wordsLen)
	return nil
}

// WriteSubwordRow writes the next n-gram row of the subword section.
func (c *CompactWriter) WriteSubwordRow(v []float32) error {
	if !c.sub.Enabled() {
		return fmt.Errorf("%w: WriteSubwordRow before BeginSubwords", ErrInvalid)
	}
	if c.subRows == c.sub.Bucket {
		return fmt.Errorf("%w: more subword rows than the %d buckets", ErrInvalid, c.sub.Bucket)
	}
	if err := c.row(v, "subword row", c.subRows); err != nil {
		return err
	}
	c.subRows++
	return nil
}

// Close checks that every row was written (and every subword row, after
// BeginSubwords), ends the file and flushes it. It does not close w.
func (c *CompactWriter) Close() error {
	if c.err != nil {
		return c.err
	}
	if c.sub.Enabled() {
		if c.subRows != c.sub.Bucket {
			return fmt.Errorf("%w: %d subword rows written of %d", ErrInvalid, c.subRows, c.sub.Bucket)
		}
	} else if err := c.writeWords(); err != nil {
		return err
	}
	if err := c.bw.Flush(); err != nil {
		c.err = fmt.Errorf("vectors: writing compact: %w", err)
		return c.err
	}
	c.err = fmt.Errorf("%w: the writer is closed", ErrInvalid)
	return nil
}

// Convert writes the word2vec file src (text or binary, told apart as
// Read does) to dst in format f (Text or Binary), as Write(dst, set, f)
// of the set Read returns would, without holding the matrix: a row, the
// buffers and the word list (see StreamCompact). The header's COUNT is
// the number of distinct words, known only at the end, so the rows go to
// a scratch file in tempDir ("": os.TempDir(); unlinked at once, so
// nothing is left behind) and are copied after the header; nothing is
// written to dst when src is malformed (a *ParseError). It returns the
// number of words written and their dimension.
func Convert(dst io.Writer, src io.Reader, f Format, tempDir string) (words, dim int, err error) {
	if f != Text && f != Binary {
		return 0, 0, fmt.Errorf("%w: convert to format %q", ErrInvalid, f)
	}
	rr, err := openRows(src)
	if err != nil {
		return 0, 0, err
	}
	dim = rr.h.dim
	tmp, err := os.CreateTemp(tempDir, "ophicleide-convert-*.tmp")
	if err != nil {
		return 0, 0, fmt.Errorf("vectors: convert: %w", err)
	}
	defer tmp.Close()
	if err := os.Remove(tmp.Name()); err != nil {
		return 0, 0, fmt.Errorf("vectors: convert: %w", err)
	}
	wfail := func(err error) (int, int, error) {
		return 0, 0, fmt.Errorf("vectors: writing %s: %w", f, err)
	}
	bw := bufio.NewWriterSize(tmp, streamBufSize)
	buf := make([]byte, 0, 64+MaxWordLen+16*dim)
	seen := newWordList()
	row := make([]float32, dim)
	for {
		word, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		if err := rr.values(row); err != nil {
			return 0, 0, err
		}
		if len(seen.chunks) == 1<<(posBits-20) {
			return 0, 0, rr.fail(malformed("more than %d bytes of words", uint64(1)<<posBits))
		}
		if !seen.add(word) {
			continue // seen before: the first vector wins, as in Read
		}
		buf = append(buf[:0], word...)
		if f == Binary {
			buf = append(buf, ' ')
		}
		for _, v := range row {
			if f == Binary {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
			} else {
				buf = append(buf, ' ')
				buf = strconv.AppendFloat(buf, float64(v), 'g', -1, 32)
			}
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return 0, 0, fmt.Errorf("vectors: convert: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, 0, fmt.Errorf("vectors: convert: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, 0, fmt.Errorf("vectors: convert: %w", err)
	}
	buf = strconv.AppendInt(buf[:0], int64(seen.n), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(dim), 10)
	buf = append(buf, '\n')
	if _, err := dst.Write(buf); err != nil {
		return wfail(err)
	}
	if _, err := io.CopyBuffer(dst, tmp, make([]byte, streamBufSize)); err != nil {
		return wfail(err)
	}
	return seen.n, dim, nil
}
