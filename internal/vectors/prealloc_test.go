package vectors

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// TestFileSizeBoundsPreallocation: from a file, the matrix is allocated
// once when the file can hold what the header announces, and a lying
// header still cannot make the reader allocate more than the file holds.
func TestFileSizeBoundsPreallocation(t *testing.T) {
	dir := t.TempDir()
	var good bytes.Buffer
	if err := WriteBinary(&good, randomSet(t, 2000, 50, 1)); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "good.bin")
	os.WriteFile(path, good.Bytes(), 0o644)
	f, _ := os.Open(path)
	s, err := ReadBinary(f)
	f.Close()
	if err != nil || s.Len() != 2000 {
		t.Fatalf("reading a good file: %v", err)
	}

	// The header claims 10^6 x 100 values (400 MB); the file holds one row.
	lying := append([]byte("1000000 100\nw "), make([]byte, 400)...)
	path = filepath.Join(dir, "lying.bin")
	os.WriteFile(path, append(lying, '\n'), 0o644)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f, _ = os.Open(path)
	_, err = ReadBinary(f)
	f.Close()
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("a truncated file was accepted")
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("a lying header made the reader allocate %d MB", grew>>20)
	}
}
