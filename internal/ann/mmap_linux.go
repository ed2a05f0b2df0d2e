package ann

import (
	"io"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

// loadMapped maps f and builds the index on the mapping. ok is false when
// f cannot be mapped (not at offset 0, not a regular file, too small to
// hold a header): the caller reads it instead, from where it was.
func loadMapped(f *os.File, set *vectors.Set) (ix *Index, ok bool, err error) {
	if off, err := f.Seek(0, io.SeekCurrent); err != nil || off != 0 {
		return nil, false, nil
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() < headerLen || fi.Size() != int64(int(fi.Size())) {
		return nil, false, nil
	}
	size := int(fi.Size())
	var hb [headerLen]byte
	if _, err := f.ReadAt(hb[:], 0); err != nil {
		return nil, true, formatError("header: %v", err)
	}
	h, err := parseHeader(hb[:], set)
	if err != nil {
		return nil, true, err
	}
	countsLen := 4 * (h.levels - 1)
	if size < headerLen+countsLen {
		return nil, true, formatError("truncated")
	}
	var cb [4 * maxLevels]byte
	if _, err := f.ReadAt(cb[:countsLen], headerLen); err != nil {
		return nil, true, formatError("layer sizes: %v", err)
	}
	_, want, err := h.counts(cb[:countsLen])
	if err != nil {
		return nil, true, err
	}
	if size != want {
		return nil, true, formatError("%d bytes, the header says %d", size, want)
	}
	data, err := unix.Mmap(int(f.Fd()), 0, size, unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, false, nil
	}
	// Parse again what the mapping holds: the file may have changed since.
	counts, again, err := h.counts(data[headerLen : headerLen+countsLen])
	if err != nil || again != size {
		unix.Munmap(data)
		return nil, true, formatError("changed while loading")
	}
	raw := data[headerLen:]
	body := unsafe.Slice((*uint32)(unsafe.Pointer(&raw[0])), len(raw)/4)
	ix, err = assemble(h, counts, raw, body, set)
	if err != nil {
		unix.Munmap(data)
		return nil, true, err
	}
	ix.mapped = true
	runtime.AddCleanup(ix, func(b []byte) { unix.Munmap(b) }, data)
	return ix, true, nil
}
