package http_test

// POST /models/import through the real HTTP handler and the real embedded
// store: imports stream, hostile files are refused with a readable 400.
// (The streaming itself is vectors.StreamCompact.)

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	ophttp "github.com/ophicleide/ophicleide/internal/http"
	"github.com/ophicleide/ophicleide/internal/service"
	"github.com/ophicleide/ophicleide/internal/trainer/native"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// importServer is a real API server on a real embedded store in a temp
// directory.
type importServer struct {
	url string
	dir string // the store's directory
}

func newImportServer(t testing.TB) *importServer {
	return newImportServerWith(t, service.Config{}, 0)
}

// newImportServerWith is newImportServer with cfg's limits and progress
// interval, behind ophttp.Deadlines when idle > 0.
func newImportServerWith(t testing.TB, cfg service.Config, idle time.Duration) *importServer {
	t.Helper()
	dir := t.TempDir()
	store, err := bolt.Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Wake, cfg.Validate = func() {}, native.Validate
	models, queries := service.New(store, 64<<20, cfg)
	var api http.Handler = ophttp.NewServer(models, queries, slog.New(slog.DiscardHandler), "test")
	if idle > 0 {
		api = ophttp.Deadlines(api, idle)
	}
	srv := httptest.NewServer(api)
	t.Cleanup(func() {
		srv.Close()
		store.Close()
	})
	return &importServer{url: srv.URL, dir: dir}
}

type importResult struct {
	status int
	model  struct {
		ID     string
		Status string
		Params struct{ Dim int }
		Stats  struct{ VocabSize int }
	}
	errs []struct {
		Status  int
		Details string
		Field   string
	}
	raw string
}

// importFile posts body as a raw word2vec file.
func (s *importServer) importFile(t testing.TB, name string, body io.Reader) importResult {
	t.Helper()
	resp, err := http.Post(s.url+"/models/import?name="+name, "application/octet-stream", body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := importResult{status: resp.StatusCode, raw: string(b)}
	var e struct {
		Errors []struct {
			Status  int
			Details string
			Field   string
		}
	}
	if resp.StatusCode == http.StatusCreated {
		err = json.Unmarshal(b, &r.model)
	} else {
		err = json.Unmarshal(b, &e)
		r.errs = e.Errors
	}
	if err != nil {
		t.Fatalf("response %d %s: %v", resp.StatusCode, b, err)
	}
	return r
}

// storedFiles lists the files of the store's vectors directory.
func (s *importServer) storedFiles(t testing.TB) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(s.dir, "vectors"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

type listedModel struct {
	ID, Name, Status, Error string
	Progress                *struct {
		Phase    string
		Fraction float64
		Words    int64
	}
	Stats struct{ VocabSize int }
}

// models are the models GET /models lists.
func (s *importServer) models(t testing.TB) []listedModel {
	t.Helper()
	resp, err := http.Get(s.url + "/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Models []listedModel }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return body.Models
}

// modelCount is the number of models GET /models lists.
func (s *importServer) modelCount(t testing.TB) int {
	t.Helper()
	resp, err := http.Get(s.url + "/models")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Models []json.RawMessage }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return len(body.Models)
}

// writeTextFile writes a word2vec text file of words x dim random values
// with one decimal (~4.5 bytes a value) to path and returns its size.
func writeTextFile(t testing.TB, path string, words, dim int) int64 {
	return writeFile(t, path, vectors.Text, words, dim)
}

// writeFile writes a word2vec file in format f of words x dim random
// values with one decimal, and returns its size.
func writeFile(t testing.TB, path string, f vectors.Format, words, dim int) int64 {
	t.Helper()
	out, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	text := make([]string, 21)
	bits := make([][4]byte, 21)
	for i := range text {
		v := float64(i-10) / 10
		text[i] = " " + strconv.FormatFloat(v, 'f', -1, 64)
		binary.LittleEndian.PutUint32(bits[i][:], math.Float32bits(float32(v)))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	w := bufio.NewWriterSize(out, 1<<20)
	fmt.Fprintf(w, "%d %d\n", words, dim)
	for i := range words {
		fmt.Fprintf(w, "word%d", i)
		if f == vectors.Binary {
			w.WriteByte(' ')
		}
		for range dim {
			if k := rng.IntN(len(text)); f == vectors.Binary {
				w.Write(bits[k][:])
			} else {
				w.WriteString(text[k])
			}
		}
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	fi, err := out.Stat()
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// heapPeak samples the bytes of heap objects (live or not yet swept)
// every millisecond until stop is called, which returns the largest
// sample.
func heapPeak() (stop func() uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	var peak uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(sample)
			peak = max(peak, sample[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-tick.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

func heapNow() uint64 {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

// TestImportStreamsWithBoundedMemory imports a 26 MB text file (30k words
// of dimension 200) through the handler and checks, structurally, that
// the heap never grew by as much as the file: holding its matrix (24 MB)
// would. The import is correct too: the model loads as the file reads.
func TestImportStreamsWithBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("writes and imports a 26 MB file")
	}
	s := newImportServer(t)
	path := filepath.Join(t.TempDir(), "vectors.txt")
	size := writeTextFile(t, path, 30_000, 200)
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()

	runtime.GC()
	base := heapNow()
	stop := heapPeak()
	r := s.importFile(t, "big", f)
	peak := stop()
	if r.status != http.StatusCreated || r.model.Status != "ready" || r.model.Params.Dim != 200 || r.model.Stats.VocabSize != 30_000 {
		t.Fatalf("import: %d %s", r.status, r.raw)
	}
	grew := int64(peak) - int64(base)
	t.Logf("file %.1f MiB, heap grew by %.1f MiB at most", float64(size)/(1<<20), float64(grew)/(1<<20))
	if grew >= size {
		t.Errorf("the heap grew by %d bytes importing a file of %d bytes: the import is not streamed", grew, size)
	}

	// What was stored is what the file says.
	want, err := vectors.Read(mustOpen(t, path))
	if err != nil {
		t.Fatal(err)
	}
	stored, err := vectors.Load(mustOpen(t, filepath.Join(s.dir, "vectors", r.model.ID+".bin")))
	if err != nil {
		t.Fatal(err)
	}
	if stored.Len() != want.Len() || stored.Dim() != want.Dim() || stored.Word(29_999) != want.Word(29_999) ||
		fmt.Sprint(stored.Row(12_345)) != fmt.Sprint(want.Row(12_345)) {
		t.Fatalf("stored set differs from the file")
	}
}

func mustOpen(t testing.TB, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// TestImportEmptyFileRefused: a word2vec file with 0 words (or no
// content at all) is refused at import with a 400 naming the field
// "file", and nothing is stored.
func TestImportEmptyFileRefused(t *testing.T) {
	s := newImportServer(t)
	for _, body := range []string{"0 100\n", "", "\n\n", "0 3\n\n  \n"} {
		r := s.importFile(t, "empty", strings.NewReader(body))
		if r.status != http.StatusBadRequest || len(r.errs) != 1 || r.errs[0].Field != "file" {
			t.Errorf("%q: %d %s, want a 400 naming the field file", body, r.status, r.raw)
		}
	}
	if n := s.modelCount(t); n != 0 {
		t.Errorf("%d models stored", n)
	}
	if files := s.storedFiles(t); len(files) != 0 {
		t.Errorf("files left in the store: %q", files)
	}
}

// binaryFile builds a word2vec binary file from strings (written as is)
// and numbers (float64 as float32 values, uint32 as raw bits).
func binaryFile(parts ...any) string {
	var b bytes.Buffer
	for _, p := range parts {
		switch p := p.(type) {
		case string:
			b.WriteString(p)
		case float64:
			binary.Write(&b, binary.LittleEndian, math.Float32bits(float32(p)))
		case int:
			binary.Write(&b, binary.LittleEndian, math.Float32bits(float32(p)))
		case uint32:
			binary.Write(&b, binary.LittleEndian, p)
		}
	}
	return b.String()
}

// TestImportHostileFiles: every kind of broken or hostile file is a 400
// naming the field "file" with a message that says what is wrong (no Go
// type names, no internals); nothing is stored and the server goes on.
func TestImportHostileFiles(t *testing.T) {
	s := newImportServer(t)
	nan := uint32(0x7fc00000)
	inf := uint32(0x7f800000)
	answered := map[string]bool{}
	for _, c := range []struct {
		name, body, want string
	}{
		{"not vectors", "this is not a vectors file", `value 1 "is" is not a finite float32`},
		{"zero words", "0 100\n", "no words"},
		{"dim 0", "3 0\na\n", "dimension 0 out of range 1..10000"},
		{"dim absurd", "3 20000\n", "dimension 20000 out of range"},
		{"count absurd", "1000000000 10000\n", "exceed the limit"},
		{"header overflow", "99999999999999999999 3\n", "number out of range"},
		{"huge count tiny body", "2000000000 1\na 1\n", "input ends after 1 of 2000000000 rows"},
		{"huge count tiny binary body", "1000000000 2\n" + binaryFile("a ", 1, 2, "\n"), "input ends after 1 of 1000000000 rows"},
		{"text NaN", "2 3\na 1 2 3\nb 1 NaN 3\n", `line 3 (row 2): value 2 "NaN" is not a finite float32`},
		{"text Inf", "1 2\na inf 1\n", "not a finite float32"},
		{"text overflow", "1 2\na 1e39 1\n", "not a finite float32"},
		{"binary NaN", "2 2\n" + binaryFile("a ", 1, 2, "\nb ", 1, nan, "\n"), `row 2: value 2 of "b" is not finite`},
		{"binary Inf", "1 2\n" + binaryFile("a ", inf, 2, "\n"), "not finite"},
		{"too few values", "2 3\na 1 2 3\nb 1 2\n", "line 3 (row 2): 2 values, want 3"},
		{"too many values", "2 3\na 1 2 3\nb 1 2 3 4\n", "more than 3 values"},
		{"glove ragged", "a 1 2\nb 1\n", "1 values, want 2"},
		{"truncated text", "3 2\na 1 2\nb 3 4\n", "input ends after 2 of 3 rows"},
		{"truncated binary", "2 2\n" + binaryFile("a ", 1, 2, "\nb ") + "\x00\x00\x80", `vector of "b" shorter than 8 bytes`},
		{"truncated binary word", "2 2\n" + binaryFile("a ", 1, 2, "\n") + "bword", "has no vector"},
		{"more rows than count", "1 2\na 1 2\nb 3 4\n", "more rows than the 1 the header announces"},
		{"binary data after rows", "1 2\n" + binaryFile("a ", 1, 2, "\nb ", 3, 4), "data after the 1 rows"},
		{"binary word with newline", "1 2\n" + binaryFile("a\nb ", 1, 2, "\n"), "contains white space"},
		{"binary word with tab", "1 2\n" + binaryFile("a\tb ", 1, 2, "\n"), "contains white space"},
		{"binary wrong dim", "2 3\n" + binaryFile("a ", 1, 2, "\nb ", 1, 2, "\n"), ""},
		{"text invalid UTF-8", "2 2\nok 1 2\nba\xffd 3 4\n", `line 3 (row 2): word "ba\xffd" is not valid UTF-8`},
		{"binary invalid UTF-8", "1 2\n" + binaryFile("\xc3\x28 ", 1, 2, "\n"), "not valid UTF-8"},
		{"word too long", "1 1\n" + strings.Repeat("w", vectors.MaxWordLen+1) + " 1\n", "longer than"},
		{"line too long", "1 1\nw " + strings.Repeat(" ", 2<<20) + "1\n", "line longer than"},
	} {
		r := s.importFile(t, "hostile", strings.NewReader(c.body))
		if r.status != http.StatusBadRequest || len(r.errs) != 1 || r.errs[0].Field != "file" {
			t.Errorf("%s: %d %s, want a 400 naming the field file", c.name, r.status, r.raw)
			continue
		}
		msg := r.errs[0].Details
		answered[msg] = true
		t.Logf("%s: %s", c.name, msg)
		if !strings.Contains(msg, c.want) || !strings.HasPrefix(msg, "not a word2vec vectors file: ") && c.want != "no words" {
			t.Errorf("%s: message %q, want it to say %q", c.name, msg, c.want)
		}
		for _, internal := range []string{"*", "vectors.", "vectors:", "ParseError", "malformed vector file", "%!", "bolt", "http:"} {
			if strings.Contains(msg, internal) {
				t.Errorf("%s: message %q shows internals (%q)", c.name, msg, internal)
			}
		}
	}
	// A file refused by its header stores nothing; one refused later is
	// a failed model whose reason is the 400's message.
	for _, m := range s.models(t) {
		if m.Status != "failed" || !answered[m.Error] || m.Progress != nil {
			t.Errorf("model %s %q: %s %q, want failed with the message a 400 gave", m.ID, m.Name, m.Status, m.Error)
		}
	}
	if files := s.storedFiles(t); len(files) != 0 {
		t.Errorf("files left in the store: %q", files)
	}

	// Duplicate words are not an error: the first vector wins, as in
	// Read and gensim, and the vocabulary counts each word once.
	r := s.importFile(t, "dups", strings.NewReader("3 2\na 1 2\nb 3 4\na 5 6\n"))
	if r.status != http.StatusCreated || r.model.Stats.VocabSize != 2 || r.model.Params.Dim != 2 {
		t.Fatalf("duplicates: %d %s", r.status, r.raw)
	}
	set, err := vectors.Load(mustOpen(t, filepath.Join(s.dir, "vectors", r.model.ID+".bin")))
	if err != nil || set.Len() != 2 || fmt.Sprint(set.Row(0)) != "[1 2]" {
		t.Fatalf("duplicates stored as %v, %v", set, err)
	}
	// And the server still answers.
	if resp, err := http.Get(s.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after hostile imports: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
}

// TestImportMultipart: the multipart form streams too, and a form
// without a file part is a 400 naming the field.
func TestImportMultipart(t *testing.T) {
	s := newImportServer(t)
	post := func(body string) importResult {
		const boundary = "XyZ"
		resp, err := http.Post(s.url+"/models/import", "multipart/form-data; boundary="+boundary, strings.NewReader(strings.ReplaceAll(body, "\n", "\r\n")))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r := importResult{status: resp.StatusCode, raw: string(b)}
		json.Unmarshal(b, &r.model)
		var e struct {
			Errors []struct {
				Status  int
				Details string
				Field   string
			}
		}
		json.Unmarshal(b, &e)
		r.errs = e.Errors
		return r
	}
	r := post("--XyZ\nContent-Disposition: form-data; name=\"name\"\n\nform\n--XyZ\nContent-Disposition: form-data; name=\"file\"; filename=\"v.txt\"\n\n2 2\na 1 2\nb 3 4\n--XyZ--\n")
	if r.status != http.StatusCreated || r.model.Stats.VocabSize != 2 {
		t.Fatalf("multipart: %d %s", r.status, r.raw)
	}
	r = post("--XyZ\nContent-Disposition: form-data; name=\"name\"\n\nform\n--XyZ--\n")
	if r.status != http.StatusBadRequest || len(r.errs) != 1 || r.errs[0].Field != "file" {
		t.Fatalf("no file part: %d %s", r.status, r.raw)
	}
}

// BenchmarkImportMemory imports generated word2vec files of ~60 MiB into
// the real binary (`serve`, embedded store, no workers) and reports its
// peak resident memory (VmHWM) before and after the import, the growth,
// and the growth per MiB of file. One import per process. The files: text
// and binary of 150k words of dimension 100 (the matrix is most of the
// memory an unstreamed import needs), and text of 1M words of dimension
// 10 (the word list is).
//
//	go test ./internal/vectors -run '^$' -bench ImportMemory -benchtime 1x
func BenchmarkImportMemory(b *testing.B) {
	if runtime.GOOS != "linux" {
		b.Skip("reads /proc")
	}
	bin := buildBinary(b)
	for _, c := range []struct {
		name       string
		format     vectors.Format
		words, dim int
	}{
		{"text-150kx100", vectors.Text, 150_000, 100},
		{"binary-150kx100", vectors.Binary, 150_000, 100},
		{"text-1Mx10", vectors.Text, 1_000_000, 10},
	} {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "vectors")
			fileMiB := float64(writeFile(b, path, c.format, c.words, c.dim)) / (1 << 20)
			var before, after float64
			for b.Loop() {
				b.StopTimer()
				p := startServe(b, bin)
				before = procStatusMiB(b, p.pid, "VmHWM")
				f, err := os.Open(path)
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				resp, err := http.Post(p.url+"/models/import?name=mem", "application/octet-stream", f)
				b.StopTimer()
				f.Close()
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					b.Fatalf("import: %d %s", resp.StatusCode, body)
				}
				after = procStatusMiB(b, p.pid, "VmHWM")
				p.stop()
				b.StartTimer()
			}
			b.ReportMetric(fileMiB, "file-MiB")
			b.ReportMetric(before, "start-VmHWM-MiB")
			b.ReportMetric(after, "peak-VmHWM-MiB")
			b.ReportMetric(after-before, "growth-MiB")
			b.ReportMetric((after-before)/fileMiB, "growth-MiB/file-MiB")
		})
	}
}

// built is the ophicleide binary, built once per test run.
var built = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ophicleide-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ophicleide")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/ophicleide")
	cmd.Dir = filepath.Join("..", "..")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func buildBinary(tb testing.TB) string {
	tb.Helper()
	bin, err := built()
	if err != nil {
		tb.Fatal(err)
	}
	return bin
}

type serveProc struct {
	cmd *exec.Cmd
	pid int
	url string
}

func (p *serveProc) stop() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}

// startServe starts `serve` on 127.0.0.1 with a fresh embedded store and
// no workers, and waits until it listens.
func startServe(tb testing.TB, bin string) *serveProc {
	tb.Helper()
	cmd := exec.Command(bin, "serve", "--data-dir", tb.TempDir(), "--workers", "0", "--addr", "127.0.0.1:0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &serveProc{cmd: cmd, pid: cmd.Process.Pid}
	tb.Cleanup(p.stop)
	listening := regexp.MustCompile(`msg=listening url=(http://\S+)`)
	sc := bufio.NewScanner(stderr)
	var log strings.Builder
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			p.url = m[1]
			break
		}
	}
	if p.url == "" {
		tb.Fatalf("serve did not start: %s", log.String())
	}
	go io.Copy(io.Discard, stderr)
	return p
}

// procStatusMiB reads a "kB" field of /proc/PID/status in MiB.
func procStatusMiB(tb testing.TB, pid int, field string) float64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err != nil {
				tb.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	tb.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// getJSON decodes the answer of GET url into v and returns the status.
func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// rows is a word2vec text file's rows from..to-1 of dimension dim.
func rows(from, to, dim int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "w%d", i)
		for j := range dim {
			fmt.Fprintf(&b, " %d.5", (i+j)%7-3)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// TestImportLimit: the limit is the service's (serve's --max-import-size),
// published at GET /limits; a body declared over it is a 413 naming it
// before anything is read or stored; one that grows over it while it
// streams is a 413 too, and leaves a failed model saying so.
func TestImportLimit(t *testing.T) {
	var lim struct {
		Limits struct{ MaxImportBytes int64 }
	}
	if getJSON(t, newImportServer(t).url+"/limits", &lim); lim.Limits.MaxImportBytes != ophttp.DefaultMaxImportBytes {
		t.Fatalf("default limit %d, want %d", lim.Limits.MaxImportBytes, int64(ophttp.DefaultMaxImportBytes))
	}
	s := newImportServerWith(t, service.Config{Limits: ophicleide.Limits{MaxImportBytes: 1 << 20}}, 0)
	if getJSON(t, s.url+"/limits", &lim); lim.Limits.MaxImportBytes != 1<<20 {
		t.Fatalf("limit %d, want 1 MiB", lim.Limits.MaxImportBytes)
	}
	big := "30000 10\n" + rows(0, 30_000, 10) // ~1.7 MB
	r := s.importFile(t, "declared", strings.NewReader(big))
	if r.status != http.StatusRequestEntityTooLarge || len(r.errs) != 1 || !strings.Contains(r.errs[0].Details, "import limit of 1 MiB") {
		t.Fatalf("declared over the limit: %d %s", r.status, r.raw)
	}
	if ms := s.models(t); len(ms) != 0 {
		t.Fatalf("a body declared over the limit stored %v", ms)
	}
	// Without Content-Length (chunked), the limit is met while streaming.
	r = s.importFile(t, "chunked", io.MultiReader(strings.NewReader(big)))
	if r.status != http.StatusRequestEntityTooLarge || len(r.errs) != 1 || !strings.Contains(r.errs[0].Details, "import limit of 1 MiB") {
		t.Fatalf("streamed over the limit: %d %s", r.status, r.raw)
	}
	ms := s.models(t)
	if len(ms) != 1 || ms[0].Status != "failed" || ms[0].Error != r.errs[0].Details {
		t.Fatalf("after a body over the limit: %+v", ms)
	}
	if files := s.storedFiles(t); len(files) != 0 {
		t.Errorf("files left: %q", files)
	}
	// Under the limit, imports go on.
	if r := s.importFile(t, "small", strings.NewReader("2 2\na 1 2\nb 3 4\n")); r.status != http.StatusCreated {
		t.Fatalf("a small import: %d %s", r.status, r.raw)
	}
}

// startImport posts a raw body that the test writes through the
// returned pipe (with Content-Length size when size > 0); done receives
// the answer.
func (s *importServer) startImport(t *testing.T, name string, size int64) (*io.PipeWriter, <-chan importResult) {
	t.Helper()
	pr, pw := io.Pipe()
	req, err := http.NewRequest("POST", s.url+"/models/import?name="+name, pr)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.ContentLength = size
	done := make(chan importResult, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- importResult{status: -1, raw: err.Error()}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		r := importResult{status: resp.StatusCode, raw: string(b)}
		json.Unmarshal(b, &r.model)
		var e struct {
			Errors []struct {
				Status  int
				Details string
				Field   string
			}
		}
		json.Unmarshal(b, &e)
		r.errs = e.Errors
		done <- r
	}()
	t.Cleanup(func() { pw.CloseWithError(errors.New("test over")) })
	return pw, done
}

// waitModel polls GET /models until one model satisfies ok.
func (s *importServer) waitModel(t *testing.T, what string, ok func(listedModel) bool) listedModel {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, m := range s.models(t) {
			if ok(m) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no model %s: %+v", what, s.models(t))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestImportProgress: while the body streams, other clients see the
// model importing with its progress (the fraction of Content-Length, the
// rows so far); it then becomes ready, and the POST answers 201 with it.
func TestImportProgress(t *testing.T) {
	s := newImportServerWith(t, service.Config{ImportProgressEvery: 20 * time.Millisecond}, 0)
	body := "3000 10\n" + rows(0, 3000, 10)
	pw, done := s.startImport(t, "slow", int64(len(body)))
	half := strings.Index(body, "\nw1500 ") + 1
	if _, err := io.WriteString(pw, body[:half]); err != nil {
		t.Fatal(err)
	}
	m := s.waitModel(t, "importing with progress", func(m listedModel) bool {
		return m.Status == "importing" && m.Progress != nil && m.Progress.Words >= 1000
	})
	if m.Name != "slow" || m.Progress.Phase != "importing" || m.Progress.Fraction <= 0.2 || m.Progress.Fraction >= 0.99 {
		t.Fatalf("mid-import: %+v %+v", m, *m.Progress)
	}
	var one struct{ Model listedModel }
	if getJSON(t, s.url+"/models/"+m.ID, &one); one.Model.Status != "importing" {
		t.Fatalf("GET /models/{id} mid-import: %+v", one.Model)
	}
	io.WriteString(pw, body[half:])
	pw.Close()
	r := <-done
	if r.status != http.StatusCreated || r.model.ID != m.ID || r.model.Status != "ready" || r.model.Stats.VocabSize != 3000 {
		t.Fatalf("end: %d %s", r.status, r.raw)
	}
	var after struct{ Model listedModel }
	if getJSON(t, s.url+"/models/"+m.ID, &after); after.Model.Status != "ready" || after.Model.Progress != nil {
		t.Fatalf("after the import: %+v", after.Model)
	}
}

// TestImportHostileBodies: a body that stalls, one cut by its client, a
// file that declares 3M x 300 and ends after 10 rows, a model deleted
// mid-import: each a 4xx or failed model with words, no file left, and
// the server goes on.
func TestImportHostileBodies(t *testing.T) {
	s := newImportServerWith(t, service.Config{ImportProgressEvery: 20 * time.Millisecond}, 300*time.Millisecond)

	// Declares 3M x 300, ends after 10 rows.
	r := s.importFile(t, "short", strings.NewReader("3000000 300\n"+rows(0, 10, 300)))
	if r.status != http.StatusBadRequest || len(r.errs) != 1 || !strings.Contains(r.errs[0].Details, "input ends after 10 of 3000000 rows") {
		t.Fatalf("a file cut after 10 rows: %d %s", r.status, r.raw)
	}
	failedWith := func(name, reason string) {
		t.Helper()
		m := s.waitModel(t, name+" failed", func(m listedModel) bool { return m.Name == name && m.Status != "importing" })
		if m.Status != "failed" || !strings.Contains(m.Error, reason) {
			t.Fatalf("%s: %s %q, want failed saying %q", name, m.Status, m.Error, reason)
		}
	}
	failedWith("short", "input ends after 10 of 3000000 rows")

	// Stalls before the server knows what it is (the format is told from
	// the first 64 KiB): a 400 after the idle timeout, nothing stored.
	pw, done := s.startImport(t, "stalled-early", 0)
	io.WriteString(pw, "1000 3\n"+rows(0, 10, 3))
	if r := <-done; r.status != http.StatusBadRequest || len(r.errs) != 1 || !strings.Contains(r.errs[0].Details, "the upload stopped") {
		t.Fatalf("stalled early: %d %s", r.status, r.raw)
	}
	if ms := s.models(t); len(ms) != 1 {
		t.Fatalf("a body stalled in its first bytes stored a model: %+v", ms)
	}

	// Stalls after 2,000 rows: cut after the idle timeout, failed.
	pw, done = s.startImport(t, "stalled", 0)
	io.WriteString(pw, "100000 10\n"+rows(0, 2000, 10))
	start := time.Now()
	r = <-done
	t.Logf("stalled body: answered after %v: %d %s", time.Since(start), r.status, r.raw)
	failedWith("stalled", "the upload stopped before the end of the file")

	// Cut by its client.
	pw, done = s.startImport(t, "cut", 0)
	io.WriteString(pw, "100000 10\n"+rows(0, 2000, 10))
	s.waitModel(t, "cut importing", func(m listedModel) bool { return m.Name == "cut" && m.Status == "importing" })
	pw.CloseWithError(errors.New("client gone"))
	<-done
	failedWith("cut", "the upload stopped before the end of the file")

	// Deleted mid-import: the import stops and nothing is kept.
	pw, done = s.startImport(t, "deleted", 0)
	io.WriteString(pw, "100000 10\n"+rows(0, 2000, 10))
	m := s.waitModel(t, "deleted importing", func(m listedModel) bool { return m.Name == "deleted" && m.Status == "importing" })
	req, _ := http.NewRequest("DELETE", s.url+"/models/"+m.ID, nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE mid-import: %v %v", resp, err)
	}
	go func() {
		for i := 2000; ; i += 10 { // keeps sending until the server stops reading
			if _, err := io.WriteString(pw, rows(i, i+10, 10)); err != nil {
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	r = <-done
	if r.status != http.StatusNotFound || len(r.errs) != 1 || !strings.Contains(r.errs[0].Details, "deleted during its import") {
		t.Fatalf("deleted mid-import: %d %s", r.status, r.raw)
	}
	for _, m := range s.models(t) {
		if m.Name == "deleted" || m.Status == "importing" {
			t.Errorf("left: %+v", m)
		}
	}
	if files := s.storedFiles(t); len(files) != 0 {
		t.Errorf("files left in the store: %q", files)
	}
	if resp, err := http.Get(s.url + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after hostile bodies: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	if r := s.importFile(t, "after", strings.NewReader("2 2\na 1 2\nb 3 4\n")); r.status != http.StatusCreated {
		t.Fatalf("an import after hostile bodies: %d %s", r.status, r.raw)
	}
}

// TestRecoverImports: an import left importing by a process that died
// (begun in the store, the store closed) is failed with words by the next
// process's RecoverImports; one begun by the live process is not.
func TestRecoverImports(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	store, err := bolt.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	dead := &ophicleide.Model{ID: uuid.NewString(), Name: "dead", URLs: []string{}, Progress: &ophicleide.Progress{Phase: "importing"}, Created: now, Updated: now}
	if err := store.BeginImport(ctx, dead); err != nil {
		t.Fatal(err)
	}
	store.Close()

	if store, err = bolt.Open(ctx, dir); err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	models, _ := service.New(store, 1<<20, service.Config{})
	later := time.Now().UTC()
	live := &ophicleide.Model{ID: uuid.NewString(), Name: "live", URLs: []string{}, Created: later, Updated: later}
	if err := store.BeginImport(ctx, live); err != nil {
		t.Fatal(err)
	}
	models.RecoverImports(ctx, true)
	if m, err := store.FindModel(ctx, dead.ID); err != nil || m.Status != ophicleide.StatusFailed || m.Error != ophicleide.ImportInterrupted {
		t.Fatalf("the dead import: %+v, %v", m, err)
	}
	if m, err := store.FindModel(ctx, live.ID); err != nil || m.Status != ophicleide.StatusImporting {
		t.Fatalf("the live import: %+v, %v", m, err)
	}
}
