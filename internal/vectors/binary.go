package vectors

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
)

// WriteBinary writes s to w in the word2vec binary format, byte for byte
// as word2vec.c (-binary 1) and gensim's save_word2vec_format(binary=True)
// write it: the header "COUNT DIM\n", then per row the word, a space, DIM
// little-endian float32 values and "\n".
//
// Output is buffered; WriteBinary returns the first error w returns. A set
// holding a NaN or infinite value yields an error wrapping ErrInvalid
// before anything is written. s is only read.
func WriteBinary(w io.Writer, s *Set) error {
	defer runtime.KeepAlive(s) // the matrix may be a mapping (see Set)
	if err := checkFinite(s); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, bufSize)
	buf := make([]byte, 0, 64+MaxWordLen+4*s.dim)
	buf = strconv.AppendInt(buf, int64(len(s.words)), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(s.dim), 10)
	buf = append(buf, '\n')
	if _, err := bw.Write(buf); err != nil {
		return fmt.Errorf("vectors: writing binary: %w", err)
	}
	for i, word := range s.words {
		buf = append(buf[:0], word...)
		buf = append(buf, ' ')
		for _, v := range s.Row(i) {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("vectors: writing binary: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("vectors: writing binary: %w", err)
	}
	return nil
}

// ReadBinary reads a word2vec binary file, as written by word2vec.c
// (-binary 1), gensim's save_word2vec_format(binary=True) or WriteBinary,
// into a new Set whose rows keep file order.
//
// After the header line "COUNT DIM", each row is a word ended by a space,
// then exactly 4*DIM bytes of little-endian float32. White space before a
// word is skipped, so the newline after each vector is optional (as for
// word2vec.c's own reader). After the last row only white space may
// follow. Words are kept as bytes, valid UTF-8 or not, but may not contain
// ASCII white space. Duplicate words keep their first vector and still
// count toward COUNT, as in ReadText.
//
// Malformed input yields a *ParseError (wrapping ErrMalformed) naming the
// row: a missing or out-of-range header (DIM above MaxDim, COUNT*DIM above
// MaxValues), a word longer than MaxWordLen bytes or containing white
// space, a NaN or infinite value, a truncated row, fewer rows than COUNT
// or data after the last row. Memory grows with the rows actually read,
// whatever COUNT says. An error from r is returned in a *ParseError too.
func ReadBinary(r io.Reader) (*Set, error) {
	size := inputSize(r)
	lr := newLineReader(r)
	h, _, err := readHeader(lr, Binary)
	if err != nil {
		return nil, err
	}
	return readSet(newRowReader(lr, h, nil, Binary), size)
}

// readBinaryWord skips white space and returns the word up to the next
// space, copied into buf. It returns io.EOF if the input ends before a
// word starts.
func readBinaryWord(br *bufio.Reader, buf []byte) ([]byte, error) {
	if err := skipSpace(br); err != nil {
		return nil, err
	}
	w, err := br.ReadSlice(' ')
	switch {
	case err == bufio.ErrBufferFull || len(w) > MaxWordLen+1:
		return nil, malformed("word longer than %d bytes", MaxWordLen)
	case err == io.EOF:
		return nil, truncated(fmt.Sprintf("word %q has no vector", clip(w)))
	case err != nil:
		return nil, err
	}
	w = w[:len(w)-1]
	if hasSpace(w) {
		return nil, malformed("word %q contains white space (wrong dimension, or not the binary format?)", clip(w))
	}
	return append(buf, w...), nil
}

// skipSpace consumes white space. It returns nil if a non-space byte
// follows, io.EOF at the end of input, or the reader's error.
func skipSpace(br *bufio.Reader) error {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return err
		}
		if !isSpace(c) {
			return br.UnreadByte()
		}
	}
}
