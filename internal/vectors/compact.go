package vectors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"unsafe"
)

// Compact is the format stores keep vectors in: it loads with two reads
// and no parsing, where the word2vec binary format interleaves words and
// vectors and must be parsed row by row (a 50k-word model: ~8 ms against
// ~80-120 ms). It is not a format for other tools; export converts.
//
// It has two layouts. WriteCompact, which has the whole set, puts the
// sizes first:
//
//	"OPHVEC1\n"                     8 bytes
//	count, dim, wordsLen            3 little-endian uint64
//	count*dim float32               little-endian, row-major
//	words                           wordsLen bytes, each word ended by '\n'
//
// StreamCompact, which writes rows as it reads them, knows count and
// wordsLen only at the end and puts them in a trailer:
//
//	"OPHVEC2\n", 0, dim, 0          the same 32-byte header, sizes zero
//	count*dim float32, words        as above
//	count, wordsLen                 2 little-endian uint64
//	"OPHVEC2\n"                     8 bytes
//
// Both keep the matrix at offset 32 (aligned in a mapping); every reader
// of this package reads both.
const Compact Format = "compact"

var (
	compactMagic = []byte("OPHVEC1\n")
	streamMagic  = []byte("OPHVEC2\n") // the layout with a trailer
)

const (
	compactHeaderLen  = 8 + 3*8
	compactTrailerLen = 2*8 + 8
)

// WriteCompact writes s to w in the Compact format. A set holding a NaN
// or infinite value yields an error wrapping ErrInvalid before anything is
// written.
func WriteCompact(w io.Writer, s *Set) error {
	defer runtime.KeepAlive(s) // the matrix may be a mapping (see Set)
	if err := checkFinite(s); err != nil {
		return err
	}
	if err := checkSubwordsFinite(s.subwords, s.dim); err != nil {
		return err
	}
	var wordsLen int
	for _, word := range s.words {
		wordsLen += len(word) + 1
	}
	bw := bufio.NewWriterSize(w, bufSize)
	hdr := make([]byte, 0, compactHeaderLen)
	hdr = append(hdr, compactMagic...)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(len(s.words)))
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(s.dim))
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(wordsLen))
	bw.Write(hdr)
	var buf [4]byte
	for _, v := range s.vecs {
		binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
		bw.Write(buf[:])
	}
	for _, word := range s.words {
		bw.WriteString(word)
		bw.WriteByte('\n')
	}
	writeSubwords(bw, s.subwords, uint64(compactHeaderLen+4*len(s.vecs)+wordsLen))
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("vectors: writing compact: %w", err)
	}
	return nil
}

// IsCompact reports whether p, the first bytes of a file, start the
// Compact format (either layout).
func IsCompact(p []byte) bool {
	return bytes.HasPrefix(p, compactMagic) || bytes.HasPrefix(p, streamMagic)
}

// ReadCompact reads a set written by WriteCompact or StreamCompact (either
// layout; a streamed one is read whole, then its matrix copied out: twice
// the matrix for a moment, where Load maps a file). Malformed input yields
// a *ParseError wrapping ErrMalformed: a wrong magic, sizes out of range
// (as for the word2vec formats: MaxDim, MaxValues, MaxWordLen), a
// truncated matrix or word list, a non-finite value, or a word list that
// does not hold count valid, distinct words. Memory is bounded by the
// data present: the header's sizes are checked against the file's size
// when r is a file, and other input is read before the matrix is
// allocated.
func ReadCompact(r io.Reader) (*Set, error) {
	return readCompact(r, inputSize(r))
}

// readCompact is ReadCompact for an input of size bytes (-1: unknown).
func readCompact(r io.Reader, size int64) (*Set, error) {
	var hdr [compactHeaderLen]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = truncated("header shorter than 32 bytes")
		}
		return nil, compactError(0, err)
	}
	h, err := parseCompactHeader(hdr[:], size)
	if err != nil {
		return nil, err
	}
	if h.streamed {
		return readStreamed(r, h, size)
	}
	if size < 0 {
		// Not a file: read what is there before allocating what the
		// header announces, so memory follows the data actually present.
		body := 4*h.count*h.dim + h.wordsLen
		data, err := io.ReadAll(io.LimitReader(r, int64(body)))
		switch {
		case err != nil:
			return nil, compactError(1, err)
		case uint64(len(data)) < body:
			return nil, compactError(1, truncated(fmt.Sprintf("%d bytes after the header, header announces %d", len(data), body)))
		}
		r = io.MultiReader(bytes.NewReader(data), r)
	}
	n, d := int(h.count), int(h.dim)
	vecs := make([]float32, n*d)
	if n > 0 {
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&vecs[0])), 4*len(vecs))
		if _, err := io.ReadFull(r, raw); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = truncated("matrix shorter than the header announces")
			}
			return nil, compactError(1, err)
		}
		if !littleEndian {
			for i := range vecs {
				vecs[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
	}
	block := make([]byte, h.wordsLen)
	if _, err := io.ReadFull(r, block); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = truncated("word list shorter than the header announces")
		}
		return nil, compactError(n, err)
	}
	end := int64(compactHeaderLen + 4*h.count*h.dim + h.wordsLen)
	sw, err := readSubwords(r, end, size, d)
	if err != nil {
		return nil, compactError(n, err)
	}
	s, err := compactSet(vecs, block, n, d)
	if err != nil {
		return nil, err
	}
	return s, attachSubwords(s, sw, n)
}

// attachSubwords attaches sw (nil: none) to s, read from a file of n
// words.
func attachSubwords(s *Set, sw *Subwords, n int) error {
	if sw == nil {
		return nil
	}
	if err := s.SetSubwords(sw); err != nil {
		return compactError(n, fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	return nil
}

func compactError(row int, err error) error {
	return &ParseError{Format: Compact, Row: row, Err: err}
}

// compactHeader is the parsed header of a Compact file.
type compactHeader struct {
	count, dim, wordsLen uint64
	streamed             bool // the layout with a trailer: count and wordsLen come from it
}

// parseCompactHeader checks the header's magic and sizes, and that they
// add up to size unless size is -1. For the streamed layout it checks the
// dimension only: the rest is in the trailer (parseTrailer).
func parseCompactHeader(hdr []byte, size int64) (compactHeader, error) {
	switch {
	case bytes.HasPrefix(hdr, compactMagic):
		h := compactHeader{
			count:    binary.LittleEndian.Uint64(hdr[8:]),
			dim:      binary.LittleEndian.Uint64(hdr[16:]),
			wordsLen: binary.LittleEndian.Uint64(hdr[24:]),
		}
		if err := h.check(size); err != nil {
			return compactHeader{}, compactError(0, err)
		}
		return h, nil
	case bytes.HasPrefix(hdr, streamMagic):
		h := compactHeader{dim: binary.LittleEndian.Uint64(hdr[16:]), streamed: true}
		var err error
		switch {
		case binary.LittleEndian.Uint64(hdr[8:]) != 0 || binary.LittleEndian.Uint64(hdr[24:]) != 0:
			err = malformed("streamed header with sizes")
		case h.dim < 1 || h.dim > MaxDim:
			err = malformed("dimension %d out of range 1..%d", h.dim, MaxDim)
		case size >= 0 && size < compactHeaderLen+compactTrailerLen:
			err = truncated(fmt.Sprintf("file of %d bytes has no trailer", size))
		}
		if err != nil {
			return compactHeader{}, compactError(0, err)
		}
		return h, nil
	}
	return compactHeader{}, compactError(0, malformed("not the compact vectors format"))
}

// parseTrailer reads count and wordsLen of a streamed file of size bytes
// from tail, its last compactTrailerLen bytes, and checks them.
func (h *compactHeader) parseTrailer(tail []byte, size int64) error {
	if !bytes.Equal(tail[16:], streamMagic) {
		return compactError(0, truncated("no trailer at the end (was the file cut short?)"))
	}
	h.count = binary.LittleEndian.Uint64(tail)
	h.wordsLen = binary.LittleEndian.Uint64(tail[8:])
	if err := h.check(size); err != nil {
		return compactError(0, err)
	}
	return nil
}

// check checks the sizes, and that they add up to size unless it is -1.
func (h compactHeader) check(size int64) error {
	total := compactHeaderLen + 4*h.count*h.dim + h.wordsLen
	what := "header"
	if h.streamed {
		total += compactTrailerLen
		what = "trailer"
	}
	switch {
	case h.dim < 1 || h.dim > MaxDim:
		return malformed("dimension %d out of range 1..%d", h.dim, MaxDim)
	case h.count > MaxValues/h.dim:
		return malformed("%d vectors of dimension %d exceed the limit of %d values", h.count, h.dim, MaxValues)
	case h.wordsLen < 2*h.count || h.wordsLen > h.count*(MaxWordLen+1):
		return malformed("%d bytes of words for %d words", h.wordsLen, h.count)
	case size >= 0 && uint64(size) != total && (h.streamed || uint64(size) < total):
		// (WriteCompact's layout may have a subword section after
		// the word list: readSubwords, mappedSubwords.)
		return truncated(fmt.Sprintf("file of %d bytes, %s announces %d", size, what, total))
	}
	return nil
}

// readStreamed reads the rest of a streamed Compact file after its header
// h: all of it (size-32 bytes for a file, or whatever r holds), then the
// matrix is copied out of it. Memory is twice the matrix for a moment;
// Load maps files instead where it can.
func readStreamed(r io.Reader, h compactHeader, size int64) (*Set, error) {
	var data []byte
	if size >= 0 {
		data = make([]byte, size-compactHeaderLen)
		if _, err := io.ReadFull(r, data); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = truncated("file shorter than its size")
			}
			return nil, compactError(1, err)
		}
		if _, err := io.ReadFull(r, make([]byte, 1)); err != io.EOF {
			if err == nil {
				err = malformed("data after the trailer")
			}
			return nil, compactError(0, err)
		}
	} else {
		// The most a valid file of this dimension holds.
		most := 4*MaxValues + MaxValues/h.dim*(MaxWordLen+1) + compactTrailerLen
		var err error
		if data, err = io.ReadAll(io.LimitReader(r, int64(most)+1)); err != nil {
			return nil, compactError(1, err)
		}
		if uint64(len(data)) > most {
			return nil, compactError(0, malformed("larger than %d values can be", MaxValues))
		}
	}
	if len(data) < compactTrailerLen {
		return nil, compactError(0, truncated("no trailer"))
	}
	if err := h.parseTrailer(data[len(data)-compactTrailerLen:], int64(len(data))+compactHeaderLen); err != nil {
		return nil, err
	}
	n, d := int(h.count), int(h.dim)
	vecs := make([]float32, n*d)
	for i := range vecs {
		vecs[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return compactSet(vecs, data[4*n*d:4*n*d+int(h.wordsLen)], n, d)
}

// compactSet checks the values and the word list and builds the set. It
// copies the word list; it keeps vecs.
func compactSet(vecs []float32, block []byte, n, d int) (*Set, error) {
	// New computes every row's norm, which is finite when the row's values
	// are (unless they are beyond ~1e19): only rows with a norm that is
	// not are checked value by value, saving a pass over the matrix.
	invNorm := inverseNorms(vecs, d)
	for r, inv := range invNorm {
		if inv != 0 || !hasNonFinite(vecs[r*d:(r+1)*d]) {
			continue
		}
		for j, v := range vecs[r*d : (r+1)*d] {
			if math.Float32bits(v)&0x7f800000 == 0x7f800000 { // NaN or infinite
				return nil, compactError(r+1, malformed("value %d is not finite", j+1))
			}
		}
	}
	all := string(block) // one allocation; the words are substrings of it
	var words []string
	if n > 0 {
		if !strings.HasSuffix(all, "\n") {
			return nil, compactError(n, malformed("word list does not end with a newline"))
		}
		words = strings.SplitN(all[:len(all)-1], "\n", n+1)
	}
	if len(words) != n {
		return nil, compactError(min(len(words), n), malformed("word list holds %d words, header announces %d", len(words), n))
	}
	for i, w := range words {
		if len(w) > MaxWordLen {
			return nil, compactError(i+1, malformed("word longer than %d bytes", MaxWordLen))
		}
	}
	s, err := newWithNorms(words, d, vecs, invNorm)
	if err != nil {
		return nil, compactError(0, fmt.Errorf("%w: %w", ErrMalformed, err))
	}
	return s, nil
}

// hasNonFinite reports whether row holds a NaN or an infinity.
func hasNonFinite(row []float32) bool {
	for _, v := range row {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return true
		}
	}
	return false
}

// littleEndian is true on hosts that store a float32 as the file does.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// Load reads vectors in any format this package reads: Compact, or
// word2vec binary or text (see Read).
//
// A Compact file (an *os.File) is mapped into memory rather than read
// where the system allows (Linux): the matrix then costs no copy and no
// fresh pages, which in a cold process dominate loading (measured: a
// 50k x 100 model, ~110 ms read, see BenchmarkLoadCompact). The mapping is
// released when the set becomes unreachable; the file must not be
// truncated or rewritten in place meanwhile (stores rename new files into
// place).
func Load(r io.Reader) (*Set, error) {
	size := inputSize(r)
	if f, ok := r.(*os.File); ok && size >= mapMinBytes {
		if s, ok, err := loadMapped(f, size); ok {
			return s, err
		}
	}
	br := bufio.NewReaderSize(r, bufSize)
	p, _ := br.Peek(len(compactMagic))
	if IsCompact(p) {
		return readCompact(br, size)
	}
	return read(br, size)
}
