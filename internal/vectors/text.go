package vectors

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
)

// WriteText writes s to w in the word2vec text format, as gensim's
// save_word2vec_format(binary=False) does: the header "COUNT DIM\n", then
// per row the word and DIM values, each preceded by a single space, and
// "\n". Values use the shortest decimal form that reads back as the same
// float32, so ReadText(WriteText(s)) reproduces s exactly.
//
// Output is buffered; w receives only whole writes and WriteText returns
// the first error w returns. A set holding a NaN or infinite value yields
// an error wrapping ErrInvalid before anything is written. s is only read.
func WriteText(w io.Writer, s *Set) error {
	defer runtime.KeepAlive(s) // the matrix may be a mapping (see Set)
	if err := checkFinite(s); err != nil {
		return err
	}
	bw := bufio.NewWriterSize(w, bufSize)
	buf := make([]byte, 0, 256+16*s.dim)
	buf = strconv.AppendInt(buf, int64(len(s.words)), 10)
	buf = append(buf, ' ')
	buf = strconv.AppendInt(buf, int64(s.dim), 10)
	buf = append(buf, '\n')
	if _, err := bw.Write(buf); err != nil {
		return fmt.Errorf("vectors: writing text: %w", err)
	}
	for i, word := range s.words {
		buf = append(buf[:0], word...)
		for _, v := range s.Row(i) {
			buf = append(buf, ' ')
			buf = strconv.AppendFloat(buf, float64(v), 'g', -1, 32)
		}
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return fmt.Errorf("vectors: writing text: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("vectors: writing text: %w", err)
	}
	return nil
}

// ReadText reads a word2vec text file, as written by word2vec.c
// (-binary 0), gensim's save_word2vec_format(binary=False) or WriteText,
// into a new Set whose rows keep file order.
//
// The first line is the header "COUNT DIM". If it is not two unsigned
// integers, the file is taken to have no header (GloVe style): DIM is the
// number of values on the first line, and every line is a row. Fields are
// separated by runs of ASCII white space other than newline, so trailing
// spaces (word2vec.c writes one before each newline), "\r\n" line ends,
// blank lines, a missing final newline and a UTF-8 byte order mark are all
// accepted. Words are kept as bytes, valid UTF-8 or not. Values are
// anything strconv.ParseFloat reads as a finite float32.
//
// A word seen before is skipped, keeping its first vector, as gensim does;
// such a row still counts toward COUNT, which is the number of rows in the
// file, so the Set may have fewer than COUNT words.
//
// Malformed input yields a *ParseError (wrapping ErrMalformed) naming the
// line: a value count other than DIM, a value that is not a finite float32,
// DIM above MaxDim, COUNT*DIM above MaxValues, a word longer than
// MaxWordLen bytes, a line longer than 1 MiB, fewer or more rows than
// COUNT. Memory grows with the rows actually read, whatever COUNT says.
// An error from r is returned in a *ParseError too.
func ReadText(r io.Reader) (*Set, error) {
	lr := newLineReader(r)
	h, first, err := readHeader(lr, Text)
	if err != nil {
		return nil, err
	}
	return readSet(newRowReader(lr, h, first, Text), inputSize(r))
}

// parseTextRow parses "word v1 ... vdim" into dst (len(dim)) and returns
// the word, a sub-slice of line.
func parseTextRow(line []byte, dim int, dst []float32) ([]byte, error) {
	word, rest := nextField(line)
	if len(word) > MaxWordLen {
		return nil, malformed("word of %d bytes is longer than %d", len(word), MaxWordLen)
	}
	return word, parseTextValues(rest, dim, dst)
}

// parseTextValues parses exactly dim white-space separated finite float32
// values from b into dst.
func parseTextValues(b []byte, dim int, dst []float32) error {
	n := 0
	for {
		var f []byte
		if f, b = nextField(b); len(f) == 0 {
			break
		}
		if n == dim {
			return malformed("more than %d values", dim)
		}
		v, err := strconv.ParseFloat(string(f), 32)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
			return malformed("value %d %q is not a finite float32", n+1, clip(f))
		}
		dst[n] = float32(v)
		n++
	}
	if n != dim {
		return malformed("%d values, want %d", n, dim)
	}
	return nil
}

// lineReader reads lines, counting them.
type lineReader struct {
	br   *bufio.Reader
	line int    // number of the line last returned
	long []byte // holds lines longer than br's buffer
}

func newLineReader(r io.Reader) *lineReader {
	return &lineReader{br: bufio.NewReaderSize(r, bufSize)}
}

// next returns the next line without its "\n" or "\r\n", valid until the
// next call, or io.EOF after the last line (which may lack a "\n").
func (lr *lineReader) next() ([]byte, error) {
	b, err := lr.br.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		lr.long = append(lr.long[:0], b...)
		for err == bufio.ErrBufferFull {
			if len(lr.long) > maxLineLen {
				lr.line++
				return nil, malformed("line longer than %d bytes", maxLineLen)
			}
			b, err = lr.br.ReadSlice('\n')
			lr.long = append(lr.long, b...)
		}
		b = lr.long
	}
	if err != nil && err != io.EOF {
		lr.line++
		return nil, err
	}
	if len(b) == 0 {
		return nil, io.EOF
	}
	lr.line++
	if b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b, nil
}
