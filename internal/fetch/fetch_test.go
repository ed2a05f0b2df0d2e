package fetch_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/fetch"
)

const text = "It is a truth universally acknowledged, that a single man in possession\n" +
	"of a good fortune, must be in want of a wife.\n"

// server is an httptest server on 127.0.0.1 that counts its requests.
type server struct {
	*httptest.Server
	hits atomic.Int64
}

func newServer(t *testing.T, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// testOptions allow the loopback test servers and retry quickly.
func testOptions() fetch.Options {
	return fetch.Options{AllowPrivate: true, Backoff: time.Millisecond, Timeout: 10 * time.Second}
}

func fetchAll(t *testing.T, f *fetch.Fetcher, url string) (*fetch.Body, string, error) {
	t.Helper()
	b, err := f.Fetch(context.Background(), url)
	if err != nil {
		return nil, "", err
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	return b, string(data), err
}

// wantKind fails unless err is an *Error of kind k, and returns it.
func wantKind(t *testing.T, err error, k fetch.Kind) *fetch.Error {
	t.Helper()
	var e *fetch.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *fetch.Error of kind %s", err, err, k)
	}
	if e.Kind != k {
		t.Fatalf("error %q has kind %s, want %s", e, e.Kind, k)
	}
	return e
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	z := gzip.NewWriter(&buf)
	if _, err := z.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPlainText(t *testing.T) {
	var ua string
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		ua = r.UserAgent()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, text)
	})
	opts := testOptions()
	opts.UserAgent = "ophicleide/test"
	b, got, err := fetchAll(t, fetch.New(opts), "  "+s.URL+"/pg1342.txt\n")
	if err != nil {
		t.Fatal(err)
	}
	if got != text {
		t.Errorf("body %q, want %q", got, text)
	}
	if b.URL != s.URL+"/pg1342.txt" || b.ContentType != "text/plain" || b.Charset != "utf-8" || b.Length != int64(len(text)) {
		t.Errorf("got URL %q, type %q, charset %q, length %d", b.URL, b.ContentType, b.Charset, b.Length)
	}
	if ua != "ophicleide/test" {
		t.Errorf("User-Agent %q", ua)
	}
}

func TestDefaultUserAgent(t *testing.T) {
	var ua string
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		ua = r.UserAgent()
		io.WriteString(w, text)
	})
	if _, _, err := fetchAll(t, fetch.New(testOptions()), s.URL); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(ua, "ophicleide/") {
		t.Errorf("User-Agent %q", ua)
	}
}

func TestUTF8BOMKept(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=iso-8859-1") // the BOM wins
		io.WriteString(w, "\ufeffcafé")
	})
	b, got, err := fetchAll(t, fetch.New(testOptions()), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got != "\ufeffcafé" || b.Charset != "utf-8" {
		t.Errorf("body %q charset %q", got, b.Charset)
	}
}

func TestGzipContentEncoding(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
			t.Errorf("Accept-Encoding %q", r.Header.Get("Accept-Encoding"))
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(gzipped(t, text))
	})
	b, got, err := fetchAll(t, fetch.New(testOptions()), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got != text || b.Length != -1 {
		t.Errorf("body %q length %d", got, b.Length)
	}
}

func TestGzipFile(t *testing.T) {
	for _, ct := range []string{"application/gzip", "application/x-gzip", "application/octet-stream", ""} {
		t.Run(ct, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{ct} // "" stops the server from sniffing
				w.Write(gzipped(t, "caf\xe9 "+text))
			})
			b, got, err := fetchAll(t, fetch.New(testOptions()), s.URL+"/pg1342.txt.gz")
			if err != nil {
				t.Fatal(err)
			}
			if got != "café "+text || b.ContentType != "text/plain" || b.Charset != "windows-1252" {
				t.Errorf("body %q, type %q, charset %q", got, b.ContentType, b.Charset)
			}
		})
	}
}

func TestGzipFileNotText(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		w.Write(gzipped(t, "%PDF-1.4\n\x00\x01\x02binary"))
	})
	_, _, err := fetchAll(t, fetch.New(testOptions()), s.URL+"/x.pdf.gz")
	e := wantKind(t, err, fetch.KindNotText)
	if !strings.Contains(e.Error(), "application/pdf") {
		t.Errorf("message %q does not name the sniffed type", e)
	}
}

func TestBadGzip(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Encoding", "gzip")
		io.WriteString(w, "this is not gzip data at all")
	})
	_, _, err := fetchAll(t, fetch.New(testOptions()), s.URL)
	if e := wantKind(t, err, fetch.KindDecode); e.Temporary() || s.hits.Load() != 1 {
		t.Errorf("temporary %v after %d requests", e.Temporary(), s.hits.Load())
	}
}

func TestCharsets(t *testing.T) {
	for _, tc := range []struct {
		name, contentType, body, want, charset string
	}{
		{"latin-1", "text/plain; charset=ISO-8859-1", "caf\xe9", "café", "windows-1252"},
		{"latin-1 quoted", `text/plain; charset="latin1"`, "na\xefve", "naïve", "windows-1252"},
		{"windows-1252", "text/plain; charset=windows-1252", "\x93quoted\x94", "“quoted”", "windows-1252"},
		{"latin-2", "text/plain; charset=iso-8859-2", "\xb3\xf3d\xbc", "łódź", "iso-8859-2"},
		{"guessed latin-1", "text/plain", "caf\xe9", "café", "windows-1252"},
		{"guessed utf-8", "text/plain", "café", "café", "utf-8"},
		{"sniffed", "application/octet-stream", "caf\xe9", "café", "windows-1252"},
		{"html", "text/html; charset=utf-8", "<p>café</p>", "<p>café</p>", "utf-8"},
		{"utf-16le", "text/plain; charset=utf-16le", "c\x00a\x00f\x00\xe9\x00", "café", "utf-16le"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tc.contentType)
				io.WriteString(w, tc.body)
			})
			b, got, err := fetchAll(t, fetch.New(testOptions()), s.URL)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want || b.Charset != tc.charset {
				t.Errorf("body %q charset %q, want %q %q", got, b.Charset, tc.want, tc.charset)
			}
		})
	}
}

func TestUnknownCharset(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=klingon")
		io.WriteString(w, text)
	})
	_, _, err := fetchAll(t, fetch.New(testOptions()), s.URL)
	wantKind(t, err, fetch.KindDecode)
}

func TestStatus(t *testing.T) {
	for _, tc := range []struct {
		code      int
		temporary bool
		hits      int64 // with Retries 2
	}{
		{http.StatusNotFound, false, 1},
		{http.StatusGone, false, 1},
		{http.StatusUnauthorized, false, 1},
		{http.StatusForbidden, false, 1},
		{http.StatusTeapot, false, 1},
		{http.StatusRequestTimeout, true, 3},
		{http.StatusTooManyRequests, true, 3},
		{http.StatusInternalServerError, true, 3},
		{http.StatusBadGateway, true, 3},
	} {
		t.Run(strconv.Itoa(tc.code), func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Error(w, "no", tc.code)
			})
			opts := testOptions()
			opts.Retries = 2
			_, _, err := fetchAll(t, fetch.New(opts), s.URL)
			e := wantKind(t, err, fetch.KindHTTPStatus)
			if e.StatusCode != tc.code || e.Temporary() != tc.temporary || s.hits.Load() != tc.hits || e.Attempts != int(tc.hits) {
				t.Errorf("status %d, temporary %v, %d requests, %d attempts; want %d %v %d",
					e.StatusCode, e.Temporary(), s.hits.Load(), e.Attempts, tc.code, tc.temporary, tc.hits)
			}
			want := "fetching " + s.URL + ": the server answered " + strconv.Itoa(tc.code) + " " + http.StatusText(tc.code)
			if !strings.HasPrefix(e.Error(), want) {
				t.Errorf("message %q, want it to start with %q", e, want)
			}
		})
	}
}

func TestRetryThenSuccess(t *testing.T) {
	var n atomic.Int64
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, text)
	})
	_, got, err := fetchAll(t, fetch.New(testOptions()), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	if got != text || s.hits.Load() != 2 {
		t.Errorf("body %q after %d requests", got, s.hits.Load())
	}
}

func TestAlways500(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	opts := testOptions()
	opts.Retries = 3
	_, _, err := fetchAll(t, fetch.New(opts), s.URL)
	e := wantKind(t, err, fetch.KindHTTPStatus)
	if !e.Temporary() || s.hits.Load() != 4 {
		t.Errorf("temporary %v after %d requests, want true after 4", e.Temporary(), s.hits.Load())
	}
	if !strings.HasSuffix(e.Error(), "(after 4 attempts)") {
		t.Errorf("message %q", e)
	}
}

func TestNoRetries(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "broken", http.StatusInternalServerError)
	})
	opts := testOptions()
	opts.Retries = -1
	_, _, err := fetchAll(t, fetch.New(opts), s.URL)
	wantKind(t, err, fetch.KindHTTPStatus)
	if s.hits.Load() != 1 {
		t.Errorf("%d requests, want 1", s.hits.Load())
	}
}

func TestTooLargeByContentLength(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Length", strconv.Itoa(10<<20))
		w.Write(bytes.Repeat([]byte("a"), 1<<10))
		w.(http.Flusher).Flush()
		select { // the rest never comes: Fetch must not wait for it
		case <-r.Context().Done():
		case <-release:
		}
	})
	opts := testOptions()
	opts.MaxBytes = 1 << 20
	_, _, err := fetchAll(t, fetch.New(opts), s.URL)
	e := wantKind(t, err, fetch.KindTooLarge)
	if want := "fetching " + s.URL + ": is larger than the limit of 1 MiB"; e.Error() != want || e.Temporary() {
		t.Errorf("message %q temporary %v, want %q", e, e.Temporary(), want)
	}
	if s.hits.Load() != 1 {
		t.Errorf("%d requests", s.hits.Load())
	}
}

func TestTooLargeStreaming(t *testing.T) {
	chunk := strings.Repeat("word ", 1000)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		for range 20 { // 100,000 bytes, chunked
			io.WriteString(w, chunk)
			w.(http.Flusher).Flush()
		}
	})
	for _, limit := range []int64{50_000, 1000} { // after Fetch returned; while it sniffs
		opts := testOptions()
		opts.MaxBytes = limit
		b, err := fetch.New(opts).Fetch(context.Background(), s.URL)
		if limit < 4096 {
			wantKind(t, err, fetch.KindTooLarge)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.Length != -1 {
			t.Errorf("length %d, want -1", b.Length)
		}
		data, err := io.ReadAll(b)
		b.Close()
		wantKind(t, err, fetch.KindTooLarge)
		if int64(len(data)) != limit {
			t.Errorf("read %d bytes before the error, want %d", len(data), limit)
		}
	}
}

func TestTooLargeGzipBomb(t *testing.T) {
	bomb := gzipped(t, strings.Repeat("a", 4<<20))
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Set("Content-Encoding", "gzip")
		w.Write(bomb)
	})
	opts := testOptions()
	opts.MaxBytes = 64 << 10
	_, _, err := fetchAll(t, fetch.New(opts), s.URL)
	wantKind(t, err, fetch.KindTooLarge)
}

func TestRedirect(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("/old", http.RedirectHandler("/new", http.StatusFound))
	mux.HandleFunc("/new", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, text) })
	mux.Handle("/loop", http.RedirectHandler("/loop", http.StatusMovedPermanently))
	mux.Handle("/ftp", http.RedirectHandler("ftp://example.org/x", http.StatusFound))
	s := newServer(t, mux.ServeHTTP)
	f := fetch.New(testOptions())

	b, got, err := fetchAll(t, f, s.URL+"/old")
	if err != nil {
		t.Fatal(err)
	}
	if got != text || b.URL != s.URL+"/new" {
		t.Errorf("body %q from %q", got, b.URL)
	}

	s.hits.Store(0)
	_, _, err = fetchAll(t, f, s.URL+"/loop")
	if e := wantKind(t, err, fetch.KindRedirects); e.Temporary() || s.hits.Load() != fetch.DefaultMaxRedirects+1 {
		t.Errorf("temporary %v after %d requests", e.Temporary(), s.hits.Load())
	}

	_, _, err = fetchAll(t, f, s.URL+"/ftp")
	wantKind(t, err, fetch.KindScheme)

	opts := testOptions()
	opts.MaxRedirects = -1
	_, _, err = fetchAll(t, fetch.New(opts), s.URL+"/old")
	wantKind(t, err, fetch.KindRedirects)
}

func TestNotText(t *testing.T) {
	png := "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"
	for _, tc := range []struct{ contentType, body string }{
		{"image/png", png},
		{"application/pdf", "%PDF-1.4 but also text"},
		{"application/octet-stream", png},
		{"", png},
	} {
		t.Run(tc.contentType, func(t *testing.T) {
			s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Content-Type"] = []string{tc.contentType}
				io.WriteString(w, tc.body)
			})
			_, _, err := fetchAll(t, fetch.New(testOptions()), s.URL)
			e := wantKind(t, err, fetch.KindNotText)
			if e.Temporary() || s.hits.Load() != 1 {
				t.Errorf("temporary %v after %d requests", e.Temporary(), s.hits.Load())
			}
			if tc.contentType == "image/png" {
				if want := "fetching " + s.URL + ": is not text (content type image/png)"; e.Error() != want {
					t.Errorf("message %q, want %q", e, want)
				}
			}
		})
	}
}

func TestPrivateAddressRefused(t *testing.T) {
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, text) })
	_, port, _ := net.SplitHostPort(s.Listener.Addr().String())
	f := fetch.New(fetch.Options{Backoff: time.Millisecond})
	for _, u := range []string{s.URL, "http://localhost:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/"} {
		_, _, err := fetchAll(t, f, u)
		e := wantKind(t, err, fetch.KindPrivateAddress)
		if e.Temporary() {
			t.Errorf("%s: temporary", u)
		}
		if !strings.Contains(e.Error(), "resolves to a private address; ") ||
			!strings.Contains(e.Error(), "--allow-private-urls") {
			t.Errorf("message %q", e)
		}
	}
	if n := s.hits.Load(); n != 0 {
		t.Errorf("the server got %d requests", n)
	}

	opts := fetch.Options{AllowPrivate: true}
	if _, got, err := fetchAll(t, fetch.New(opts), s.URL); err != nil || got != text {
		t.Errorf("with AllowPrivate: %q, %v", got, err)
	}
}

func TestConnectError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String() + "/"
	l.Close()
	opts := testOptions()
	opts.Retries = 1
	_, _, err = fetchAll(t, fetch.New(opts), url)
	e := wantKind(t, err, fetch.KindConnect)
	if !e.Temporary() || e.Attempts != 2 || !strings.Contains(e.Error(), "could not connect: ") {
		t.Errorf("%q: temporary %v, %d attempts", e, e.Temporary(), e.Attempts)
	}
}

// stallServer answers after sending first bytes of its body (none: no
// headers either) and then waits until the client gives up.
func stallServer(t *testing.T, first int) *server {
	release := make(chan struct{})
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		if first > 0 {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, strings.Repeat("a", first))
			w.(http.Flusher).Flush()
		}
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before s.Close
	return s
}

func TestTimeoutBeforeHeaders(t *testing.T) {
	s := stallServer(t, 0)
	opts := testOptions()
	opts.Timeout = 200 * time.Millisecond
	opts.Retries = -1
	start := time.Now()
	_, _, err := fetchAll(t, fetch.New(opts), s.URL)
	e := wantKind(t, err, fetch.KindTimeout)
	if !e.Temporary() || !errors.Is(e, context.DeadlineExceeded) {
		t.Errorf("temporary %v, is DeadlineExceeded %v", e.Temporary(), errors.Is(e, context.DeadlineExceeded))
	}
	if want := "fetching " + s.URL + ": timed out after 200ms"; e.Error() != want {
		t.Errorf("message %q, want %q", e, want)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestTimeoutWhileReading(t *testing.T) {
	s := stallServer(t, 8<<10)
	opts := testOptions()
	opts.Timeout = 300 * time.Millisecond
	b, err := fetch.New(opts).Fetch(context.Background(), s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	data, err := io.ReadAll(b)
	wantKind(t, err, fetch.KindTimeout)
	if len(data) != 8<<10 {
		t.Errorf("read %d bytes before the timeout", len(data))
	}
}

func TestCancelStopsRetries(t *testing.T) {
	hit := make(chan struct{}, 10)
	s := newServer(t, func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	opts := testOptions()
	opts.Backoff = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-hit
		cancel()
	}()
	start := time.Now()
	_, err := fetch.New(opts).Fetch(ctx, s.URL)
	e := wantKind(t, err, fetch.KindCanceled)
	if !errors.Is(e, context.Canceled) || e.Temporary() {
		t.Errorf("%q: is Canceled %v, temporary %v", e, errors.Is(e, context.Canceled), e.Temporary())
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
	if s.hits.Load() != 1 {
		t.Errorf("%d requests", s.hits.Load())
	}
}

func TestCancelWhileReading(t *testing.T) {
	s := stallServer(t, 8<<10)
	ctx, cancel := context.WithCancel(context.Background())
	b, err := fetch.New(testOptions()).Fetch(ctx, s.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	buf := make([]byte, 8<<10)
	if _, err := io.ReadFull(b, buf); err != nil {
		t.Fatal(err)
	}
	cancel()
	_, err = b.Read(buf)
	wantKind(t, err, fetch.KindCanceled)
}

func TestInvalidURLs(t *testing.T) {
	f := fetch.New(testOptions())
	for _, tc := range []struct {
		url  string
		kind fetch.Kind
	}{
		{"", fetch.KindInvalidURL},
		{"   ", fetch.KindInvalidURL},
		{"not a url", fetch.KindInvalidURL},
		{"www.gutenberg.org/ebooks/1342.txt", fetch.KindInvalidURL},
		{"http://", fetch.KindInvalidURL},
		{"http:///path", fetch.KindInvalidURL},
		{"http://host:port/", fetch.KindInvalidURL},
		{"http://[::1/", fetch.KindInvalidURL},
		{"ftp://x", fetch.KindScheme},
		{"file:///etc/passwd", fetch.KindScheme},
		{"gopher://x/", fetch.KindScheme},
	} {
		_, err := f.Fetch(context.Background(), tc.url)
		var e *fetch.Error
		if !errors.As(err, &e) || e.Kind != tc.kind || e.Temporary() {
			t.Errorf("Fetch(%q): %v, want kind %s", tc.url, err, tc.kind)
			continue
		}
		if !strings.HasPrefix(e.Error(), "fetching ") {
			t.Errorf("Fetch(%q): message %q", tc.url, e)
		}
	}
}

func TestKindOf(t *testing.T) {
	err := &fetch.Error{URL: "http://x/", Kind: fetch.KindDNS}
	if got := fetch.KindOf(errors.Join(errors.New("x"), err)); got != fetch.KindDNS {
		t.Errorf("KindOf = %q", got)
	}
	if got := fetch.KindOf(errors.New("x")); got != "" {
		t.Errorf("KindOf = %q", got)
	}
}
