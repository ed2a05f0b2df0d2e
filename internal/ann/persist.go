package ann

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"unsafe"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

// The file layout, little-endian throughout, every array 4-byte aligned
// (so a mapping of the file serves them in place):
//
//	 0  magic "OPHHNSW\n"
//	 8  version          uint32 (1)
//	12  M                uint32, in [2, MaxM]
//	16  M0               uint32, 2*M (links a row keeps on layer 0)
//	20  levels           uint32, in [1, 32]: layers, layer 0 included
//	24  entry            uint32, a row of the top layer
//	28  ef               uint32, in [1, MaxEf]: Search's default width
//	32  rows             uint64, the set's Len
//	40  dim              uint64, the set's Dim
//	48  fingerprint      uint64, the set's Fingerprint
//	56  body CRC-32C     uint32, of every byte after the header
//	60  header CRC-32C   uint32, of bytes 0-59
//	64  counts           uint32 x (levels-1): rows on layers 1..levels-1,
//	                     each at most the one below (and at least 1)
//	    layer 0 links    uint32 x rows*M0, row by row, noLink (2^32-1)
//	                     filling unused places
//	    per upper layer  uint32 x count: its rows, ascending, each on the
//	                     layer below; then uint32 x count*M: their links,
//	                     rows of the same layer or noLink
//
// and nothing after.
const (
	headerLen   = 64
	fileVersion = 1
)

var magic = [8]byte{'O', 'P', 'H', 'H', 'N', 'S', 'W', '\n'}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// WriteTo writes the index to w in the layout above. It returns the bytes
// written and the first error of w.
func (ix *Index) WriteTo(w io.Writer) (int64, error) {
	counts := make([]uint32, len(ix.upper))
	for i, l := range ix.upper {
		counts[i] = uint32(len(l.ids))
	}
	sections := [][]uint32{counts, ix.level0}
	for _, l := range ix.upper {
		sections = append(sections, l.ids, l.links)
	}
	var body uint32
	for _, s := range sections {
		body = crc32.Update(body, castagnoli, u32Bytes(s))
	}
	hdr := ix.header(body)
	bw := bufio.NewWriterSize(w, 1<<20)
	n, err := bw.Write(hdr[:])
	total := int64(n)
	if err != nil {
		return total, fmt.Errorf("ann: writing index: %w", err)
	}
	for _, s := range sections {
		n, err := bw.Write(u32Bytes(s))
		total += int64(n)
		if err != nil {
			return total, fmt.Errorf("ann: writing index: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return total, fmt.Errorf("ann: writing index: %w", err)
	}
	return total, nil
}

func (ix *Index) header(bodyCRC uint32) [headerLen]byte {
	var h [headerLen]byte
	le := binary.LittleEndian
	copy(h[:8], magic[:])
	le.PutUint32(h[8:], fileVersion)
	le.PutUint32(h[12:], uint32(ix.m))
	le.PutUint32(h[16:], uint32(ix.m0))
	le.PutUint32(h[20:], uint32(1+len(ix.upper)))
	le.PutUint32(h[24:], ix.entry)
	le.PutUint32(h[28:], uint32(ix.ef))
	le.PutUint64(h[32:], uint64(ix.rows))
	le.PutUint64(h[40:], uint64(ix.dim))
	le.PutUint64(h[48:], ix.fingerprint)
	le.PutUint32(h[56:], bodyCRC)
	le.PutUint32(h[60:], crc32.Checksum(h[:60], castagnoli))
	return h
}

// u32Bytes is v's values as little-endian bytes: a view on little-endian
// hosts, a copy elsewhere.
func u32Bytes(v []uint32) []byte {
	if len(v) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(&v[0])), 4*len(v))
	}
	out := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(out[4*i:], x)
	}
	return out
}

var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// fileHeader is a parsed header.
type fileHeader struct {
	m, m0, levels, ef int
	entry             uint32
	rows, dim         int
	fingerprint       uint64
	bodyCRC           uint32
}

// Load reads an index written by WriteTo for set. From an *os.File at
// offset 0 on Linux (little-endian), it maps the file instead of reading
// it, and the index holds the mapping until it becomes unreachable (the
// file must then not be truncated or rewritten in place; stores write new
// files and rename them).
//
// It checks everything before answering: the header's bounds, that the
// rows, dimension and fingerprint are set's (else an error wrapping
// ErrMismatch), the file's exact length (computed from the header's
// counts, themselves bounded by set's rows, before anything is allocated),
// both checksums and every link (else ErrFormat). Load costs a pass over
// the file and one Fingerprint of set.
func Load(r io.Reader, set *vectors.Set) (*Index, error) {
	if f, ok := r.(*os.File); ok && littleEndian {
		if ix, ok, err := loadMapped(f, set); ok {
			return ix, err
		}
	}
	var hb [headerLen]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return nil, formatError("header: %v", err)
	}
	h, err := parseHeader(hb[:], set)
	if err != nil {
		return nil, err
	}
	var cb [4 * maxLevels]byte
	countsLen := 4 * (h.levels - 1)
	if _, err := io.ReadFull(r, cb[:countsLen]); err != nil {
		return nil, formatError("layer sizes: %v", err)
	}
	counts, size, err := h.counts(cb[:countsLen])
	if err != nil {
		return nil, err
	}
	// size is bounded by the set's rows: at most rows*(M0 + levels*(M+1))
	// values, the memory of the real graph.
	body := make([]uint32, (size-headerLen)/4)
	bb := u32Bytes(body)
	if !littleEndian {
		bb = make([]byte, size-headerLen)
	}
	copy(bb, cb[:countsLen])
	if _, err := io.ReadFull(r, bb[countsLen:]); err != nil {
		return nil, formatError("truncated: %v", err)
	}
	if n, _ := io.ReadFull(r, make([]byte, 1)); n != 0 {
		return nil, formatError("data after the index")
	}
	if !littleEndian {
		for i := range body {
			body[i] = binary.LittleEndian.Uint32(bb[4*i:])
		}
	}
	return assemble(h, counts, bb, body, set)
}

// assemble checks the body (raw bytes and the same as uint32s) and builds
// the index on it.
func assemble(h fileHeader, counts []int, raw []byte, body []uint32, set *vectors.Set) (*Index, error) {
	if crc32.Checksum(raw, castagnoli) != h.bodyCRC {
		return nil, formatError("checksum mismatch")
	}
	ix := &Index{set: set, rows: h.rows, dim: h.dim, m: h.m, m0: h.m0, ef: h.ef, entry: h.entry, fingerprint: h.fingerprint, upperEf: defaultUpperEf}
	off := len(counts)
	ix.level0 = body[off : off+h.rows*h.m0 : off+h.rows*h.m0]
	off += h.rows * h.m0
	for _, c := range counts {
		ids := body[off : off+c : off+c]
		off += c
		links := body[off : off+c*h.m : off+c*h.m]
		off += c * h.m
		ix.upper = append(ix.upper, layer{ids: ids, links: links})
	}
	if err := ix.check(); err != nil {
		return nil, err
	}
	return ix, nil
}

// check verifies every link of an index from a file, so that a walk can
// never index outside its arrays.
func (ix *Index) check() error {
	for _, y := range ix.level0 {
		if y != noLink && int(y) >= ix.rows {
			return formatError("layer 0 links to row %d of %d", y, ix.rows)
		}
	}
	below := (*layer)(nil)
	for i := range ix.upper {
		l := &ix.upper[i]
		for j, id := range l.ids {
			if int(id) >= ix.rows || (j > 0 && id <= l.ids[j-1]) {
				return formatError("layer %d rows not ascending rows of the set", i+1)
			}
			if below != nil && below.pos(id) < 0 {
				return formatError("layer %d holds row %d, absent below", i+1, id)
			}
		}
		for _, y := range l.links {
			if y != noLink && l.pos(y) < 0 {
				return formatError("layer %d links to row %d, absent from it", i+1, y)
			}
		}
		below = l
	}
	if len(ix.upper) == 0 {
		if int(ix.entry) >= ix.rows {
			return formatError("entry row %d of %d", ix.entry, ix.rows)
		}
	} else if ix.upper[len(ix.upper)-1].pos(ix.entry) < 0 {
		return formatError("entry row %d not on the top layer", ix.entry)
	}
	return nil
}

// parseHeader checks a header against its own checksum, the bounds and
// set.
func parseHeader(b []byte, set *vectors.Set) (fileHeader, error) {
	le := binary.LittleEndian
	var h fileHeader
	if [8]byte(b[:8]) != magic {
		return h, formatError("not an index file")
	}
	if crc32.Checksum(b[:60], castagnoli) != le.Uint32(b[60:]) {
		return h, formatError("header checksum mismatch")
	}
	if v := le.Uint32(b[8:]); v != fileVersion {
		return h, formatError("version %d, want %d", v, fileVersion)
	}
	m, m0, levels, ef := le.Uint32(b[12:]), le.Uint32(b[16:]), le.Uint32(b[20:]), le.Uint32(b[28:])
	rows, dim := le.Uint64(b[32:]), le.Uint64(b[40:])
	switch {
	case m < 2 || m > MaxM || m0 != 2*m:
		return h, formatError("links per row %d/%d", m, m0)
	case levels < 1 || levels > maxLevels:
		return h, formatError("%d layers", levels)
	case ef < 1 || ef > MaxEf:
		return h, formatError("ef %d", ef)
	case rows < 1 || rows > MaxRow:
		return h, formatError("%d rows", rows)
	}
	h = fileHeader{m: int(m), m0: int(m0), levels: int(levels), ef: int(ef), entry: le.Uint32(b[24:]),
		rows: int(rows), dim: int(dim), fingerprint: le.Uint64(b[48:]), bodyCRC: le.Uint32(b[56:])}
	if rows != uint64(set.Len()) || dim != uint64(set.Dim()) {
		return h, fmt.Errorf("%w: %d x %d, the set is %d x %d", ErrMismatch, rows, dim, set.Len(), set.Dim())
	}
	if h.fingerprint != set.Fingerprint() {
		return h, fmt.Errorf("%w: the set's contents differ", ErrMismatch)
	}
	return h, nil
}

// counts parses the layer sizes (b: 4*(levels-1) bytes) and returns them
// with the file's size, or an error if they are out of bounds.
func (h fileHeader) counts(b []byte) ([]int, int, error) {
	counts := make([]int, h.levels-1)
	size := headerLen + len(b) + 4*h.rows*h.m0
	prev := h.rows
	for i := range counts {
		c := int(binary.LittleEndian.Uint32(b[4*i:]))
		if c < 1 || c > prev {
			return nil, 0, formatError("layer %d holds %d rows, %d below", i+1, c, prev)
		}
		counts[i], prev = c, c
		size += 4 * c * (1 + h.m)
	}
	return counts, size, nil
}

func formatError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrFormat, fmt.Sprintf(format, args...))
}
