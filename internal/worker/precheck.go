package worker

import (
	"context"
	"errors"
	"io"
	"slices"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/params"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/word2vec"
)

// Precheck estimates the memory that training a model from uploads alone
// will need, as a worker with cfg would train it, and refuses the model
// with an EINVALID error naming the estimate and the limit when it is over
// cfg.MemoryLimit: the user hears it when creating the model, not minutes
// later. It reads the uploads once (the counting pass, no training). Any
// other problem of the text (too large, no frequent word) is left to the
// job, which fails with its reason as for models trained from URLs.
func Precheck(ctx context.Context, cfg Config, p ophicleide.Params, uploads map[string]io.Reader) error {
	if cfg.MemoryLimit <= 0 {
		return nil
	}
	tc, tok, err := params.Config(p)
	if err != nil {
		return err
	}
	tc.Threads, tc.MemoryLimit = cfg.Threads, cfg.MemoryLimit
	names := make([]string, 0, len(uploads))
	for name := range uploads {
		names = append(names, name)
	}
	slices.Sort(names)
	var srcs []corpus.Source
	for _, name := range names {
		u := uploads[name]
		srcs = append(srcs, corpus.Source{Name: "upload:" + name, Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(u), nil
		}})
	}
	src := corpus.NewWithLimits(ctx, srcs, tokenize.Options{Mode: tok}, cfg.Corpus)
	defer src.Close()
	_, _, err = word2vec.Estimate(ctx, tc, src)
	var (
		ce *word2vec.ConfigError
		me *word2vec.MemoryError
	)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.As(err, &ce):
		return err
	case errors.As(err, &me):
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "params", Err: me,
			Message: me.Error() + " per job on this server; lower dim, raise minCount or set maxVocab"}
	}
	return nil // the job will fail with this reason
}
