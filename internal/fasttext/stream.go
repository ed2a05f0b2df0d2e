package fasttext

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/ophicleide/ophicleide/internal/subword"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// StreamOptions configure Stream.
type StreamOptions struct {
	// Limits bound the file as Read's do (a zero field: DefaultLimits').
	Limits Limits
	// TempDir holds the two scratch files of a model with n-grams ("":
	// os.TempDir()). They are unlinked as soon as they are created, so
	// nothing is left behind whatever happens to the process.
	TempDir string
}

// Stream reads a fastText .bin model from src, as Read does, and writes
// the set Read would return to dst in the Compact format
// (vectors.CompactWriter): the composed word rows, the words, and the
// bucket rows as its subword section. Memory holds the dictionary and a
// few rows, never a matrix: a word's vector needs n-gram rows that come
// after every word row in the file, so the raw word rows and the n-gram
// rows go to two scratch files in opt.TempDir first (about the input
// matrix's size on disk, read back with pread, not mapped). A model
// without n-grams is written as it is read, with no scratch file.
//
// It accepts and refuses what Read does, with the same errors (*Error
// wrapping ErrMalformed or ErrUnsupported, or src's own error); an error
// of dst or of the scratch files is returned wrapped, not as an *Error.
// Whatever the error, dst has received part of a file: keep it only when
// Stream returns nil. The returned Meta is Read's, and sw the subword
// settings (zero without n-grams).
func Stream(dst io.Writer, src io.Reader, opt StreamOptions) (meta *Meta, words, dim int, sw subword.Config, err error) {
	st, err := OpenStream(src, opt)
	if err != nil {
		return nil, 0, 0, subword.Config{}, err
	}
	return st.WriteCompact(dst)
}

// Model is a .bin model whose dictionary has been read, to be written
// by WriteCompact: Stream in two steps, so that a caller can refuse a
// file whose header or dictionary is wrong before it stores anything.
type Model struct {
	d   *decoder
	lim Limits
	h   *head
	tmp string
}

// OpenStream reads src up to the values of its input matrix (header,
// args, dictionary, the matrix's shape), checked as Read checks them; its
// errors are Read's.
func OpenStream(src io.Reader, opt StreamOptions) (*Model, error) {
	lim := opt.Limits.withDefaults()
	d := &decoder{r: bufio.NewReaderSize(src, bufSize), size: -1, section: "header"}
	h, err := readHead(d, lim)
	if err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			err = d.fail(err)
		}
		return nil, err
	}
	return &Model{d: d, lim: lim, h: h, tmp: opt.TempDir}, nil
}

// Words is the number of words of the dictionary.
func (m *Model) Words() int { return len(m.h.words) }

// WriteCompact writes the model to dst as Stream does, and returns what
// Stream returns. Call it once.
func (m *Model) WriteCompact(dst io.Writer) (meta *Meta, words, dim int, sw subword.Config, err error) {
	d, h := m.d, m.h
	if err := stream(dst, d, m.lim, h, m.tmp); err != nil {
		var fe *Error
		var we *writeError
		switch {
		case errors.As(err, &we):
			err = we.err
		case !errors.As(err, &fe):
			err = d.fail(err)
		}
		return nil, 0, 0, subword.Config{}, err
	}
	return h.m, len(h.words), h.dim, h.cfg, nil
}

// writeError marks an error of the output or of a scratch file, which
// Stream returns without naming a section of the input.
type writeError struct{ err error }

func (e *writeError) Error() string { return e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

func wfail(err error) error {
	if err == nil {
		return nil
	}
	return &writeError{fmt.Errorf("fasttext: writing: %w", err)}
}

// row reads the next dim values into dst, refusing non-finite ones;
// first is the index of dst[0] in the matrix, for the message.
func (d *decoder) row(dst []float32, raw []byte, first int64) error {
	if _, err := io.ReadFull(d.r, raw); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return fmt.Errorf("%w: input ends early (%w)", ErrMalformed, io.ErrUnexpectedEOF)
		}
		return err
	}
	d.off += int64(len(raw))
	for i := range dst {
		u := binary.LittleEndian.Uint32(raw[4*i:])
		if u&0x7f800000 == 0x7f800000 {
			return malformed("non-finite value %v at value %d", math.Float32frombits(u), first+int64(i))
		}
		dst[i] = math.Float32frombits(u)
	}
	return nil
}

func stream(dst io.Writer, d *decoder, lim Limits, h *head, tmpDir string) error {
	dim := h.dim
	row := make([]float32, dim)
	raw := make([]byte, 4*dim)
	nwords := len(h.words)
	if !h.cfg.Enabled() {
		// No n-grams: a word's vector is its row, written as it is read.
		cw, err := vectors.NewCompactWriter(dst, h.words, dim)
		if err != nil {
			d.section = "dictionary"
			return malformed("%v", err)
		}
		for i := range nwords {
			if err := d.row(row, raw, int64(i)*int64(dim)); err != nil {
				return err
			}
			if err := cw.WriteRow(row); err != nil {
				return wfail(err)
			}
		}
		if err := d.skip(int64(h.bucket) * int64(dim) * 4); err != nil {
			return err
		}
		if err := skipOutput(d, lim, int32(dim)); err != nil {
			return err
		}
		return wfail(cw.Close())
	}

	// Both matrices go to scratch files, checked as they pass.
	wf, err := scratch(tmpDir)
	if err != nil {
		return err
	}
	defer wf.Close()
	gf, err := scratch(tmpDir)
	if err != nil {
		return err
	}
	defer gf.Close()
	for _, part := range []struct {
		f    *os.File
		rows int
		base int64
	}{{wf, nwords, 0}, {gf, h.bucket, int64(nwords)}} {
		bw := bufio.NewWriterSize(part.f, 1<<20)
		for i := range part.rows {
			if err := d.row(row, raw, (part.base+int64(i))*int64(dim)); err != nil {
				return err
			}
			if _, err := bw.Write(raw); err != nil {
				return wfail(err)
			}
		}
		if err := bw.Flush(); err != nil {
			return wfail(err)
		}
	}
	if err := skipOutput(d, lim, int32(dim)); err != nil {
		return err
	}

	cw, err := vectors.NewCompactWriter(dst, h.words, dim)
	if err != nil {
		d.section = "dictionary"
		return malformed("%v", err)
	}
	grams := newRowCache(gf, dim)
	words := bufio.NewReaderSize(io.NewSectionReader(wf, 0, int64(nwords)*int64(4*dim)), 1<<20)
	var rows []int32
	var buf []byte
	for i, w := range h.words {
		if _, err := io.ReadFull(words, raw); err != nil {
			return wfail(err)
		}
		decode(row, raw)
		if w != EOS {
			rows, buf = h.cfg.Rows(rows[:0], []byte(w), buf)
		} else {
			rows = rows[:0]
		}
		if len(rows) > 0 {
			// As compose: summed in fastText's order, then scaled.
			for _, r := range rows {
				g, err := grams.row(int(r))
				if err != nil {
					return wfail(err)
				}
				for k := range row {
					row[k] += g[k]
				}
			}
			inv := float32(1 / float64(len(rows)+1))
			for k := range row {
				row[k] *= inv
			}
		}
		if err := cw.WriteRow(row); err != nil {
			return wfail(fmt.Errorf("row %d: %w", i, err))
		}
	}
	if err := cw.BeginSubwords(h.cfg); err != nil {
		return wfail(err)
	}
	gr := bufio.NewReaderSize(io.NewSectionReader(gf, 0, int64(h.bucket)*int64(4*dim)), 1<<20)
	for range h.bucket {
		if _, err := io.ReadFull(gr, raw); err != nil {
			return wfail(err)
		}
		decode(row, raw)
		if err := cw.WriteSubwordRow(row); err != nil {
			return wfail(err)
		}
	}
	return wfail(cw.Close())
}

// scratch creates a temporary file in dir and unlinks it at once: it
// lives until closed, and a killed process leaves nothing.
func scratch(dir string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "ophicleide-fasttext-*.tmp")
	if err != nil {
		return nil, wfail(err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		return nil, wfail(err)
	}
	return f, nil
}

func decode(dst []float32, raw []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
}

// rowCache reads n-gram rows from the scratch file, keeping the last
// rows read in a direct-mapped cache: the frequent n-grams (a word's
// "<th", "ing>") are met again and again, most of the others once.
type rowCache struct {
	f    *os.File
	dim  int
	tags []int32 // row+1 held by each slot, 0: none
	vals []float32
	raw  []byte
}

// cacheSlots bounds the cache: 4096 rows (4.7 MiB at dimension 300).
const cacheSlots = 4096

func newRowCache(f *os.File, dim int) *rowCache {
	return &rowCache{f: f, dim: dim, tags: make([]int32, cacheSlots), vals: make([]float32, cacheSlots*dim), raw: make([]byte, 4*dim)}
}

func (c *rowCache) row(r int) ([]float32, error) {
	slot := int(uint32(r)*2654435761>>20) % cacheSlots
	v := c.vals[slot*c.dim : (slot+1)*c.dim]
	if c.tags[slot] == int32(r+1) {
		return v, nil
	}
	if _, err := c.f.ReadAt(c.raw, int64(r)*int64(4*c.dim)); err != nil {
		return nil, err
	}
	decode(v, c.raw)
	c.tags[slot] = int32(r + 1)
	return v, nil
}
