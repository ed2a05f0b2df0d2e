package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/fetch"
)

// inputSources turns the --input arguments into corpus sources: files,
// "-" for stdin, or http(s) URLs read through the fetcher (gzip is
// detected by corpus).
func inputSources(e *env, inputs []string, f *fetch.Fetcher) []corpus.Source {
	srcs := make([]corpus.Source, len(inputs))
	for i, in := range inputs {
		srcs[i] = corpus.Source{Name: in, Open: func(ctx context.Context) (io.ReadCloser, error) {
			switch {
			case in == "-":
				return io.NopCloser(e.stdin), nil
			case isURL(in):
				b, err := f.Fetch(ctx, in)
				if err != nil {
					return nil, err
				}
				return b, nil
			}
			return os.Open(in)
		}}
		if in == "-" {
			srcs[i].Name = "stdin"
		}
	}
	return srcs
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// inputSize sums the sizes of regular input files (0 when unknown, e.g.
// stdin or compressed input).
func inputSize(inputs []string) int64 {
	var n int64
	for _, in := range inputs {
		if in == "-" || strings.HasSuffix(in, ".gz") || isURL(in) {
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
