// Package native is the native training engine: it trains a model in this
// process with internal/word2vec (Hogwild goroutines over the text kept as
// word ids, in memory or, when it does not fit, in a mapped temporary
// file), behind the trainer.Engine seam the worker calls.
// It owns what is particular to that engine: the mapping of the API's
// parameters to word2vec's configuration and their validation (errors
// naming the API field), the threads and memory limit of a run, and the
// memory estimate of models whose text is uploaded (Precheck).
package native

import (
	"context"
	"errors"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"github.com/ophicleide/ophicleide/internal/word2vec"
)

// Config tunes the engine; the zero value trains with all cores and no
// memory limit, its corpora in memory.
type Config struct {
	Threads int // training goroutines of one run; 0: all cores
	// MemoryLimit is the bytes one run may use (matrices, and the text as
	// ids while it is in memory); 0: no limit. Text that would not fit
	// beside the matrices goes to a temporary file in TempDir instead.
	MemoryLimit int64
	// TempDir is where a run keeps its text as ids (4 bytes a word) when
	// it does not fit in MemoryLimit: a file unlinked as soon as it is
	// created, so a crash leaves nothing. The server gives a directory
	// under its data directory; "" is os.TempDir().
	TempDir string
	// CountLimit is word2vec.Config.CountLimit for every run: the distinct
	// words counted before the rarest are pruned; 0 derives it from
	// MemoryLimit (none without one).
	CountLimit int
}

// apply sets the engine's share of cfg: threads, limits, temporary
// directory.
func (c Config) apply(cfg *word2vec.Config) {
	cfg.Threads, cfg.MemoryLimit = c.Threads, c.MemoryLimit
	cfg.TempDir, cfg.CountLimit = c.TempDir, c.CountLimit
}

// Engine trains with word2vec. Create one with New; the zero Engine is
// New(Config{}). It is safe for concurrent use.
type Engine struct{ cfg Config }

var _ trainer.Engine = (*Engine)(nil)

// New returns an engine with cfg.
func New(cfg Config) *Engine { return &Engine{cfg: cfg} }

// Validate implements trainer.Engine (see the package function Validate).
func (e *Engine) Validate(p ophicleide.Params) error { return Validate(p) }

// Schemes implements trainer.Engine: the native engine reads only what
// the worker fetches.
func (e *Engine) Schemes(ophicleide.Params) []string { return nil }

// Train implements trainer.Engine: word2vec's counting pass over
// job.Inputs, then training. Its failures for users (invalid parameters,
// no words, no frequent word, over the memory limit, diverged) are
// EINVALID *ophicleide.Errors whose Message is the reason shown.
func (e *Engine) Train(ctx context.Context, job trainer.Job) (*trainer.Result, error) {
	cfg, tok, err := config(job.Params)
	if err != nil {
		return nil, failure(err)
	}
	e.cfg.apply(&cfg)
	cfg.ProgressInterval = job.ProgressInterval
	if job.Progress != nil {
		cfg.Progress = func(p word2vec.Progress) {
			phase := string(p.Phase)
			if p.Phase == word2vec.PhaseCounting && job.Inputs.Fetched {
				phase = "fetching"
			}
			job.Progress(ophicleide.Progress{Phase: phase, Fraction: p.Fraction, WordsPerSecond: p.WordsPerSecond, EtaSeconds: p.ETA.Seconds()})
		}
	}
	src := job.Inputs.Sentences(ctx, tokenize.Options{Mode: tok})
	defer src.Close()
	res, err := word2vec.Train(ctx, cfg, src)
	if err != nil {
		return nil, failure(err)
	}
	return &trainer.Result{Vectors: res.Vectors, Stats: ophicleide.Stats{
		CorpusWords: res.Stats.CorpusWords, VocabSize: res.Stats.VocabSize, TrainingSeconds: res.Stats.TrainSeconds,
		WordsPerSecond: res.Stats.WordsPerSecond, Sources: trainer.SourceStats(src.Stats()),
	}, Params: Effective(job.Params)}, nil
}

// failure turns word2vec's errors into the seam's: its typed errors,
// written for users, into EINVALID application errors carrying their
// message; a full temporary directory into EFULL and another failure of
// the corpus's temporary file into EINTERNAL, both with word2vec's
// message (it names no path); a panic of a training goroutine into a
// *trainer.PanicError. Errors of reading the inputs and cancellation pass
// unchanged.
func failure(err error) error {
	var (
		pe *word2vec.PanicError
		ce *word2vec.ConfigError
		de *word2vec.DivergedError
		me *word2vec.MemoryError
		ve *word2vec.VocabularyError
		se *word2vec.DiskSpaceError
		fe *word2vec.CorpusFileError
	)
	switch {
	case errors.As(err, &pe):
		return &trainer.PanicError{Value: pe.Value, Stack: pe.Stack}
	case errors.As(err, &se):
		return &ophicleide.Error{Code: ophicleide.EFULL, Message: "the server ran out of room: " + se.Error() + "; try again later or ask its operator", Err: err}
	case errors.As(err, &fe):
		return &ophicleide.Error{Code: ophicleide.EINTERNAL, Message: "the server could not keep the corpus on disk (" + fe.Error() + ")", Err: err}
	case errors.As(err, &ce):
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: jsonNames[ce.Field], Message: "invalid training parameters: " + ce.Error(), Err: err}
	case errors.As(err, &de), errors.As(err, &me), errors.As(err, &ve), errors.Is(err, word2vec.ErrEmptyCorpus):
		return &ophicleide.Error{Code: ophicleide.EINVALID, Message: err.Error(), Err: err}
	}
	return err
}
