//go:build !unix

package word2vec

import "errors"

// fileStoreSupported is false: on this system the corpus stays in memory
// and the memory limit is a *MemoryError.
const fileStoreSupported = false

type fileStore struct{}

var errNoFileStore = &CorpusFileError{Op: "creating", Err: errors.New("not supported on this system")}

func createFileStore(string) (*fileStore, error) { return nil, errNoFileStore }
func (*fileStore) write([]int32, int64) error    { return errNoFileStore }
func (*fileStore) mapIDs(int64) ([]int32, error) { return nil, errNoFileStore }
func (*fileStore) close()                        {}
