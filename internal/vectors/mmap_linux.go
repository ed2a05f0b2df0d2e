package vectors

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mapMinBytes is the file size from which Load maps a Compact file: below
// it a read is as fast and holds no mapping.
const mapMinBytes = 1 << 20

// loadMapped maps f, of size bytes, if it is a Compact file, and builds a
// set on the mapping. ok is false if f is not Compact or cannot be mapped
// (the caller reads it instead); f's offset is then unchanged.
func loadMapped(f *os.File, size int64) (s *Set, ok bool, err error) {
	if !littleEndian || size != int64(int(size)) {
		return nil, false, nil
	}
	if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != 0 {
		return nil, false, nil
	}
	// The word rows are read whole when the set is built (their norms):
	// populate the mapping at once. A subword section after them (its
	// rows are often most of the file: 2M x 100 is 800 MB) is left to
	// fault in as unseen words touch their few rows.
	flags, words := unix.MAP_SHARED|unix.MAP_POPULATE, int64(0)
	var hdr [compactHeaderLen]byte
	if _, err := f.ReadAt(hdr[:], 0); err == nil && bytes.HasPrefix(hdr[:], compactMagic) {
		h := compactHeader{count: binary.LittleEndian.Uint64(hdr[8:]), dim: binary.LittleEndian.Uint64(hdr[16:]), wordsLen: binary.LittleEndian.Uint64(hdr[24:])}
		if h.check(size) == nil {
			if end := int64(compactHeaderLen + 4*h.count*h.dim + h.wordsLen); end < size {
				flags, words = unix.MAP_SHARED, end
			}
		}
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ, flags)
	if err != nil {
		return nil, false, nil
	}
	if words > 0 {
		// Errors are harmless: the pages then fault in when read.
		if unix.Madvise(data[:words], unix.MADV_POPULATE_READ) != nil {
			unix.Madvise(data[:words], unix.MADV_WILLNEED)
		}
	}
	if !IsCompact(data) {
		unix.Munmap(data)
		return nil, false, nil
	}
	s, err = mappedSet(data, size)
	if err != nil {
		unix.Munmap(data)
		return nil, true, err
	}
	s.mapped = true
	runtime.AddCleanup(s, func(b []byte) { unix.Munmap(b) }, data)
	return s, true, nil
}

// mappedSet builds a set whose matrix is data's (the header's offset keeps
// it aligned: mappings start on a page).
func mappedSet(data []byte, size int64) (*Set, error) {
	if len(data) < compactHeaderLen {
		return nil, compactError(0, truncated("header shorter than 32 bytes"))
	}
	h, err := parseCompactHeader(data[:compactHeaderLen], size)
	if err != nil {
		return nil, err
	}
	if h.streamed {
		if err := h.parseTrailer(data[len(data)-compactTrailerLen:], size); err != nil {
			return nil, err
		}
	}
	n, d := int(h.count), int(h.dim)
	var vecs []float32
	if n > 0 {
		vecs = unsafe.Slice((*float32)(unsafe.Pointer(&data[compactHeaderLen])), n*d)
	}
	words := data[compactHeaderLen+4*n*d:]
	s, err := compactSet(vecs, words[:h.wordsLen], n, d)
	if err != nil || h.streamed {
		return s, err
	}
	sw, err := mappedSubwords(data, uint64(compactHeaderLen+4*n*d)+h.wordsLen, d)
	if err != nil {
		return nil, compactError(n, err)
	}
	return s, attachSubwords(s, sw, n)
}
