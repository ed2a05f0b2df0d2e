package native

import (
	"context"
	"errors"
	"io"
	"slices"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/word2vec"
)

// Precheck estimates the memory that training a model with p from uploads
// alone will need on this engine, reading them with the worker's limits,
// and refuses the model with an EINVALID error (Field "params") naming the
// estimate and the limit when it is over the engine's MemoryLimit: the
// user hears it when creating the model, not minutes later. It reads the
// uploads once (the counting pass, no training), in the order of their
// names. Invalid parameters are Validate's error; any other problem of the
// text (too large, no frequent word) is left to the job, which fails with
// its reason as for models trained from URLs. Without a memory limit it
// reads nothing and returns nil.
func (e *Engine) Precheck(ctx context.Context, p ophicleide.Params, uploads map[string]io.Reader, limits corpus.Limits) error {
	if e.cfg.MemoryLimit <= 0 {
		return nil
	}
	cfg, tok, err := config(p)
	if err != nil {
		return err
	}
	e.cfg.apply(&cfg)
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
	src := corpus.NewWithLimits(ctx, srcs, tokenize.Options{Mode: tok}, limits)
	defer src.Close()
	_, _, err = word2vec.Estimate(ctx, cfg, src)
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
