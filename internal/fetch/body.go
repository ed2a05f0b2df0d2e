package fetch

// The content of a fetched URL as its caller reads it: the Body, its
// reader (errors as *Error, the attempt's timeout), and gunzipping.

import (
	"compress/gzip"
	"context"
	"io"
)

// Body is the content of a fetched URL, as UTF-8. Reads fail with an
// *Error of kind KindTooLarge past Options.MaxBytes, KindTimeout once
// Options.Timeout has run out or when the body comes slower than
// Options.MinRate, KindCanceled when the Fetch context is
// done, KindRead when the connection fails and KindDecode on bad gzip
// data. The caller must Close it; Close may be called while a Read is
// blocked, to abort it.
type Body struct {
	io.ReadCloser
	URL         string // the final URL, after redirects
	ContentType string // media type of the content, without parameters: "text/plain", "text/html", ...
	Charset     string // the charset the content was converted from: "utf-8", "windows-1252", ...
	Length      int64  // length of what Read returns, or -1 if unknown
}

// bodyReader turns the errors of reading the content into *Error.
type bodyReader struct {
	f         *Fetcher
	r         io.Reader
	body      io.Closer // the response body
	ctx, actx context.Context
	cancel    context.CancelFunc
	url       string
	err       error // sticky
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	n, err := b.r.Read(p)
	if err != nil {
		if err != io.EOF {
			err = b.f.classify(b.ctx, b.actx, b.url, err, true)
		}
		b.err = err
	}
	return n, err
}

// Close closes the connection's body and releases the timeout's timer.
func (b *bodyReader) Close() error {
	b.cancel()
	return b.body.Close()
}

// gunzipReader reports the errors of the gzip data itself as decodeError
// and those of the reader beneath as they are.
type gunzipReader struct {
	z   *gzip.Reader
	src *errRecorder
}

type errRecorder struct {
	r   io.Reader
	err error
}

func (e *errRecorder) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && e.err == nil {
		e.err = err
	}
	return n, err
}

func newGunzip(r io.Reader) (io.Reader, error) {
	src := &errRecorder{r: r}
	z, err := gzip.NewReader(src)
	if err != nil {
		return nil, gunzipError(err, src)
	}
	return &gunzipReader{z: z, src: src}, nil
}

func (g *gunzipReader) Read(p []byte) (int, error) {
	n, err := g.z.Read(p)
	if err != nil && err != io.EOF {
		err = gunzipError(err, g.src)
	}
	return n, err
}

func gunzipError(err error, src *errRecorder) error {
	if src.err != nil && src.err != io.EOF {
		return src.err
	}
	return &decodeError{what: "bad gzip data", err: err}
}

type errorString string

func (e errorString) Error() string { return string(e) }
