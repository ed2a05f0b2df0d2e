package vectors

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// rowReader reads the rows of a word2vec file one at a time, after its
// header: the parsing that Read, ReadText, ReadBinary and StreamCompact
// share, so that they accept and refuse exactly the same files. It holds
// one row (and the line reader's buffer), whatever the size of the file.
//
// Each row is read in two steps: next returns the word, then values parses
// the vector into the caller's slice (so Read parses straight into its
// matrix).
type rowReader struct {
	format Format // Text or Binary
	lr     *lineReader
	h      header
	first  []byte // headerless text: the first row, read with the header, not yet returned
	rows   int    // rows completed (values returned), duplicates included
	rest   []byte // text: the current row after its word
	raw    []byte // binary: the current row's 4*dim bytes
	word   []byte // binary: holds the current word
}

// openRows reads the header of a word2vec file in either format and tells
// them apart by peeking at what follows (see Read).
func openRows(r io.Reader) (*rowReader, error) {
	lr := newLineReader(r)
	h, first, err := readHeader(lr, "")
	if err != nil {
		return nil, err
	}
	if h.headerless {
		return newRowReader(lr, h, first, Text), nil
	}
	p, err := lr.br.Peek(bufSize)
	if err != nil && err != io.EOF && err != bufio.ErrBufferFull {
		return nil, &ParseError{Line: lr.line + 1, Row: 1, Err: err}
	}
	return newRowReader(lr, h, nil, detect(p, err == io.EOF, h.count, h.dim)), nil
}

// newRowReader reads the rows after header h in format f. first, if not
// nil, is the first row of a headerless text file, already read.
func newRowReader(lr *lineReader, h header, first []byte, f Format) *rowReader {
	rr := &rowReader{format: f, lr: lr, h: h, first: first}
	if f == Binary {
		rr.raw = make([]byte, 4*h.dim)
	}
	return rr
}

// fail wraps err in a *ParseError naming the current row.
func (rr *rowReader) fail(err error) error {
	pe := &ParseError{Format: rr.format, Row: rr.rows + 1, Err: err}
	if rr.format == Text {
		pe.Line = rr.lr.line
	}
	return pe
}

// next reads the next row and returns its word, valid until the next call;
// values must follow. It returns io.EOF after the last row, once it has
// checked that the input ends where the header says. Other errors are
// *ParseError.
func (rr *rowReader) next() ([]byte, error) {
	if rr.format == Binary {
		return rr.nextBinary()
	}
	return rr.nextText()
}

// values parses the current row's vector into dst (len dim): finite
// float32 values only.
func (rr *rowReader) values(dst []float32) error {
	if rr.format == Binary {
		for j := range dst {
			bits := binary.LittleEndian.Uint32(rr.raw[4*j:])
			if bits&0x7f800000 == 0x7f800000 {
				return rr.fail(malformed("value %d of %q is not finite", j+1, clip(rr.word)))
			}
			dst[j] = math.Float32frombits(bits)
		}
	} else if err := parseTextValues(rr.rest, rr.h.dim, dst); err != nil {
		return rr.fail(err)
	}
	rr.rows++
	return nil
}

func (rr *rowReader) nextText() ([]byte, error) {
	line, ok := rr.first, rr.first != nil
	rr.first = nil
	for !ok {
		l, err := rr.lr.next()
		if err == io.EOF {
			if rr.h.count >= 0 && rr.rows < rr.h.count {
				rr.lr.line++ // the line that is missing
				return nil, rr.fail(truncated(fmt.Sprintf("input ends after %d of %d rows", rr.rows, rr.h.count)))
			}
			return nil, io.EOF
		}
		if err != nil {
			return nil, rr.fail(err)
		}
		line, ok = l, !isBlank(l)
	}
	switch {
	case rr.h.count >= 0 && rr.rows == rr.h.count:
		return nil, rr.fail(malformed("more rows than the %d the header announces", rr.h.count))
	case rr.rows >= MaxValues/rr.h.dim:
		return nil, rr.fail(malformed("more than %d values", MaxValues))
	}
	word, rest := nextField(line)
	if len(word) > MaxWordLen {
		return nil, rr.fail(malformed("word of %d bytes is longer than %d", len(word), MaxWordLen))
	}
	rr.rest = rest
	return word, nil
}

func (rr *rowReader) nextBinary() ([]byte, error) {
	br := rr.lr.br
	if rr.rows == rr.h.count {
		if err := skipSpace(br); err != io.EOF {
			if err == nil {
				err = malformed("data after the %d rows the header announces", rr.h.count)
			}
			return nil, rr.fail(err)
		}
		return nil, io.EOF
	}
	word, err := readBinaryWord(br, rr.word[:0])
	if err == io.EOF {
		return nil, rr.fail(truncated(fmt.Sprintf("input ends after %d of %d rows", rr.rows, rr.h.count)))
	}
	if err != nil {
		return nil, rr.fail(err)
	}
	rr.word = word
	if _, err := io.ReadFull(br, rr.raw); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			err = truncated(fmt.Sprintf("vector of %q shorter than %d bytes", clip(word), len(rr.raw)))
		}
		return nil, rr.fail(err)
	}
	return word, nil
}

// readSet reads every row of rr into a new Set. size is the input's size
// (-1: unknown), which bounds the preallocation (see newBuilder).
func readSet(rr *rowReader, size int64) (*Set, error) {
	minBytes := 2 // the shortest text value: a digit and a space
	if rr.format == Binary {
		minBytes = 4
	}
	b := newBuilder(rr.h.count, rr.h.dim, size, minBytes)
	for {
		word, err := rr.next()
		if err == io.EOF {
			return b.set(), nil
		}
		if err != nil {
			return nil, err
		}
		dst, err := b.row()
		if err != nil {
			return nil, rr.fail(err)
		}
		if err := rr.values(dst); err != nil {
			return nil, err
		}
		b.add(word)
	}
}
