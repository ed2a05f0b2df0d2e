package main

// Imports and conversions of files larger than the memory the process is
// given: the real binary, GOMEMLIMIT=64MiB, files of 120 to 250 MB, and
// the process's anonymous memory (RssAnon: the heap, not the page cache
// of a mapped model) sampled every 5 ms. Set OPH_BIG_IMPORT=1 to run
// them (about 30 s and 700 MB of temporary files).

import (
	"bufio"
	enc "encoding/binary"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/fasttext"
	"github.com/ophicleide/ophicleide/internal/subword"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// bigMemLimit is the memory the processes are given (GOMEMLIMIT), and
// bigRSSBound the anonymous memory they must stay under: far below every
// file imported.
const (
	bigMemLimit = "64MiB"
	bigRSSBound = 100 << 20
)

func bigImports(t *testing.T) string {
	t.Helper()
	if os.Getenv("OPH_BIG_IMPORT") == "" {
		t.Skip("set OPH_BIG_IMPORT=1: imports files of 120-250 MB")
	}
	return binary(t)
}

// writeWord2Vec writes words x dim random normal values in format f.
func writeWord2Vec(t *testing.T, path string, f vectors.Format, words, dim int) int64 {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	fmt.Fprintf(w, "%d %d\n", words, dim)
	rng := rand.New(rand.NewPCG(1, 2))
	num := make([]byte, 0, 32)
	for i := range words {
		fmt.Fprintf(w, "w%d", i)
		if f == vectors.Binary {
			w.WriteByte(' ')
		}
		for range dim {
			v := float32(rng.NormFloat64())
			if f == vectors.Binary {
				enc.Write(w, enc.LittleEndian, math.Float32bits(v))
			} else {
				num = strconv.AppendFloat(append(num[:0], ' '), float64(v), 'f', 6, 32)
				w.Write(num)
			}
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, _ := out.Stat()
	return fi.Size()
}

// writeFastText writes a fastText .bin model of words x dim with bucket
// n-gram rows.
func writeFastText(t *testing.T, path string, words, bucket, dim int) int64 {
	t.Helper()
	list := make([]string, words)
	list[0] = fasttext.EOS
	for i := 1; i < words; i++ {
		list[i] = fmt.Sprintf("word%d", i)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	vecs := make([]float32, words*dim)
	for i := range vecs {
		vecs[i] = rng.Float32() - 0.5
	}
	s, err := vectors.New(list, dim, vecs)
	if err != nil {
		t.Fatal(err)
	}
	grams := make([]float32, bucket*dim)
	for i := range grams {
		grams[i] = rng.Float32() - 0.5
	}
	if err := s.SetSubwords(&vectors.Subwords{Config: subword.Config{MinN: 3, MaxN: 6, Bucket: bucket}, Rows: grams}); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	w := bufio.NewWriterSize(out, 1<<20)
	if err := fasttext.Write(w, s, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, _ := out.Stat()
	return fi.Size()
}

// sampleAnon samples RssAnon of pid every 5 ms until stop, which returns
// the largest sample in bytes.
func sampleAnon(pid int) (stop func() int64) { return sampleStatus(pid, "RssAnon") }

// sampleStatus samples a kB field of /proc/PID/status every 5 ms until
// stop, which returns the largest sample in bytes. (Not the rusage of the
// child: its maxrss counts the parent's pages shared until exec.)
func sampleStatus(pid int, field string) (stop func() int64) {
	var peak int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
				for line := range strings.Lines(string(b)) {
					if rest, ok := strings.CutPrefix(line, field+":"); ok {
						kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
						peak = max(peak, kb<<10)
					}
				}
			}
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	})
	return func() int64 { close(done); wg.Wait(); return peak }
}

func statusKB(t *testing.T, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// TestBigImportBoundedMemory imports a 242 MB binary file (200k x 300), a
// 171 MB text file (60k x 300) and a 133 MB fastText model (10k words,
// 100k buckets x 300) into `serve` given GOMEMLIMIT=64MiB: each is ready
// with every word, and the server's anonymous memory stays under 100 MiB
// throughout, import and evaluation included (reading any of them whole
// would hold its matrix: 240, 72 and 132 MB).
func TestBigImportBoundedMemory(t *testing.T) {
	bin := bigImports(t)
	dir := t.TempDir()
	for _, c := range []struct {
		name          string
		write         func(path string) int64
		words         int
		fastTextModel bool
	}{
		{"binary-200kx300", func(p string) int64 { return writeWord2Vec(t, p, vectors.Binary, 200_000, 300) }, 200_000, false},
		{"text-60kx300", func(p string) int64 { return writeWord2Vec(t, p, vectors.Text, 60_000, 300) }, 60_000, false},
		{"fasttext-10k+100kx300", func(p string) int64 { return writeFastText(t, p, 10_000, 100_000, 300) }, 10_000, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, c.name)
			size := c.write(path)
			defer os.Remove(path)
			p := startProcEnv(t, bin, []string{"GOMEMLIMIT=" + bigMemLimit, "TMPDIR=" + t.TempDir()}, "serve", "--data-dir", t.TempDir(), "--workers", "0")
			stop := sampleAnon(p.cmd.Process.Pid)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			start := time.Now()
			resp, err := http.Post(p.base+"/models/import?name="+c.name, "application/octet-stream", f)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			took := time.Since(start)
			peak := stop()
			hwm := statusKB(t, p.cmd.Process.Pid, "VmHWM")
			if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"status":"ready"`) || !strings.Contains(string(body), fmt.Sprintf(`"vocabSize":%d`, c.words)) {
				t.Fatalf("import: %d %.300s", resp.StatusCode, body)
			}
			t.Logf("%s: %.1f MB in %v; RssAnon peak %.1f MiB, VmHWM %.1f MiB (with the mapped model the evaluation reads)",
				c.name, float64(size)/1e6, took.Round(time.Millisecond), float64(peak)/(1<<20), float64(hwm)/1024)
			if peak > bigRSSBound || peak > size/2 {
				t.Errorf("anonymous memory reached %.1f MiB importing a %.1f MB file (bound %d MiB)", float64(peak)/(1<<20), float64(size)/1e6, bigRSSBound>>20)
			}
		})
	}
}

// TestBigConvertBoundedMemory converts the same 242 MB binary file to
// text and a 144 MB fastText model to binary with GOMEMLIMIT=64MiB: the
// command's resident set (VmRSS, mapped files included) stays under
// 100 MiB for the word2vec conversion; the fastText one maps the Compact
// file it streamed to, so its anonymous memory is what is bounded.
func TestBigConvertBoundedMemory(t *testing.T) {
	bin := bigImports(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "in.bin")
	size := writeWord2Vec(t, src, vectors.Binary, 200_000, 300)
	out := filepath.Join(dir, "out.txt")
	cmd := exec.Command(bin, "convert", "--input", src, "--output", out, "--quiet")
	cmd.Env = append(os.Environ(), "GOMEMLIMIT="+bigMemLimit, "TMPDIR="+dir)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopRSS := sampleStatus(cmd.Process.Pid, "VmRSS")
	err := cmd.Wait()
	maxRSS := stopRSS()
	if err != nil {
		t.Fatalf("convert: %v", err)
	}
	t.Logf("convert binary to text, %.1f MB: %v, max RSS %.1f MiB", float64(size)/1e6, time.Since(start).Round(time.Millisecond), float64(maxRSS)/(1<<20))
	if maxRSS > bigRSSBound {
		t.Errorf("convert reached %.1f MiB of RSS for a %.1f MB file", float64(maxRSS)/(1<<20), float64(size)/1e6)
	}
	set, err := vectors.Load(mustOpenFile(t, out))
	if err != nil || set.Len() != 200_000 || set.Dim() != 300 {
		t.Fatalf("converted: %v, %v", set, err)
	}
	set = nil
	os.Remove(out)

	ft := filepath.Join(dir, "in.ftbin")
	ftSize := writeFastText(t, ft, 10_000, 100_000, 300)
	cmd = exec.Command(bin, "convert", "--input", ft, "--output", filepath.Join(dir, "ft.bin"), "--quiet")
	cmd.Env = append(os.Environ(), "GOMEMLIMIT="+bigMemLimit, "TMPDIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stop := sampleAnon(cmd.Process.Pid)
	err = cmd.Wait()
	peak := stop()
	if err != nil {
		t.Fatalf("convert fastText: %v", err)
	}
	t.Logf("convert fastText to binary, %.1f MB: RssAnon peak %.1f MiB", float64(ftSize)/1e6, float64(peak)/(1<<20))
	if peak > bigRSSBound {
		t.Errorf("convert of a fastText model reached %.1f MiB of anonymous memory", float64(peak)/(1<<20))
	}
	// No scratch file is left in TMPDIR: in.bin, in.ftbin, ft.bin only.
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 3 {
		t.Errorf("files in the directory after convert: %v", names)
	}
}

func mustOpenFile(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}
