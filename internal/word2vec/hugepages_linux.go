package word2vec

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// hugePage is the size of a transparent huge page on amd64 and arm64.
const hugePage = 2 << 20

// adviseHugePages asks the kernel to back the whole 2 MiB pages inside w
// with transparent huge pages (MADV_HUGEPAGE; a hint, ignored where THP is
// off). Training reads and writes rows all over the matrices: with 4 KiB
// pages nearly every row is a TLB miss once the matrices pass a few MiB.
// Call it before w is first written, so that its pages fault in huge.
func adviseHugePages(w []float32) {
	if len(w)*4 < 2*hugePage {
		return
	}
	p := unsafe.Pointer(unsafe.SliceData(w))
	start := uintptr(p)
	end := start + uintptr(len(w))*4
	lo := (start + hugePage - 1) &^ (hugePage - 1)
	hi := end &^ (hugePage - 1)
	if hi <= lo {
		return
	}
	b := unsafe.Slice((*byte)(unsafe.Add(p, lo-start)), hi-lo)
	_ = unix.Madvise(b, unix.MADV_HUGEPAGE)
}
