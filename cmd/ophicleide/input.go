package main

import (
	"context"
	"io"
	"os"
	"strings"

	"github.com/ophicleide/ophicleide/internal/corpus"
)

// inputSources turns the --input arguments into corpus sources: files,
// or "-" for stdin (gzip is detected by corpus).
func inputSources(e *env, inputs []string) []corpus.Source {
	srcs := make([]corpus.Source, len(inputs))
	for i, in := range inputs {
		srcs[i] = corpus.Source{Name: in, Open: func(context.Context) (io.ReadCloser, error) {
			if in == "-" {
				return io.NopCloser(e.stdin), nil
			}
			return os.Open(in)
		}}
		if in == "-" {
			srcs[i].Name = "stdin"
		}
	}
	return srcs
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
