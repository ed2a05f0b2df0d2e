package corpus

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/fetch"
	"github.com/ophicleide/ophicleide/internal/tokenize"
)

const sentence = "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a wife.\n"

// gzipOf returns n bytes of sentence repeated, gzipped layers times,
// without ever holding the text in memory. The innermost layer is a series
// of gzip members of 1 MiB each (a valid gzip stream, as gzip -c a b
// writes), compressed once and repeated, which keeps building the bomb
// fast under the race detector.
func gzipOf(t *testing.T, n int64, layers int) []byte {
	t.Helper()
	chunk := []byte(strings.Repeat(sentence, (1<<20)/len(sentence)+1)[:1<<20])
	var member bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(chunk)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var ws []*gzip.Writer
	var w io.Writer = &out
	for range layers - 1 {
		z, _ := gzip.NewWriterLevel(w, gzip.BestCompression)
		ws = append(ws, z)
		w = z
	}
	for left := n; left > 0; left -= int64(len(chunk)) {
		if left < int64(len(chunk)) {
			var last bytes.Buffer
			z := gzip.NewWriter(&last)
			z.Write(chunk[:left])
			z.Close()
			w.Write(last.Bytes())
			break
		}
		w.Write(member.Bytes())
	}
	for i := len(ws) - 1; i >= 0; i-- {
		if err := ws[i].Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// counting serves data and counts the bytes read from it.
type counting struct {
	r    io.Reader
	read atomic.Int64
}

func (c *counting) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func (c *counting) Close() error { return nil }

func bytesSource(name string, data []byte) (Source, *counting) {
	c := &counting{}
	return Source{Name: name, Open: func(context.Context) (io.ReadCloser, error) {
		c.r = bytes.NewReader(data)
		return c, nil
	}}, c
}

func drain(r *Reader) (sentences int) {
	for r.Scan() {
		sentences++
	}
	return sentences
}

// Gzip inside gzip of 300 MiB of text, a few KB on the wire: refused, as an
// upload and as a URL (where fetch gunzips one layer and, before this
// check, corpus the other, giving 300 MiB of training text).
func TestGzipInsideGzipIsRefused(t *testing.T) {
	bomb := gzipOf(t, 300<<20, 2)
	t.Logf("gzip inside gzip of 300 MiB: %d bytes", len(bomb))
	if len(bomb) > 64<<10 {
		t.Fatalf("the bomb is %d bytes, want a few KB", len(bomb))
	}

	t.Run("upload", func(t *testing.T) {
		src, c := bytesSource("upload:bomb.gz", bomb)
		r := New(context.Background(), []Source{src}, tokenize.Options{})
		defer r.Close()
		if n := drain(r); n != 0 {
			t.Errorf("%d sentences read from the bomb", n)
		}
		var ce *CompressionError
		if !errors.As(r.Err(), &ce) || !ce.Nested || ce.Format != "gzip" || ce.Source != "upload:bomb.gz" {
			t.Fatalf("error %v (%T), want a *CompressionError of nested gzip", r.Err(), r.Err())
		}
		want := "upload:bomb.gz: is compressed more than once (gzip inside gzip); send plain text or a single gzip layer"
		if r.Err().Error() != want {
			t.Errorf("message %q, want %q", r.Err(), want)
		}
		if c.read.Load() > int64(len(bomb)) || r.Bytes() != 0 {
			t.Errorf("read %d compressed bytes and %d of text", c.read.Load(), r.Bytes())
		}
	})

	t.Run("url", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8") // else the inner gzip is taken for windows-1252
			w.Write(bomb)
		}))
		defer srv.Close()
		f := fetch.New(fetch.Options{AllowPrivate: true, Retries: -1})
		defer f.CloseIdleConnections()
		r := New(context.Background(), []Source{{Name: srv.URL, Open: func(ctx context.Context) (io.ReadCloser, error) {
			b, err := f.Fetch(ctx, srv.URL)
			if err != nil {
				return nil, err
			}
			return b, nil
		}}}, tokenize.Options{})
		defer r.Close()
		drain(r)
		if r.Err() == nil || !strings.Contains(r.Err().Error(), "compressed more than once") {
			t.Fatalf("error %v after %d bytes of text, want a refusal of the nested gzip", r.Err(), r.Bytes())
		}
		if r.Bytes() > 0 {
			t.Errorf("%d bytes of text read", r.Bytes())
		}
	})
}

// A single gzip layer that expands past the limit of one source stops at
// the limit, without decompressing the rest.
func TestGzipUploadBombIsLimited(t *testing.T) {
	t.Run("configured", func(t *testing.T) {
		bomb := gzipOf(t, 1<<30, 1)
		src, c := bytesSource("upload:big", bomb)
		r := NewWithLimits(context.Background(), []Source{text("small.txt", "a few words"), src}, tokenize.Options{},
			Limits{MaxSourceBytes: 1 << 20})
		defer r.Close()
		drain(r)
		var le *LimitError
		if !errors.As(r.Err(), &le) || le.Source != "upload:big" || le.Limit != 1<<20 || le.Total {
			t.Fatalf("error %v (%T), want a *LimitError of upload:big's 1 MiB", r.Err(), r.Err())
		}
		if want := "upload:big: the text is larger than the limit of 1 MiB (after decompression)"; le.Error() != want {
			t.Errorf("message %q, want %q", le, want)
		}
		st := r.Stats()
		if len(st) != 2 || st[1].Bytes != 1<<20 {
			t.Errorf("stats %+v, want the 1 MiB read of upload:big", st)
		}
		// Reading stopped at the limit: of the 1 GiB, what was read is
		// the buffer of 256 KiB that reads the compressed data ahead.
		if got, max := c.read.Load(), int64(256<<10); got > max {
			t.Errorf("read %d of %d compressed bytes, want at most %d", got, len(bomb), max)
		}
	})

	t.Run("default", func(t *testing.T) {
		if raceEnabled {
			t.Skip("reads 64 MiB: 17 s with the race detector; run without -race")
		}
		bomb := gzipOf(t, 1<<30, 1)
		t.Logf("gzip of 1 GiB: %d bytes", len(bomb))
		src, c := bytesSource("upload:big.gz", bomb)
		start := time.Now()
		r := New(context.Background(), []Source{src}, tokenize.Options{Mode: tokenize.Whitespace})
		defer r.Close()
		drain(r)
		var le *LimitError
		if !errors.As(r.Err(), &le) || le.Limit != DefaultMaxSourceBytes || le.Total {
			t.Fatalf("error %v (%T), want a *LimitError of 64 MiB", r.Err(), r.Err())
		}
		if want := "upload:big.gz: the text is larger than the limit of 64 MiB (after decompression)"; le.Error() != want {
			t.Errorf("message %q, want %q", le, want)
		}
		if r.Bytes() != DefaultMaxSourceBytes {
			t.Errorf("%d bytes of text read, want %d", r.Bytes(), DefaultMaxSourceBytes)
		}
		if got, max := c.read.Load(), int64(len(bomb))/10; got > max {
			t.Errorf("read %d of %d compressed bytes, want at most %d", got, len(bomb), max)
		}
		t.Logf("stopped after %v", time.Since(start))
	})
}

func TestModelTotalLimit(t *testing.T) {
	forty := strings.Repeat("word ", 8) // 40 bytes
	r := NewWithLimits(context.Background(), []Source{
		text("a", forty), gz(t, "upload:b", forty), text("c", forty), text("d", forty),
	}, tokenize.Options{}, Limits{MaxSourceBytes: 60, MaxTotalBytes: 100})
	defer r.Close()
	drain(r)
	var le *LimitError
	if !errors.As(r.Err(), &le) || le.Source != "c" || le.Limit != 100 || !le.Total {
		t.Fatalf("error %v (%T), want a *LimitError of the 100-byte total in c", r.Err(), r.Err())
	}
	want := "the model's text is larger than the limit of 100 bytes for all its inputs together (reached in c, after decompression)"
	if le.Error() != want {
		t.Errorf("message %q, want %q", le, want)
	}
	if st := r.Stats(); len(st) != 3 || st[0].Bytes != 40 || st[1].Bytes != 40 || st[2].Bytes != 20 {
		t.Errorf("stats %+v", st)
	}

	t.Run("exactly at the limits", func(t *testing.T) {
		r := NewWithLimits(context.Background(), []Source{text("a", forty), text("b", forty)}, tokenize.Options{},
			Limits{MaxSourceBytes: 40, MaxTotalBytes: 80})
		if drain(r); r.Err() != nil || r.Bytes() != 80 {
			t.Fatalf("err %v after %d bytes", r.Err(), r.Bytes())
		}
	})
	t.Run("no limits", func(t *testing.T) {
		r := NewWithLimits(context.Background(), []Source{gz(t, "a", strings.Repeat(forty, 1000))}, tokenize.Options{},
			Limits{MaxSourceBytes: -1, MaxTotalBytes: -1})
		if drain(r); r.Err() != nil || r.Bytes() != 40000 {
			t.Fatalf("err %v after %d bytes", r.Err(), r.Bytes())
		}
	})
	t.Run("default", func(t *testing.T) {
		if got := (Limits{}).withDefaults(); got.MaxTotalBytes != 256<<20 || got.MaxSourceBytes != 64<<20 {
			t.Fatalf("defaults %+v", got)
		}
	})
}

func TestOtherCompressionIsRefused(t *testing.T) {
	for _, c := range []struct {
		format string
		head   string
	}{
		{"zstd", "\x28\xb5\x2f\xfd\x04\x58\x61\x00\x00\x68\x69\x0a"},
		{"xz", "\xfd7zXZ\x00\x00\x04\xe6\xd6\xb4\x46"},
		{"bzip2", "BZh91AY&SY\x00\x00"},
		{"zip", "PK\x03\x04\x14\x00\x00\x00"},
	} {
		src, _ := bytesSource("upload:x", []byte(c.head))
		r := New(context.Background(), []Source{src}, tokenize.Options{})
		drain(r)
		var ce *CompressionError
		if !errors.As(r.Err(), &ce) || ce.Format != c.format || ce.Nested {
			t.Errorf("%s: error %v, want a *CompressionError", c.format, r.Err())
		}
		inner := gzipped(t, c.head)
		src, _ = bytesSource("upload:x.gz", inner)
		r = New(context.Background(), []Source{src}, tokenize.Options{})
		drain(r)
		if !errors.As(r.Err(), &ce) || ce.Format != c.format || !ce.Nested {
			t.Errorf("%s inside gzip: error %v, want a nested *CompressionError", c.format, r.Err())
		}
	}
	// Text that merely starts like a magic number is text.
	r := New(context.Background(), []Source{text("bz.txt", "BZh9 is a word"), text("pk.txt", "PK")}, tokenize.Options{})
	if n := drain(r); r.Err() != nil || n != 2 {
		t.Fatalf("err %v, %d sentences", r.Err(), n)
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// The server's paths stay out of the messages, the reasons users see; the
// error keeps them, for logs.
func TestFailureReasonsDoNotLeakPaths(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "uploads", "0")
	unreadable := t.TempDir() // a directory: opens, but reading fails
	open := func(path string) func(context.Context) (io.ReadCloser, error) {
		return func(context.Context) (io.ReadCloser, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, storeError(err)
			}
			return f, nil
		}
	}
	for _, c := range []struct {
		src  Source
		want string
	}{
		{Source{Name: "upload:a.txt", Open: open(missing)}, "upload:a.txt: cannot be read (no such file or directory)"},
		{Source{Name: "upload:b.txt", Open: open(unreadable)}, "upload:b.txt: cannot be read (is a directory)"},
	} {
		r := New(context.Background(), []Source{c.src}, tokenize.Options{})
		drain(r)
		r.Close()
		err := r.Err()
		if err == nil || err.Error() != c.want {
			t.Errorf("error %v, want %q", err, c.want)
			continue
		}
		if msg := err.Error(); strings.Contains(msg, "/tmp") || strings.Contains(msg, dir) || strings.Contains(msg, " /") {
			t.Errorf("message %q shows a path", msg)
		}
		var se *SourceError
		var pe *os.PathError
		if !errors.As(err, &se) || !errors.As(err, &pe) || !strings.HasPrefix(pe.Path, "/") {
			t.Errorf("error %#v keeps no *SourceError and *os.PathError for the logs", err)
		}
	}
}

// storeError wraps err as a store does ("bolt: open upload: %w").
func storeError(err error) error { return &wrapped{err} }

type wrapped struct{ err error }

func (w *wrapped) Error() string { return "bolt: open upload: " + w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func TestMaxReadTime(t *testing.T) {
	t.Run("stalled URL", func(t *testing.T) {
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte(strings.Repeat(sentence, 100)))
			w.(http.Flusher).Flush()
			select { // then nothing, until the client gives up
			case <-r.Context().Done():
			case <-release:
			}
		}))
		defer srv.Close()
		defer close(release)
		f := fetch.New(fetch.Options{AllowPrivate: true, Retries: -1, MinRate: -1})
		defer f.CloseIdleConnections()
		url := srv.URL + "/book.txt"
		r := NewWithLimits(context.Background(), []Source{text("a.txt", "first words"), {Name: url, Open: func(ctx context.Context) (io.ReadCloser, error) {
			b, err := f.Fetch(ctx, url)
			if err != nil {
				return nil, err
			}
			return b, nil
		}}}, tokenize.Options{}, Limits{MaxReadTime: 300 * time.Millisecond})
		defer r.Close()
		start := time.Now()
		n := drain(r)
		took := time.Since(start)
		var le *LimitError
		if !errors.As(r.Err(), &le) || le.Duration != 300*time.Millisecond || le.Source != url || !le.Total {
			t.Fatalf("error %v (%T) after %d sentences, want a *LimitError of 300ms", r.Err(), r.Err(), n)
		}
		want := "fetching and reading the model's inputs took longer than the limit of 300ms (stopped at " + url + ")"
		if le.Error() != want {
			t.Errorf("message %q, want %q", le, want)
		}
		if took > 5*time.Second {
			t.Errorf("stopped after %v", took)
		}
	})
	t.Run("before opening", func(t *testing.T) {
		slowOpen := Source{Name: "slow", Open: func(ctx context.Context) (io.ReadCloser, error) {
			<-ctx.Done()
			return nil, ctx.Err()
		}}
		r := NewWithLimits(context.Background(), []Source{slowOpen, text("b", "never read")}, tokenize.Options{}, Limits{MaxReadTime: 50 * time.Millisecond})
		drain(r)
		var le *LimitError
		if !errors.As(r.Err(), &le) || le.Source != "slow" || !errors.Is(r.Err(), context.DeadlineExceeded) {
			t.Fatalf("error %v, want a *LimitError wrapping the deadline", r.Err())
		}
	})
	t.Run("caller cancels", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		src := Source{Name: "s", Open: func(ctx context.Context) (io.ReadCloser, error) {
			cancel()
			<-ctx.Done()
			return nil, ctx.Err()
		}}
		r := NewWithLimits(ctx, []Source{src}, tokenize.Options{}, Limits{MaxReadTime: time.Hour})
		drain(r)
		var le *LimitError
		if errors.As(r.Err(), &le) || !errors.Is(r.Err(), context.Canceled) {
			t.Fatalf("error %v, want the cancellation", r.Err())
		}
	})
}
