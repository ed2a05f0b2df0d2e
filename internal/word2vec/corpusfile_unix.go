//go:build unix

package word2vec

import (
	"errors"
	"math"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// fileStoreSupported reports whether the corpus can be kept in a mapped
// file on this system.
const fileStoreSupported = true

// fileStore is the temporary file of a stored corpus. Its resources are
// released by close or, should an error path forget it, when the store
// becomes unreachable (a runtime cleanup): the mapping is only ever read
// through the tokenStore that holds this handle, so the handle is
// reachable while its slices are used.
type fileStore struct {
	res     *fileResources
	cleanup runtime.Cleanup
}

type fileResources struct {
	f    *os.File
	data []byte // the mapping, after mapIDs
}

func (r *fileResources) release() {
	if r.data != nil {
		unix.Munmap(r.data)
		r.data = nil
	}
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// createFileStore creates the corpus file in dir ("": os.TempDir) and
// unlinks it at once: the open descriptor keeps it, nothing on disk names
// it.
func createFileStore(dir string) (*fileStore, error) {
	f, err := os.CreateTemp(tempDir(dir), ".ophicleide-corpus-*")
	if err != nil {
		return nil, fileError("creating", err)
	}
	if err := os.Remove(f.Name()); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fileError("creating", err)
	}
	res := &fileResources{f: f}
	s := &fileStore{res: res}
	s.cleanup = runtime.AddCleanup(s, func(r *fileResources) { r.release() }, res)
	return s, nil
}

// write writes ids at the position of id number at. A write that the disk
// cannot hold fails here, with ENOSPC (a *DiskSpaceError), not later as a
// fault on the mapping: every page is written before it is mapped.
func (s *fileStore) write(ids []int32, at int64) error {
	if len(ids) == 0 {
		return nil
	}
	b := unsafe.Slice((*byte)(unsafe.Pointer(&ids[0])), len(ids)*4)
	if _, err := s.res.f.WriteAt(b, at*4); err != nil {
		return fileError("writing", err)
	}
	return nil
}

// mapIDs maps the file's first n ids, shared and writable (finish
// compacts them in place; the pages were all written, so writing them
// again needs no new disk space).
func (s *fileStore) mapIDs(n int64) ([]int32, error) {
	if n == 0 {
		return nil, nil
	}
	if n > math.MaxInt/4 {
		return nil, &CorpusFileError{Op: "mapping", Err: errors.New("the corpus is too large to map on this system")}
	}
	data, err := unix.Mmap(int(s.res.f.Fd()), 0, int(n*4), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fileError("mapping", err)
	}
	s.res.data = data
	return unsafe.Slice((*int32)(unsafe.Pointer(&data[0])), n), nil
}

// close unmaps and closes the file, which frees its space.
func (s *fileStore) close() {
	s.cleanup.Stop()
	s.res.release()
}
