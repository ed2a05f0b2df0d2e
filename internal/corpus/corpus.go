// Package corpus turns several inputs (files, stdin, fetched URLs,
// uploads) into one stream of sentences for the trainer: it opens each
// input when reached, decompresses gzip, tokenises, and counts the bytes
// and words of every input.
//
// It bounds what it reads (see Limits): the text of one input and of all
// inputs together, counted after decompression, and optionally the time
// spent reading them. Input compressed more than once (gzip inside gzip,
// the usual decompression bomb) or with a format other than gzip is
// refused rather than decompressed.
//
// It knows nothing of where inputs come from: a Source brings its own
// Open function.
package corpus

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/ophicleide/ophicleide/internal/magic"

	"github.com/ophicleide/ophicleide/internal/tokenize"
)

// Source is one input.
type Source struct {
	Name string // shown in errors and statistics: a path, a URL, "upload:NAME"

	// Open opens the input. ctx bounds the reading too: a reader that may
	// block (a network body) must return once ctx is done, as the Body of
	// internal/fetch does.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// SourceStats counts what one input gave.
type SourceStats struct {
	Name  string
	Bytes int64 // bytes read (after decompression)
	Words int64 // tokens
}

// Defaults of Limits.
const (
	DefaultMaxSourceBytes = 64 << 20
	DefaultMaxTotalBytes  = 256 << 20
)

// Limits bound what a Reader reads. The zero value gives the defaults; a
// zero field means its default, a negative one no limit.
type Limits struct {
	// MaxSourceBytes limits the text of one source, counted after all
	// decompression. Default DefaultMaxSourceBytes.
	MaxSourceBytes int64

	// MaxTotalBytes limits the text of all sources together, counted
	// after decompression. Default DefaultMaxTotalBytes.
	MaxTotalBytes int64

	// MaxReadTime limits the time from the first Scan until the last
	// source is read to its end, opening (fetching) every source included.
	// Zero or negative: no limit (the caller's context still applies).
	MaxReadTime time.Duration
}

func (l Limits) withDefaults() Limits {
	if l.MaxSourceBytes == 0 {
		l.MaxSourceBytes = DefaultMaxSourceBytes
	}
	if l.MaxTotalBytes == 0 {
		l.MaxTotalBytes = DefaultMaxTotalBytes
	}
	return l
}

// Reader chains the sentences of its sources. It implements the
// trainer's sentence interface (Scan, Sentence, Err) and reports the
// bytes read so far. Not safe for concurrent use.
type Reader struct {
	parent  context.Context
	ctx     context.Context // parent, with Limits.MaxReadTime from the first Scan
	stop    context.CancelFunc
	sources []Source
	opts    tokenize.Options
	limits  Limits

	next   int
	cur    *tokenize.Scanner
	closer io.Closer
	stats  []SourceStats
	done   int64 // bytes of finished sources
	err    error
}

// New returns a Reader over sources, tokenised with opts, with the default
// Limits. Nothing is opened before the first Scan.
func New(ctx context.Context, sources []Source, opts tokenize.Options) *Reader {
	return NewWithLimits(ctx, sources, opts, Limits{})
}

// NewWithLimits returns a Reader over sources, tokenised with opts and
// bounded by limits (zero fields: the defaults). Nothing is opened before
// the first Scan.
func NewWithLimits(ctx context.Context, sources []Source, opts tokenize.Options, limits Limits) *Reader {
	return &Reader{parent: ctx, ctx: ctx, sources: sources, opts: opts, limits: limits.withDefaults()}
}

// errReadTime is the cause of the context of a Reader whose MaxReadTime ran out.
var errReadTime = errors.New("corpus: the time limit for reading the inputs ran out")

// Scan advances to the next sentence of the current or a later source.
// Errors (opening, reading, a bad option, a limit) stop it; Err tells them.
func (r *Reader) Scan() bool {
	if r.stop == nil && r.err == nil {
		r.stop = func() {}
		if r.limits.MaxReadTime > 0 {
			r.ctx, r.stop = context.WithTimeoutCause(r.parent, r.limits.MaxReadTime, errReadTime)
		}
	}
	for r.err == nil {
		if r.cur != nil {
			if r.cur.Scan() {
				r.stats[len(r.stats)-1].Words += int64(len(r.cur.Sentence()))
				return true
			}
			r.finish()
			continue
		}
		if r.next == len(r.sources) {
			r.stop() // releases the timer; a finished Reader has nothing left to time
			return false
		}
		if err := r.ctx.Err(); err != nil {
			r.err = err
			if context.Cause(r.ctx) == errReadTime && r.parent.Err() == nil {
				r.err = &LimitError{Source: r.sources[r.next].Name, Total: true, Duration: r.limits.MaxReadTime, Err: err}
			}
			r.stop()
			return false
		}
		src := r.sources[r.next]
		r.next++
		r.stats = append(r.stats, SourceStats{Name: src.Name})
		rc, err := src.Open(r.ctx)
		if err != nil {
			r.fail(src.Name, err)
			return false
		}
		in, err := r.decompress(src.Name, &ctxReader{ctx: r.ctx, r: rc})
		if err != nil {
			rc.Close()
			r.fail(src.Name, err)
			return false
		}
		sc, err := tokenize.NewScanner(r.limit(src.Name, in), r.opts)
		if err != nil {
			rc.Close()
			r.err = err
			return false
		}
		r.cur, r.closer = sc, rc
	}
	return false
}

// limit bounds in by what remains of MaxSourceBytes and MaxTotalBytes.
func (r *Reader) limit(name string, in io.Reader) io.Reader {
	l := &limitReader{r: in, n: -1}
	if m := r.limits.MaxSourceBytes; m > 0 {
		l.n, l.err = m, &LimitError{Source: name, Limit: m}
	}
	if m := r.limits.MaxTotalBytes; m > 0 && (l.n < 0 || m-r.done < l.n) {
		l.n, l.err = max(m-r.done, 0), &LimitError{Source: name, Limit: m, Total: true}
	}
	if l.n < 0 {
		return in
	}
	return l
}

// fail records err, met while opening or reading the source name, as the
// Reader's error: a *LimitError or *CompressionError as it is or, when MaxReadTime ran out, a
// new one; anything else in a *SourceError.
func (r *Reader) fail(name string, err error) {
	var (
		le *LimitError
		ce *CompressionError
	)
	switch {
	case errors.As(err, &le):
		r.err = le
	case errors.As(err, &ce):
		r.err = ce
	case context.Cause(r.ctx) == errReadTime && r.parent.Err() == nil:
		r.err = &LimitError{Source: name, Total: true, Duration: r.limits.MaxReadTime, Err: err}
	default:
		r.err = &SourceError{Source: name, Err: err}
	}
	r.stop()
}

// finish closes the current source and records its figures.
func (r *Reader) finish() {
	st := &r.stats[len(r.stats)-1]
	st.Bytes = r.cur.Bytes()
	r.done += st.Bytes
	if err := r.cur.Err(); err != nil {
		r.fail(st.Name, err)
	}
	if err := r.closer.Close(); err != nil && r.err == nil {
		r.fail(st.Name, err)
	}
	r.cur, r.closer = nil, nil
}

// Close closes the source being read, if any (after an early stop), and
// releases the timer of Limits.MaxReadTime.
func (r *Reader) Close() error {
	if r.stop != nil {
		r.stop()
	}
	if r.closer == nil {
		return nil
	}
	err := r.closer.Close()
	r.cur, r.closer = nil, nil
	return err
}

// Sentence returns the current sentence, valid until the next Scan.
func (r *Reader) Sentence() [][]byte { return r.cur.Sentence() }

// Err returns the first error: a *LimitError when a limit was reached, a
// *SourceError naming the source that failed, the context's error when the
// caller's context ended it, or a *tokenize.OptionError.
func (r *Reader) Err() error { return r.err }

// Bytes is the input read so far, over all sources.
func (r *Reader) Bytes() int64 {
	if r.cur != nil {
		return r.done + r.cur.Bytes()
	}
	return r.done
}

// Stats returns the figures of the sources opened so far.
func (r *Reader) Stats() []SourceStats { return append([]SourceStats(nil), r.stats...) }

// ctxReader fails its reads once ctx is done, for sources whose reads do
// not watch the context themselves (files).
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// limitReader returns at most n bytes of r and then, if r has more, err;
// errors are sticky.
type limitReader struct {
	r    io.Reader
	n    int64 // bytes still allowed
	err  error // returned past the limit
	fail error // sticky
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.fail != nil {
		return 0, l.fail
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1] // one byte more than allowed tells whether there is more
	}
	n, err := l.r.Read(p)
	if int64(n) > l.n {
		n, l.n, l.fail = int(l.n), 0, l.err
		return n, l.fail
	}
	l.n -= int64(n)
	if err != nil {
		l.fail = err
	}
	return n, err
}

// decompress returns the content of in, gunzipped when it starts with
// gzip's magic number. A gzip stream whose content is compressed again, or
// content compressed with another format, is a *CompressionError.
func (r *Reader) decompress(name string, in io.Reader) (io.Reader, error) {
	br := bufio.NewReaderSize(in, 256<<10)
	head, err := br.Peek(magic.Len)
	if err != nil && err != io.EOF {
		return nil, err
	}
	switch f := magic.Compression(head); f {
	case "":
		return br, nil
	case "gzip":
	default:
		return nil, &CompressionError{Source: name, Format: f}
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("not a valid gzip stream: %w", err)
	}
	zbr := bufio.NewReaderSize(zr, 64<<10)
	head, err = zbr.Peek(magic.Len)
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("not a valid gzip stream: %w", err)
	}
	if f := magic.Compression(head); f != "" {
		return nil, &CompressionError{Source: name, Format: f, Nested: true}
	}
	return zbr, nil
}
