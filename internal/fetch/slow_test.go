package fetch_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/fetch"
)

// trickleServer sends first bytes of text, then one byte every every,
// without end (until the client goes away).
func trickleServer(t *testing.T, first int, every time.Duration) *server {
	return newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("a", first))
		w.(http.Flusher).Flush()
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
				if _, err := io.WriteString(w, "b"); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	})
}

func rateOptions() fetch.Options {
	opts := testOptions()
	opts.MinRate = 1000
	opts.RateWindow = 300 * time.Millisecond
	opts.Retries = -1
	return opts
}

// A server that sends a byte now and then would hold the worker until
// Options.Timeout (5 minutes by default, per attempt); below the minimum
// rate it fails after one window.
func TestSlowBodyFails(t *testing.T) {
	for _, c := range []struct {
		name        string
		first       int
		every       time.Duration
		whileFetch  bool // the first 4 KiB (sniffed by Fetch) do not arrive
		wantMessage string
	}{
		{"trickle before the first 4 KiB", 100, 20 * time.Millisecond, true, "bytes in the last 300ms, slower than the minimum of 1000 bytes/s"},
		{"trickle after", 8 << 10, 20 * time.Millisecond, false, "bytes in the last 300ms, slower than the minimum of 1000 bytes/s"},
		{"stalled after", 8 << 10, time.Hour, false, "the server sent nothing in the last 300ms, slower than the minimum of 1000 bytes/s"},
		{"stalled before", 100, time.Hour, true, "the server sent 100 bytes in the last 300ms, slower than the minimum of 1000 bytes/s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := trickleServer(t, c.first, c.every)
			f := fetch.New(rateOptions())
			defer f.CloseIdleConnections()
			start := time.Now()
			b, err := f.Fetch(context.Background(), s.URL)
			if c.whileFetch {
				if err == nil {
					b.Close()
					t.Fatal("Fetch returned a body")
				}
			} else {
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				var data []byte
				data, err = io.ReadAll(b)
				if len(data) < c.first {
					t.Errorf("read %d bytes, want the %d sent at once", len(data), c.first)
				}
			}
			took := time.Since(start)
			e := wantKind(t, err, fetch.KindTimeout)
			if !strings.HasPrefix(e.Error(), "fetching "+s.URL+": the server sent ") || !strings.Contains(e.Error(), c.wantMessage) {
				t.Errorf("message %q, want one with %q", e, c.wantMessage)
			}
			if took < 300*time.Millisecond || took > 3*time.Second {
				t.Errorf("failed after %v, want one window of 300ms", took)
			}
		})
	}
}

func TestFastEnoughBodyPasses(t *testing.T) {
	// 50 bytes every 10 ms is 5000 bytes/s, for about 1.2 s (four windows).
	const chunks = 120
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for range chunks {
			io.WriteString(w, strings.Repeat("c", 49)+"\n")
			w.(http.Flusher).Flush()
			time.Sleep(10 * time.Millisecond)
		}
	})
	_, got, err := fetchAll(t, fetch.New(rateOptions()), s.URL)
	if err != nil || len(got) != chunks*50 {
		t.Fatalf("read %d bytes, err %v", len(got), err)
	}
}

// Time the caller spends between reads is not the server's.
func TestSlowReaderIsNotASlowServer(t *testing.T) {
	body := bytes.Repeat([]byte("word "), 200<<10) // 1 MB, more than the socket buffers
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Write(body)
	})
	b, err := fetch.New(rateOptions()).Fetch(context.Background(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	buf := make([]byte, 256<<10)
	var n int
	for i := 0; ; i++ {
		m, err := b.Read(buf)
		n += m
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("after %d bytes: %v", n, err)
		}
		if i < 3 {
			time.Sleep(400 * time.Millisecond) // a window and more, doing something else
		}
	}
	if n != len(body) {
		t.Fatalf("read %d bytes, want %d", n, len(body))
	}
}

func TestNoMinRate(t *testing.T) {
	s := trickleServer(t, 8<<10, time.Hour)
	opts := rateOptions()
	opts.MinRate = -1
	opts.Timeout = 700 * time.Millisecond
	b, err := fetch.New(opts).Fetch(context.Background(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = io.ReadAll(b)
	if e := wantKind(t, err, fetch.KindTimeout); !strings.Contains(e.Error(), "timed out after 700ms") {
		t.Fatalf("message %q, want the Timeout's", e)
	}
}

// gzip inside gzip is a decompression bomb: 300 MiB of text in 2.8 KB.
// Fetch gunzips one layer; the next is refused, not passed on.
func TestNestedGzipRefused(t *testing.T) {
	inner := gzipped(t, strings.Repeat(text, 1000))
	for _, c := range []struct {
		name, ctype, encoding string
		body                  []byte
	}{
		{"gz of gz served as text", "text/plain", "", gzipped(t, string(inner))},
		{"gz of gz served as gzip", "application/gzip", "", gzipped(t, string(inner))},
		{"gz of gz with Content-Encoding gzip", "text/plain", "gzip", gzipped(t, string(gzipped(t, string(inner))))},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", c.ctype)
				if c.encoding != "" {
					w.Header().Set("Content-Encoding", c.encoding)
				}
				w.Write(c.body)
			})
			_, _, err := fetchAll(t, fetch.New(testOptions()), s.URL)
			e := wantKind(t, err, fetch.KindNotText)
			if want := "fetching " + s.URL + ": is compressed more than once (gzip inside gzip); send plain text or a single gzip layer"; e.Error() != want {
				t.Errorf("message %q, want %q", e, want)
			}
		})
	}
	t.Run("zstd served as text", func(t *testing.T) {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("\x28\xb5\x2f\xfd\x04\x58\x61\x00\x00\x68\x69\x0a"))
		})
		_, _, err := fetchAll(t, fetch.New(testOptions()), s.URL)
		if e := wantKind(t, err, fetch.KindNotText); !strings.Contains(e.Error(), "is compressed with zstd") {
			t.Errorf("message %q", e)
		}
	})
	t.Run("a .gz file with Content-Encoding gzip is one layer", func(t *testing.T) {
		s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/gzip")
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(gzipped(t, string(gzipped(t, text))))
		})
		if _, got, err := fetchAll(t, fetch.New(testOptions()), s.URL); err != nil || got != text {
			t.Fatalf("got %q, %v", got, err)
		}
	})
}

// TestSilentServerTimesOut: a server that accepts the request and never
// answers fails the fetch at HeaderTimeout, not after Timeout.
func TestSilentServerTimesOut(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		var conns []net.Conn // read nothing, answer nothing
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	f := fetch.New(fetch.Options{AllowPrivate: true, HeaderTimeout: 300 * time.Millisecond, Retries: -1})
	defer f.CloseIdleConnections()
	start := time.Now()
	_, err = f.Fetch(context.Background(), "http://"+ln.Addr().String()+"/book.txt")
	if fetch.KindOf(err) != fetch.KindTimeout || !strings.Contains(err.Error(), "no response within 300ms") {
		t.Fatalf("got %v (kind %q)", err, fetch.KindOf(err))
	}
	if el := time.Since(start); el > 10*time.Second {
		t.Fatalf("took %s", el)
	}
}
