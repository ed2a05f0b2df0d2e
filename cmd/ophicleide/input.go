package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ophicleide/ophicleide/internal/tokenize"
)

// corpusSource chains the sentences of several inputs (files, "-" for
// stdin, gzip-compressed when the name ends in .gz or the data starts with
// gzip's magic bytes). Inputs are opened one at a time, when reached.
type corpusSource struct {
	ctx    context.Context
	e      *env
	inputs []string
	opts   tokenize.Options

	next    int
	cur     *tokenize.Scanner
	closer  io.Closer
	done    int64 // bytes of inputs already finished
	err     error
	current string
}

func newCorpusSource(ctx context.Context, e *env, inputs []string, opts tokenize.Options) *corpusSource {
	return &corpusSource{ctx: ctx, e: e, inputs: inputs, opts: opts}
}

// Scan implements word2vec.Sentences.
func (s *corpusSource) Scan() bool {
	for s.err == nil {
		if s.cur != nil {
			if s.cur.Scan() {
				return true
			}
			if err := s.cur.Err(); err != nil {
				s.err = fmt.Errorf("%s: %w", s.current, err)
			}
			s.done += s.cur.Bytes()
			s.closer.Close()
			s.cur = nil
			continue
		}
		if s.next == len(s.inputs) {
			return false
		}
		if err := s.ctx.Err(); err != nil {
			s.err = err
			return false
		}
		s.current = s.inputs[s.next]
		s.next++
		r, c, err := s.open(s.current)
		if err != nil {
			s.err = err
			return false
		}
		sc, err := tokenize.NewScanner(r, s.opts)
		if err != nil {
			c.Close()
			s.err = err
			return false
		}
		s.cur, s.closer = sc, c
	}
	return false
}

// Sentence implements word2vec.Sentences.
func (s *corpusSource) Sentence() [][]byte { return s.cur.Sentence() }

// Err implements word2vec.Sentences.
func (s *corpusSource) Err() error { return s.err }

// Bytes is the input read so far (compressed inputs count what the
// tokeniser read, i.e. uncompressed bytes).
func (s *corpusSource) Bytes() int64 {
	if s.cur != nil {
		return s.done + s.cur.Bytes()
	}
	return s.done
}

type readCloser struct {
	io.Reader
	close func() error
}

func (r readCloser) Close() error { return r.close() }

func (s *corpusSource) open(name string) (io.Reader, io.Closer, error) {
	var f io.ReadCloser
	if name == "-" {
		f = io.NopCloser(s.e.stdin)
	} else {
		file, err := os.Open(name)
		if err != nil {
			return nil, nil, err
		}
		f = file
	}
	br := bufio.NewReaderSize(f, 256<<10)
	magic, _ := br.Peek(2)
	if strings.HasSuffix(name, ".gz") || (len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
		zr, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: not a gzip file: %w", name, err)
		}
		return zr, readCloser{zr, func() error { zr.Close(); return f.Close() }}, nil
	}
	return br, f, nil
}

// inputSize sums the sizes of regular input files (0 when unknown, e.g.
// stdin or compressed input).
func inputSize(inputs []string) int64 {
	var n int64
	for _, in := range inputs {
		if in == "-" || strings.HasSuffix(in, ".gz") {
			return 0
		}
		fi, err := os.Stat(in)
		if err != nil || !fi.Mode().IsRegular() {
			return 0
		}
		n += fi.Size()
	}
	return n
}
