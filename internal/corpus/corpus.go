// Package corpus turns several inputs (files, stdin, fetched URLs,
// uploads) into one stream of sentences for the trainer: it opens each
// input when reached, decompresses gzip, tokenises, and counts the bytes
// and words of every input.
//
// It knows nothing of where inputs come from: a Source brings its own
// Open function.
package corpus

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"

	"github.com/ophicleide/ophicleide/internal/tokenize"
)

// Source is one input.
type Source struct {
	Name string // shown in errors and statistics: a path, a URL, "upload:NAME"
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// SourceStats counts what one input gave.
type SourceStats struct {
	Name  string
	Bytes int64 // bytes read (after decompression)
	Words int64 // tokens
}

// Reader chains the sentences of its sources. It implements the
// trainer's sentence interface (Scan, Sentence, Err) and reports the
// bytes read so far. Not safe for concurrent use.
type Reader struct {
	ctx     context.Context
	sources []Source
	opts    tokenize.Options

	next   int
	cur    *tokenize.Scanner
	closer io.Closer
	stats  []SourceStats
	done   int64 // bytes of finished sources
	err    error
}

// New returns a Reader over sources, tokenised with opts. Nothing is opened
// before the first Scan.
func New(ctx context.Context, sources []Source, opts tokenize.Options) *Reader {
	return &Reader{ctx: ctx, sources: sources, opts: opts}
}

// Scan advances to the next sentence of the current or a later source.
// Errors (opening, reading, a bad option) stop it; Err names the source.
func (r *Reader) Scan() bool {
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
			return false
		}
		if err := r.ctx.Err(); err != nil {
			r.err = err
			return false
		}
		src := r.sources[r.next]
		r.next++
		r.stats = append(r.stats, SourceStats{Name: src.Name})
		rc, err := src.Open(r.ctx)
		if err != nil {
			r.err = fmt.Errorf("%s: %w", src.Name, err)
			return false
		}
		in, closer, err := decompress(rc)
		if err != nil {
			rc.Close()
			r.err = fmt.Errorf("%s: %w", src.Name, err)
			return false
		}
		sc, err := tokenize.NewScanner(in, r.opts)
		if err != nil {
			closer.Close()
			r.err = err
			return false
		}
		r.cur, r.closer = sc, closer
	}
	return false
}

// finish closes the current source and records its figures.
func (r *Reader) finish() {
	st := &r.stats[len(r.stats)-1]
	st.Bytes = r.cur.Bytes()
	r.done += st.Bytes
	if err := r.cur.Err(); err != nil {
		r.err = fmt.Errorf("%s: %w", st.Name, err)
	}
	if err := r.closer.Close(); err != nil && r.err == nil {
		r.err = fmt.Errorf("%s: %w", st.Name, err)
	}
	r.cur, r.closer = nil, nil
}

// Close closes the source being read, if any (after an early stop).
func (r *Reader) Close() error {
	if r.closer == nil {
		return nil
	}
	err := r.closer.Close()
	r.cur, r.closer = nil, nil
	return err
}

// Sentence returns the current sentence, valid until the next Scan.
func (r *Reader) Sentence() [][]byte { return r.cur.Sentence() }

// Err returns the first error, naming its source.
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

type multiCloser struct {
	io.Reader
	closers []io.Closer
}

func (m multiCloser) Close() error {
	var first error
	for _, c := range m.closers {
		if err := c.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// decompress returns rc's content, gunzipped when it starts with gzip's
// magic bytes.
func decompress(rc io.ReadCloser) (io.Reader, io.Closer, error) {
	br := bufio.NewReaderSize(rc, 256<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, fmt.Errorf("not a valid gzip stream: %w", err)
		}
		return zr, multiCloser{zr, []io.Closer{zr, rc}}, nil
	}
	return br, rc, nil
}
