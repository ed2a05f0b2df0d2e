//go:build unix

package auth

import (
	"os"
	"syscall"
)

// inode returns the device and inode numbers of fi's file.
func inode(fi os.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), uint64(st.Ino)
	}
	return 0, 0
}
