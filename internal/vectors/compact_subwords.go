package vectors

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"unsafe"

	"github.com/ophicleide/ophicleide/internal/subword"
)

// The subword section of the Compact format (WriteCompact's layout only):
// a set with Subwords has, after its word list, zero bytes up to the next
// multiple of 8, then
//
//	"OPHSUB1\n"                     8 bytes
//	minn, maxn, bucket              3 little-endian uint64
//	bucket*dim float32              little-endian, row-major
//
// so that the n-gram rows, like the word rows, are aligned in a mapping
// and cost no copy when Load maps the file. A file without the section
// ends after its word list, as files written before it did.

var subwordMagic = []byte("OPHSUB1\n")

const subwordHeaderLen = 8 + 3*8

// maxSubwordN bounds minn and maxn in a file (fastText's own defaults are
// 3 and 6; the API allows 10).
const maxSubwordN = 1000

// subwordPad is the zero bytes after a word list that ends at offset end.
func subwordPad(end uint64) uint64 { return (8 - end%8) % 8 }

// writeSubwords writes s's subword section (nothing without Subwords);
// end is the offset the word list ended at.
func writeSubwords(w io.Writer, sw *Subwords, end uint64) {
	if sw == nil {
		return
	}
	hdr := make([]byte, subwordPad(end), subwordPad(end)+subwordHeaderLen)
	hdr = append(hdr, subwordMagic...)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(sw.Config.MinN))
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(sw.Config.MaxN))
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(sw.Config.Bucket))
	w.Write(hdr)
	var buf [4]byte
	for _, v := range sw.Rows {
		binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
		w.Write(buf[:])
	}
}

// checkSubwordsFinite refuses a subword row holding NaN or an infinity.
func checkSubwordsFinite(sw *Subwords, dim int) error {
	if sw == nil {
		return nil
	}
	for i, v := range sw.Rows {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("%w: subword row %d has a non-finite value %v", ErrInvalid, i/dim, v)
		}
	}
	return nil
}

// parseSubwordHeader checks the pad and header p (pad+32 bytes) of a
// section for vectors of dimension dim and returns its settings and the
// bytes of its rows.
func parseSubwordHeader(p []byte, pad, dim uint64) (subword.Config, uint64, error) {
	if uint64(len(p)) < pad+subwordHeaderLen {
		return subword.Config{}, 0, truncated("subword section header cut short")
	}
	for _, b := range p[:pad] {
		if b != 0 {
			return subword.Config{}, 0, malformed("data after the word list")
		}
	}
	h := p[pad:]
	if !bytes.HasPrefix(h, subwordMagic) {
		return subword.Config{}, 0, malformed("data after the word list")
	}
	minn, maxn := binary.LittleEndian.Uint64(h[8:]), binary.LittleEndian.Uint64(h[16:])
	bucket := binary.LittleEndian.Uint64(h[24:])
	switch {
	case minn < 1 || maxn < minn || maxn > maxSubwordN:
		return subword.Config{}, 0, malformed("subword n-gram lengths %d to %d out of range 1..%d", minn, maxn, maxSubwordN)
	case bucket < 1 || bucket > MaxValues/dim:
		return subword.Config{}, 0, malformed("%d subword rows of dimension %d exceed the limit of %d values", bucket, dim, MaxValues)
	}
	return subword.Config{MinN: int(minn), MaxN: int(maxn), Bucket: int(bucket)}, 4 * bucket * dim, nil
}

// readSubwords reads the section that may follow the word list, which
// ended at offset end, from r: none when r is at its end. size is the
// input's size (-1: unknown); without it the rows are read before they
// are allocated as floats, so memory follows the data present.
func readSubwords(r io.Reader, end, size int64, dim int) (*Subwords, error) {
	pad := subwordPad(uint64(end))
	p := make([]byte, pad+subwordHeaderLen)
	n, err := io.ReadFull(r, p)
	switch {
	case err == io.EOF:
		return nil, nil // no section
	case err == io.ErrUnexpectedEOF:
		// A cut section starts with zeros and a prefix of its magic;
		// anything else is not a section.
		got := p[:n]
		if !allZero(got[:min(uint64(n), pad)]) || (uint64(n) > pad && !bytes.HasPrefix(subwordMagic, got[pad:min(uint64(n), pad+8)])) {
			return nil, malformed("data after the word list")
		}
		return nil, truncated("subword section header cut short")
	case err != nil:
		return nil, err
	}
	cfg, rowBytes, err := parseSubwordHeader(p, pad, uint64(dim))
	if err != nil {
		return nil, err
	}
	if want := uint64(end) + pad + subwordHeaderLen + rowBytes; size >= 0 && uint64(size) != want {
		if uint64(size) > want {
			return nil, malformed("data after the subword rows")
		}
		return nil, truncated(fmt.Sprintf("file of %d bytes, subword section announces %d", size, want))
	}
	rows := make([]float32, 0)
	if size >= 0 {
		rows = make([]float32, rowBytes/4)
		raw := unsafe.Slice((*byte)(unsafe.Pointer(&rows[0])), rowBytes)
		if _, err := io.ReadFull(r, raw); err != nil {
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				err = truncated("subword rows shorter than their header announces")
			}
			return nil, err
		}
		if !littleEndian {
			for i := range rows {
				rows[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
	} else {
		data, err := io.ReadAll(io.LimitReader(r, int64(rowBytes)))
		if err != nil {
			return nil, err
		}
		if uint64(len(data)) < rowBytes {
			return nil, truncated("subword rows shorter than their header announces")
		}
		rows = make([]float32, rowBytes/4)
		for i := range rows {
			rows[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
		}
	}
	if _, err := io.ReadFull(r, make([]byte, 1)); err != io.EOF {
		if err == nil {
			err = malformed("data after the subword rows")
		}
		return nil, err
	}
	if hasNonFinite(rows) {
		return nil, malformed("a subword row holds a value that is not finite")
	}
	return &Subwords{Config: cfg, Rows: rows}, nil
}

// mappedSubwords is the section of a mapped file data whose word list
// ended at end: the rows are the mapping's (values are not checked
// here, which would read every page; WordVector refuses a non-finite
// result).
func mappedSubwords(data []byte, end uint64, dim int) (*Subwords, error) {
	if uint64(len(data)) == end {
		return nil, nil
	}
	pad := subwordPad(end)
	cfg, rowBytes, err := parseSubwordHeader(data[end:], pad, uint64(dim))
	if err != nil {
		return nil, err
	}
	start := end + pad + subwordHeaderLen
	if want := start + rowBytes; uint64(len(data)) > want {
		return nil, malformed("data after the subword rows")
	} else if uint64(len(data)) < want {
		return nil, truncated(fmt.Sprintf("file of %d bytes, subword section announces %d", len(data), want))
	}
	return &Subwords{Config: cfg, Rows: unsafe.Slice((*float32)(unsafe.Pointer(&data[start])), rowBytes/4)}, nil
}

func allZero(p []byte) bool {
	for _, b := range p {
		if b != 0 {
			return false
		}
	}
	return true
}
