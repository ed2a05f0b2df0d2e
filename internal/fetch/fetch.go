package fetch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/ophicleide/ophicleide/internal/magic"
)

// Defaults of Options.
const (
	DefaultMaxBytes       = 64 << 20
	DefaultConnectTimeout = 10 * time.Second
	DefaultTimeout        = 5 * time.Minute
	DefaultMaxRedirects   = 5
	DefaultRetries        = 3
	DefaultBackoff        = 500 * time.Millisecond
	DefaultMinRate        = 1 << 10
	DefaultRateWindow     = 30 * time.Second
	DefaultHeaderTimeout  = time.Minute

	// MaxRetryAfter caps the wait a Retry-After header may ask for.
	MaxRetryAfter = 30 * time.Second
)

// Options configure a Fetcher. The zero value gives the defaults; a zero
// field means its default.
type Options struct {
	// MaxBytes limits the content of one URL, counted after gzip
	// decompression and before charset conversion. Default DefaultMaxBytes.
	MaxBytes int64

	// ConnectTimeout limits establishing a connection, TLS handshake
	// included. Default DefaultConnectTimeout.
	ConnectTimeout time.Duration

	// Timeout limits one attempt from the request to the last byte of the
	// body read through Body. Default DefaultTimeout.
	Timeout time.Duration

	// MinRate is the slowest transfer accepted once the response headers
	// have arrived, in bytes per second on the wire, averaged over
	// RateWindow of time spent waiting for the body (time the caller
	// spends between reads does not count). A slower body, a stalled one
	// included, fails with KindTimeout after one window. Default
	// DefaultMinRate; negative: none.
	MinRate int64

	// RateWindow is the period MinRate is averaged over. Default
	// DefaultRateWindow.
	RateWindow time.Duration

	// HeaderTimeout limits the wait for the response headers once the
	// request is sent (a server that accepts and never answers). Default
	// DefaultHeaderTimeout.
	HeaderTimeout time.Duration

	// MaxRedirects is how many redirects are followed. Default
	// DefaultMaxRedirects; negative: none.
	MaxRedirects int

	// AllowPrivate allows connections to loopback, private, link-local,
	// unspecified, multicast, CGNAT and reserved addresses. Leave it false
	// on a server reachable by users (SSRF protection).
	AllowPrivate bool

	// Retries is how many times a temporary failure is retried. Default
	// DefaultRetries; negative: none.
	Retries int

	// Backoff is the wait before the first retry; it doubles for each
	// further retry (up to 30 s or Backoff, whichever is more), with a
	// random jitter of ±50%. Default DefaultBackoff.
	Backoff time.Duration

	// UserAgent is sent with every request. Default "ophicleide/<version>",
	// the version being the main module's (cmd should pass its own).
	UserAgent string
}

func (o Options) withDefaults() Options {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	switch {
	case o.MaxRedirects == 0:
		o.MaxRedirects = DefaultMaxRedirects
	case o.MaxRedirects < 0:
		o.MaxRedirects = 0
	}
	switch {
	case o.Retries == 0:
		o.Retries = DefaultRetries
	case o.Retries < 0:
		o.Retries = 0
	}
	if o.Backoff <= 0 {
		o.Backoff = DefaultBackoff
	}
	switch {
	case o.MinRate == 0:
		o.MinRate = DefaultMinRate
	case o.MinRate < 0:
		o.MinRate = 0
	}
	if o.RateWindow <= 0 {
		o.RateWindow = DefaultRateWindow
	}
	if o.HeaderTimeout <= 0 {
		o.HeaderTimeout = DefaultHeaderTimeout
	}
	if o.UserAgent == "" {
		o.UserAgent = defaultUserAgent()
	}
	return o
}

func defaultUserAgent() string {
	v := "dev"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	return "ophicleide/" + v
}

// Fetcher downloads text URLs. It is safe for concurrent use and keeps
// idle connections for reuse; create one with New and share it.
type Fetcher struct {
	opts      Options
	dialer    *net.Dialer
	client    *http.Client
	transport *http.Transport
}

// New returns a Fetcher with opts, zero fields replaced by their defaults.
func New(opts Options) *Fetcher {
	f := &Fetcher{opts: opts.withDefaults()}
	f.dialer = &net.Dialer{Timeout: f.opts.ConnectTimeout, KeepAlive: 30 * time.Second}
	if !f.opts.AllowPrivate {
		f.dialer.Control = checkDial
	}
	f.transport = &http.Transport{
		Proxy:                  nil, // a proxy would hide the addresses checkDial must see
		DialContext:            f.dialer.DialContext,
		ForceAttemptHTTP2:      true,
		TLSHandshakeTimeout:    f.opts.ConnectTimeout,
		DisableCompression:     true, // gzip is handled here, with limits
		MaxIdleConns:           32,
		IdleConnTimeout:        90 * time.Second,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 1 << 20,
		ResponseHeaderTimeout:  f.opts.HeaderTimeout,
	}
	f.client = &http.Client{Transport: f.transport, CheckRedirect: f.checkRedirect}
	return f
}

// CloseIdleConnections closes the connections kept for reuse. The Fetcher
// stays usable.
func (f *Fetcher) CloseIdleConnections() { f.transport.CloseIdleConnections() }

func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	if s := req.URL.Scheme; s != "http" && s != "https" {
		return &schemeError{scheme: s, redirect: req.URL.String()}
	}
	if len(via) > f.opts.MaxRedirects {
		return &redirectsError{max: f.opts.MaxRedirects}
	}
	return nil
}

// Fetch downloads url (surrounding spaces trimmed) and returns its content
// converted to UTF-8, once its first bytes show it is text.
//
// Only http and https URLs are fetched. Unless Options.AllowPrivate, every
// connection, after redirects too, is refused if its address is private
// (see Options.AllowPrivate). Content-Encoding gzip is decoded, and content
// that starts with the gzip magic number (a .gz file) is gunzipped. Text is
// any text/* type (HTML markup is returned as is), or content served as
// application/octet-stream, application/gzip or without a type that
// http.DetectContentType sees as text. The charset comes from a byte order
// mark, else the Content-Type header, else is utf-8 if the first 4 KiB are
// valid UTF-8 and windows-1252 (a superset of Latin-1) if not; it is
// converted with golang.org/x/text, except UTF-8 which passes unchanged, a
// byte order mark included.
//
// Temporary failures (see Error.Temporary) are retried up to
// Options.Retries times; 429 and 503 answers may lengthen the wait with
// Retry-After. Every error is an *Error; Fetch returns one of kind
// KindCanceled, wrapping ctx.Err(), when ctx is done first. ctx also bounds
// the reads of the Body.
func (f *Fetcher) Fetch(ctx context.Context, rawURL string) (*Body, error) {
	rawURL = strings.TrimSpace(rawURL)
	u, e := parseURL(rawURL)
	if e != nil {
		return nil, e
	}
	for attempt := 1; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, &Error{URL: rawURL, Kind: KindCanceled, Attempts: attempt - 1, Err: err}
		}
		body, retryAfter, e := f.try(ctx, u, rawURL)
		if e == nil {
			return body, nil
		}
		e.Attempts = attempt
		if !e.Temporary() || attempt > f.opts.Retries {
			return nil, e
		}
		t := time.NewTimer(max(f.backoff(attempt), retryAfter))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, &Error{URL: rawURL, Kind: KindCanceled, Attempts: attempt, Err: ctx.Err()}
		case <-t.C:
		}
	}
}

// backoff returns the wait after the attempt-th failure.
func (f *Fetcher) backoff(attempt int) time.Duration {
	limit := max(30*time.Second, f.opts.Backoff)
	d := f.opts.Backoff
	for i := 1; i < attempt && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + rand.N(d) // ±50%
}

// parseRetryAfter returns the wait a Retry-After header asks for, in
// seconds or as an HTTP date, capped at MaxRetryAfter; 0 if none.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		d = time.Duration(min(max(s, 0), int64(MaxRetryAfter/time.Second))) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), MaxRetryAfter)
}

func parseURL(raw string) (*url.URL, *Error) {
	bad := func(why string) *Error {
		return &Error{URL: raw, Kind: KindInvalidURL, Err: &invalidURLError{why}}
	}
	if raw == "" {
		return nil, bad("the URL is empty")
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, bad("not a valid URL: " + err.Error())
	}
	if u.Scheme == "" {
		return nil, bad("not a full URL; it must start with http:// or https://")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, &Error{URL: raw, Kind: KindScheme, Err: &schemeError{scheme: u.Scheme}}
	}
	if u.Hostname() == "" {
		return nil, bad("the URL has no host name")
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// try makes one request. On failure it returns the wait a Retry-After
// header asked for.
func (f *Fetcher) try(ctx context.Context, u *url.URL, raw string) (_ *Body, retryAfter time.Duration, _ *Error) {
	tctx, cancelTimeout := context.WithTimeout(ctx, f.opts.Timeout)
	actx, abort := context.WithCancelCause(tctx)
	var rate *rateReader
	cancel := func() {
		if rate != nil {
			rate.stop()
		}
		abort(nil)
		cancelTimeout()
	}
	ok := false
	defer func() {
		if !ok {
			cancel()
		}
	}()
	req, err := http.NewRequestWithContext(actx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, 0, &Error{URL: raw, Kind: KindInvalidURL, Err: &invalidURLError{"not a valid URL: " + err.Error()}}
	}
	req.Header.Set("User-Agent", f.opts.UserAgent)
	req.Header.Set("Accept", "text/plain, text/*;q=0.9, application/gzip;q=0.5, */*;q=0.1")
	req.Header.Set("Accept-Encoding", "gzip")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, 0, f.classify(ctx, actx, raw, err, false)
	}
	defer func() {
		if !ok {
			resp.Body.Close()
		}
	}()
	var wire io.Reader = resp.Body
	if f.opts.MinRate > 0 {
		rate = newRateReader(resp.Body, f.opts.MinRate, f.opts.RateWindow, abort)
		wire = rate
	}

	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		_, _ = io.CopyN(io.Discard, wire, 4<<10) // lets a short answer's connection be reused
		if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
			retryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return nil, retryAfter, &Error{URL: raw, Kind: KindHTTPStatus, StatusCode: resp.StatusCode}
	}

	mt, params := mediaType(resp.Header.Get("Content-Type"))
	if !mayBeGzip(mt) {
		return nil, 0, &Error{URL: raw, Kind: KindNotText, Err: &notTextError{served: mt}}
	}
	tooLarge := func() error {
		return &Error{URL: raw, Kind: KindTooLarge, Err: &tooLargeError{limit: f.opts.MaxBytes}}
	}
	ce := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding")))
	identity := ce == "" || ce == "identity"
	// Compressed data is never much larger than what it decompresses to
	// (deflate's stored blocks add 5 bytes in 65,535), so the bytes on the
	// wire are limited too: a stream of empty gzip members cannot run on.
	wireLimit := f.opts.MaxBytes + f.opts.MaxBytes/64 + 64<<10
	if (identity && !mustSniff(mt) && resp.ContentLength > f.opts.MaxBytes) || resp.ContentLength > wireLimit {
		return nil, 0, tooLarge().(*Error)
	}

	var r io.Reader = &limitReader{r: wire, n: wireLimit, tooLarge: tooLarge}
	switch {
	case identity:
	case ce == "gzip" || ce == "x-gzip":
		if r, err = newGunzip(r); err != nil {
			return nil, 0, f.classify(ctx, actx, raw, err, true)
		}
	default:
		return nil, 0, &Error{URL: raw, Kind: KindDecode, Err: &decodeError{
			what: "unsupported content encoding", err: errorString(strconv.Quote(ce))}}
	}
	br := bufio.NewReaderSize(r, sniffLen)
	r = br
	gzipped := false
	if head, err := br.Peek(len(gzipMagic)); err != nil && err != io.EOF {
		return nil, 0, f.classify(ctx, actx, raw, err, true)
	} else if bytes.Equal(head, gzipMagic) {
		if r, err = newGunzip(br); err != nil {
			return nil, 0, f.classify(ctx, actx, raw, err, true)
		}
		gzipped = true
	}

	content := bufio.NewReaderSize(&limitReader{r: r, n: f.opts.MaxBytes, tooLarge: tooLarge}, sniffLen)
	head, err := content.Peek(sniffLen)
	atEOF := err == io.EOF
	if err != nil && !atEOF {
		return nil, 0, f.classify(ctx, actx, raw, err, true)
	}
	if f := magic.Compression(head); f != "" {
		return nil, 0, &Error{URL: raw, Kind: KindNotText, Err: &compressedError{format: f, nested: gzipped || !identity}}
	}
	ctype, charset := mt, params["charset"]
	if mustSniff(mt) {
		smt, scs, text := sniff(head)
		if !text {
			return nil, 0, &Error{URL: raw, Kind: KindNotText, Err: &notTextError{served: mt, sniffed: smt}}
		}
		ctype, charset = smt, ""
		if strings.HasPrefix(scs, "utf-16") { // from a byte order mark; its "utf-8" is only a default
			charset = scs
		}
	}
	if bom := bomCharset(head); bom != "" {
		charset = bom
	}
	if charset == "" {
		charset = guessCharset(head, atEOF)
	}
	out, name, err := decoder(content, charset)
	if err != nil {
		return nil, 0, &Error{URL: raw, Kind: KindDecode, Err: err}
	}
	length := int64(-1)
	if identity && !gzipped && name == "utf-8" && resp.ContentLength >= 0 {
		length = resp.ContentLength
	}
	ok = true
	return &Body{
		ReadCloser:  &bodyReader{f: f, r: out, body: resp.Body, ctx: ctx, actx: actx, cancel: cancel, url: raw},
		URL:         resp.Request.URL.String(),
		ContentType: ctype,
		Charset:     name,
		Length:      length,
	}, 0, nil
}
