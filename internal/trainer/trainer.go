// Package trainer is the seam between the job runner (internal/worker)
// and the engines that train word vectors: the Engine interface, what an
// engine is given (Job, Inputs) and what it gives back (Result,
// PanicError). Engines live in packages of their own under it
// (trainer/native: internal/word2vec in this process); the worker knows
// only this package, and cmd/ophicleide chooses the engine.
//
// Inputs are opened by the worker's functions (URLs through its fetcher,
// with its address checks; uploads from the store) and bounded by its
// limits, whatever the engine: an engine reads them as one sentence stream
// (Inputs.Sentences) and never fetches on its own. The one exception is
// an engine that declares URL schemes of distributed storage it reads
// itself (Engine.Schemes: s3a://, hdfs://, ... for Spark): those URLs are
// handed over as Inputs.Paths and never pass through the worker.
package trainer

import (
	"context"
	"fmt"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Engine trains word vectors. One engine serves every worker of a process:
// its methods are safe for concurrent use.
type Engine interface {
	// Validate reports whether the engine can train a model with p: nil,
	// or an EINVALID *ophicleide.Error whose Field names the parameter at
	// fault by its API (JSON) name. It reads nothing; the API calls it
	// before a model is stored, so a request the engine cannot train is a
	// 400, not a failed model.
	Validate(p ophicleide.Params) error

	// Train trains a model with job.Params from job.Inputs, calling
	// job.Progress as it goes, and returns the vectors and statistics.
	// It stops soon after ctx is cancelled and returns an error then
	// (ctx.Err() or one wrapping it). Its errors:
	//   - an *ophicleide.Error: a failure written for users (its Message
	//     is the model's failure reason), e.g. training diverged, too
	//     little text, over the memory limit, parameters refused;
	//   - an error of reading job.Inputs, returned as it is or wrapped
	//     with %w, which the worker explains (limits, fetch failures);
	//   - a *PanicError for a panic in a goroutine of the engine's own;
	//   - anything else, which the worker logs and shows as an internal
	//     error.
	Train(ctx context.Context, job Job) (*Result, error)

	// Schemes are the URL schemes besides http and https that the engine
	// reads itself for a model with p (Inputs.Paths), as the operator
	// allowed them; nil for an engine that reads only what the worker
	// fetches. The API accepts URLs of these schemes for such a model.
	Schemes(p ophicleide.Params) []string
}

// Job is one model to train, as the worker hands it to an engine.
type Job struct {
	// ID is the model's, Attempt the claim of its job (1 for the first):
	// an engine that runs work elsewhere names that work by them, so that
	// a later attempt can find and stop what an earlier one left running.
	ID      string
	Attempt int
	Params  ophicleide.Params
	Inputs  Inputs
	// Progress, when set, is called from one goroutine at a time, about
	// every ProgressInterval (the engine's default when 0) and at the end
	// of each phase. Phases are those of ophicleide.Progress (fetching,
	// counting, training); the worker reports "saving" itself.
	Progress         func(ophicleide.Progress)
	ProgressInterval time.Duration
}

// Inputs are a model's texts, ready to read.
type Inputs struct {
	// Sources in order: the model's URLs, then its uploads. Their Open
	// functions are the worker's: fetch errors are already written for
	// users, uploads come from the store.
	Sources []corpus.Source
	// Limits bound what is read of Sources (per input, in all, in time,
	// after decompression); Sentences applies them.
	Limits corpus.Limits
	// Paths are the model's URLs that the engine reads itself (of the
	// schemes its Schemes named), in order; they are not in Sources.
	Paths []string
	// Fetched reports that the model has URLs: reading its inputs is
	// shown as the phase "fetching".
	Fetched bool
}

// Sentences opens the inputs, one after another as they are reached, as
// one stream of sentences tokenised with opts and bounded by in.Limits.
// The caller closes it; its Stats are the figures Result.Stats.Sources
// reports (see SourceStats).
func (in Inputs) Sentences(ctx context.Context, opts tokenize.Options) *corpus.Reader {
	return corpus.NewWithLimits(ctx, in.Sources, opts, in.Limits)
}

// SourceStats converts the corpus reader's figures per input to the
// domain's.
func SourceStats(stats []corpus.SourceStats) []ophicleide.SourceStats {
	var out []ophicleide.SourceStats
	for _, s := range stats {
		out = append(out, ophicleide.SourceStats{URL: s.Name, Bytes: s.Bytes, Words: s.Words})
	}
	return out
}

// Result is a trained model.
type Result struct {
	// Vectors has its rows in descending frequency (the order exports
	// and evaluators expect). The worker stores it (vectors.Compact).
	Vectors *vectors.Set
	// Stats describe the run: words read, vocabulary, training time,
	// words per second and the figures per input.
	Stats ophicleide.Stats
	// Params are the effective parameters of the run: Job.Params with
	// every default the engine applied made explicit (the seed
	// included), Engine named. The worker stores them with the model.
	Params ophicleide.Params
}

// PanicError is a panic while training, a bug: the worker fails that model
// and goes on. An engine returns one for a panic in a goroutine of its own,
// which no caller could recover; the worker makes one of a panic in its
// own goroutine.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("internal error in the trainer: %v", e.Value) }
