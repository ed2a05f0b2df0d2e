package fasttext

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/subword"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// checkStream checks Stream against Read on data: both accept it or both
// refuse it (the same kind of error, an *Error), what Stream wrote loads
// as the set Read returns, bit for bit, and no scratch file is left.
func checkStream(t *testing.T, data []byte, lim Limits) {
	t.Helper()
	want, wmeta, rerr := Read(bytes.NewReader(data), lim)
	tmp := t.TempDir()
	var out bytes.Buffer
	meta, n, dim, sw, err := Stream(&out, bytes.NewReader(data), StreamOptions{Limits: lim, TempDir: tmp})
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Fatalf("scratch files left: %v", left)
	}
	if (err == nil) != (rerr == nil) {
		t.Fatalf("Stream: %v; Read: %v", err, rerr)
	}
	if err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			t.Fatalf("Stream error %T %v is not an *Error", err, err)
		}
		for _, kind := range []error{ErrMalformed, ErrUnsupported} {
			if errors.Is(err, kind) != errors.Is(rerr, kind) {
				t.Fatalf("Stream: %v; Read: %v", err, rerr)
			}
		}
		return
	}
	if n != want.Len() || dim != want.Dim() || fmt.Sprint(meta) != fmt.Sprint(wmeta) {
		t.Fatalf("Stream: %d words of dim %d, %+v; Read: %d of %d, %+v", n, dim, meta, want.Len(), want.Dim(), wmeta)
	}
	got, err := vectors.Load(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatalf("Load of the streamed file: %v", err)
	}
	sameSet(t, got, want)
	if (sw != subword.Config{}) != (want.Subwords() != nil) || want.Subwords() != nil && sw != want.Subwords().Config {
		t.Fatalf("Stream's subwords %+v, Read's %+v", sw, want.Subwords())
	}
	// The file is the one WriteCompact writes of the same set.
	var wc bytes.Buffer
	if err := vectors.WriteCompact(&wc, want); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(wc.Bytes(), out.Bytes()) {
		t.Fatalf("streamed %d bytes differ from WriteCompact's %d", out.Len(), wc.Len())
	}
}

func sameSet(t *testing.T, got, want *vectors.Set) {
	t.Helper()
	if got.Len() != want.Len() || got.Dim() != want.Dim() {
		t.Fatalf("%d x %d, want %d x %d", got.Len(), got.Dim(), want.Len(), want.Dim())
	}
	for i := range want.Len() {
		if got.Word(i) != want.Word(i) {
			t.Fatalf("word %d %q, want %q", i, got.Word(i), want.Word(i))
		}
		g, w := got.Row(i), want.Row(i)
		for k := range w {
			if math.Float32bits(g[k]) != math.Float32bits(w[k]) {
				t.Fatalf("row %d (%q) value %d: %v, want %v", i, want.Word(i), k, g[k], w[k])
			}
		}
	}
	gs, ws := got.Subwords(), want.Subwords()
	if (gs == nil) != (ws == nil) {
		t.Fatalf("subwords %v, want %v", gs != nil, ws != nil)
	}
	if ws != nil && (gs.Config != ws.Config || !slicesEqualBits(gs.Rows, ws.Rows)) {
		t.Fatalf("subword rows differ")
	}
}

func slicesEqualBits(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// TestStreamAsRead: models with and without n-grams, every truncation of
// one, and the hostile headers of TestMalformed stream as Read reads them.
func TestStreamAsRead(t *testing.T) {
	cfg := subword.Config{MinN: 2, MaxN: 4, Bucket: 50}
	withGrams := writeBin(t, randomSet(t, testWords, 3, cfg, 4), nil)
	checkStream(t, withGrams, Limits{})
	checkStream(t, writeBin(t, randomSet(t, testWords, 5, subword.Config{}, 5), nil), Limits{})
	checkStream(t, writeBin(t, randomSet(t, testWords, 8, subword.Config{MinN: 3, MaxN: 6, Bucket: 1000}, 1), nil), Limits{})
	for n := 0; n < len(withGrams); n++ {
		checkStream(t, withGrams[:n], Limits{})
	}
	checkStream(t, withGrams, Limits{MaxWords: 3})
	checkStream(t, withGrams, Limits{MaxValues: 10})

	args := DefaultArgs(3)
	args.Bucket, args.MinN, args.MaxN = 50, 2, 4
	dictStart := len(header(args, 0, 0, 0, 0, 0))
	quantOff := bytes.Index(withGrams[dictStart:], []byte("x\x00")) + dictStart + 2 + 8 + 1
	nan := bytes.Clone(withGrams)
	binary.LittleEndian.PutUint32(nan[quantOff+17:], 0x7fc00000)
	lateNaN := bytes.Clone(withGrams) // in the n-gram rows
	binary.LittleEndian.PutUint32(lateNaN[quantOff+17+4*3*len(testWords)+8:], 0x7f800000)
	dup := bytes.Clone(withGrams)
	i := bytes.Index(dup, []byte("bingley\x00"))
	copy(dup[i:], "darcy\x00\x00\x00")
	quant := bytes.Clone(withGrams)
	quant[quantOff] = 1
	for _, data := range [][]byte{nan, lateNaN, dup, quant,
		header(args, math.MaxInt32, math.MaxInt32, 0, 1, -1),
		header(args, 20_000_000, 20_000_000, 0, 1, -1),
		append(withGrams, "trailing bytes are not read"...),
	} {
		checkStream(t, data, Limits{})
	}
}

// TestStreamHugeDeclaredMatrix: 2M buckets of dimension 1000 declared
// over a few bytes fail at once, without allocating them or filling the
// scratch files.
func TestStreamHugeDeclaredMatrix(t *testing.T) {
	args := DefaultArgs(1000)
	args.Bucket = 2_000_000
	b := header(args, 1, 1, 0, 1, -1)
	b = append(b, "a\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00"...)
	b = append(b, 0)
	b = binary.LittleEndian.AppendUint64(b, 2_000_001)
	b = binary.LittleEndian.AppendUint64(b, 1000)
	b = append(b, make([]byte, 4000)...)
	var ms1, ms2 runtime.MemStats
	runtime.ReadMemStats(&ms1)
	var out bytes.Buffer
	if _, _, _, _, err := Stream(&out, bytes.NewReader(b), StreamOptions{TempDir: t.TempDir()}); !errors.Is(err, ErrMalformed) {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&ms2)
	if d := ms2.TotalAlloc - ms1.TotalAlloc; d > 16<<20 {
		t.Fatalf("allocated %d bytes for a %d-byte input", d, len(b))
	}
}

// TestStreamBoundedMemory streams a 36 MB model (10k words, 80k buckets
// of dimension 100) and checks that the heap never grew by a quarter of
// it: Read holds both matrices.
func TestStreamBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 36 MB model")
	}
	words := make([]string, 10_000)
	words[0] = EOS
	for i := 1; i < len(words); i++ {
		words[i] = fmt.Sprintf("word%d", i)
	}
	data := writeBin(t, randomSet(t, words, 100, subword.Config{MinN: 3, MaxN: 6, Bucket: 80_000}, 9), nil)
	runtime.GC()
	base := heapObjects()
	stop := heapPeak()
	start := time.Now()
	var out countWriter
	_, n, _, _, err := Stream(&out, bytes.NewReader(data), StreamOptions{TempDir: t.TempDir()})
	took := time.Since(start)
	peak := stop()
	if err != nil || n != len(words) {
		t.Fatalf("Stream: %d words, %v", n, err)
	}
	grew := int64(peak) - int64(base)
	t.Logf("model %.1f MiB, output %.1f MiB in %v, heap grew by %.1f MiB at most", float64(len(data))/(1<<20), float64(out.n)/(1<<20), took, float64(grew)/(1<<20))
	if grew > int64(len(data))/4 {
		t.Errorf("the heap grew by %d bytes streaming a %d-byte model", grew, len(data))
	}
}

type countWriter struct{ n int64 }

func (w *countWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func heapObjects() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapPeak samples the heap every millisecond until stop, which returns
// the largest sample.
func heapPeak() (stop func() uint64) {
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			peak = max(peak, heapObjects())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 { close(done); wg.Wait(); return peak }
}

func FuzzStream(f *testing.F) {
	cfg := subword.Config{MinN: 2, MaxN: 3, Bucket: 7}
	f.Add(writeBin(f, randomSet(f, testWords[:4], 2, cfg, 5), nil))
	f.Add(writeBin(f, randomSet(f, testWords[:3], 1, subword.Config{}, 6), nil))
	f.Add(header(DefaultArgs(2), 1, 1, 0, 1, -1))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkStream(t, data, Limits{MaxDim: 64, MaxWords: 1000, MaxBucket: 1000, MaxValues: 1 << 16})
	})
}
