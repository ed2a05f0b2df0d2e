// Package worker runs training jobs: it claims a job from the store with a
// lease (renewed while it works), opens the model's URLs and uploads,
// has its engine train on them, stores the vectors and ends the job as
// ready or failed with a reason a user understands. Transient network
// failures are retried by the fetcher it is given; what still fails ends
// the model as failed. A worker shutting down hands its job back to the
// queue.
//
// It speaks to the store through the domain interfaces, fetches through a
// function it is given and trains through a trainer.Engine, so it knows
// nothing of bbolt, MongoDB, HTTP or Word2Vec.
package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// FetchFunc opens the body of a URL (internal/fetch in production, which
// retries transient failures). Its errors should say what went wrong in
// words a user understands: they become the model's failure reason.
type FetchFunc func(ctx context.Context, url string) (io.ReadCloser, error)

// Store is what a worker needs of the store.
type Store interface {
	ophicleide.JobQueue
	FindModel(ctx context.Context, id string) (*ophicleide.Model, error)
	OpenUpload(ctx context.Context, modelID, name string) (io.ReadCloser, error)
}

// EvaluateFunc scores a trained model's vectors (trained with the
// effective params p) on evaluation sets; service.EvaluateBundled in
// production. Its failure never fails the model: the worker logs it and
// stores no evaluation.
type EvaluateFunc func(ctx context.Context, set *vectors.Set, p ophicleide.Params) (*ophicleide.Evaluation, error)

// NotifyFunc posts a JSON body to a model's callback URL (the original's
// "callback": a webhook told when the model is ready or failed).
type NotifyFunc func(ctx context.Context, url string, body []byte) error

// Config tunes a worker's job loop and the reading of inputs; zero fields
// take the defaults. How a model is trained (threads, memory) is its
// engine's configuration.
type Config struct {
	Notify NotifyFunc // when set, models with a callback get {"model": ...} when they end
	// Evaluate, when set, scores every trained model before it is stored
	// (phase "evaluating"); nil: models are stored without an evaluation.
	Evaluate EvaluateFunc
	Owner    string        // lease owner name, e.g. host:pid/n
	Lease    time.Duration // default 30 s; renewed every third of it
	Poll     time.Duration // idle wait between claims, default 2 s (jittered)
	Progress time.Duration // how often progress is stored, default 1 s
	// MaxAttempts is how many claims a job gets: a job claimed that many
	// times without ending (its worker crashed, was killed, or lost the
	// store each time) ends failed at the next claim, so a job that kills
	// its worker cannot crash-loop a fleet. Default 3. Jobs handed back by
	// a worker shutting down do not count.
	MaxAttempts int
	// MaxJobTime limits a job's wall-clock time, fetching included; a job
	// over it ends failed. 0: no limit.
	MaxJobTime time.Duration
	// Corpus limits the text of one model, per input and in all, counted
	// after decompression, and the time spent reading it (zero fields:
	// corpus's defaults). The worker opens the inputs for every engine,
	// so their limits are the worker's: the engine reads within them.
	Corpus corpus.Limits
	// Retry is how long a worker waits before its next claim after a
	// transient store failure (the store unavailable or full), default 30 s.
	Retry time.Duration
}

// Worker claims and runs jobs. Create one with New.
type Worker struct {
	store  Store
	engine trainer.Engine
	fetch  FetchFunc
	log    *slog.Logger
	cfg    Config
	wake   chan struct{}
}

// New returns a worker that trains with engine.
func New(store Store, engine trainer.Engine, fetch FetchFunc, log *slog.Logger, cfg Config) *Worker {
	if cfg.Lease <= 0 {
		cfg.Lease = 30 * time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 2 * time.Second
	}
	if cfg.Progress <= 0 {
		cfg.Progress = time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 3
	}
	if cfg.Retry <= 0 {
		cfg.Retry = 30 * time.Second
	}
	if cfg.Owner == "" {
		cfg.Owner = fmt.Sprintf("worker-%08x", rand.Uint32())
	}
	return &Worker{store: store, engine: engine, fetch: fetch, log: log.With("worker", cfg.Owner), cfg: cfg, wake: make(chan struct{}, 1)}
}

// Wake makes an idle worker look for a job now (a model was just created
// in this process).
func (w *Worker) Wake() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run claims and runs jobs until ctx ends. A job running then is handed
// back to the queue, so another worker (or this one after a restart)
// resumes it. Store errors are logged and retried after a pause.
func (w *Worker) Run(ctx context.Context) {
	idle := w.cfg.Poll
	for ctx.Err() == nil {
		ran, err := w.runOnceSafe(ctx)
		if err != nil && ctx.Err() == nil {
			w.log.Error("running a job", "err", err)
		}
		if errors.Is(err, errTransient) {
			// The store failed under a job (unavailable, full): its lease
			// lapses and it is claimed again later, counting an attempt.
			select {
			case <-ctx.Done():
			case <-time.After(w.cfg.Retry):
			}
			continue
		}
		if ran && err == nil {
			idle = w.cfg.Poll
			continue
		}
		// Idle: wait with jitter so many workers do not poll in step, and
		// back off (up to 4 x Poll) while the queue stays empty; a job
		// created in this process wakes the worker at once.
		wait := idle/2 + rand.N(idle)
		idle = min(2*idle, 4*w.cfg.Poll)
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-time.After(wait):
		}
	}
}

// runOnceSafe is RunOnce that survives a panic outside the job's own
// recovery (in the store, say): it is logged and returned as an error.
func (w *Worker) runOnceSafe(ctx context.Context) (ran bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			w.log.Error("panic in the worker loop", "panic", r, "stack", string(debug.Stack()))
			ran, err = true, fmt.Errorf("panic: %v", r)
		}
	}()
	return w.RunOnce(ctx)
}

// errTransient is returned by RunOnce when the store failed under a job
// in a way that may pass (unavailable, full): the job was left to be
// claimed again rather than failed for good.
var errTransient = errors.New("transient store failure; the job will be retried")

// RunOnce claims one job and runs it to its end. It reports whether there
// was a job.
func (w *Worker) RunOnce(ctx context.Context) (bool, error) {
	lease, err := w.store.ClaimJob(ctx, w.cfg.Owner, w.cfg.Lease)
	if err != nil || lease == nil {
		return false, err
	}
	return true, w.runJob(ctx, lease)
}

// transient reports whether err is a store failure that may pass.
func transient(err error) bool {
	switch ophicleide.ErrorCode(err) {
	case ophicleide.EUNAVAILABLE, ophicleide.EFULL:
		return true
	}
	return false
}

// errJobTime is the cause of a job's context ending at MaxJobTime.
var errJobTime = errors.New("job time limit")

// runJob trains the leased model, renewing the lease meanwhile, and ends
// the job. Every outcome is recorded in the store (or logged when the
// store itself fails); it returns errTransient when the store failed in a
// way that may pass and the job is left for a later claim.
func (w *Worker) runJob(ctx context.Context, lease *ophicleide.Lease) error {
	log := w.log.With("model", lease.ModelID, "attempt", lease.Attempt)
	log.Info("job claimed", "token", lease.Token, "lease_expires", lease.Expires)
	// Ending the job must work even when ctx is cancelled (shutdown).
	end := func() (context.Context, context.CancelFunc) {
		return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	}
	if lease.Attempt > w.cfg.MaxAttempts {
		endCtx, endCancel := end()
		defer endCancel()
		reason := fmt.Sprintf("gave up after %d attempts: the worker stopped each time before the model was ready (it crashed, was killed or lost the store; the server log says more)", w.cfg.MaxAttempts)
		log.Warn("model failed", "reason", reason)
		if err := w.store.FailJob(endCtx, lease, reason); err != nil && !errors.Is(err, ophicleide.ErrLeaseLost) {
			log.Error("recording the end of a job", "err", err)
			return nil
		}
		w.notify(endCtx, log, lease.ModelID)
		return nil
	}
	jobCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if w.cfg.MaxJobTime > 0 {
		var stop context.CancelFunc
		jobCtx, stop = context.WithTimeoutCause(jobCtx, w.cfg.MaxJobTime, errJobTime)
		defer stop()
	}
	renewed := make(chan struct{})
	go func() {
		defer close(renewed)
		t := time.NewTicker(w.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-jobCtx.Done():
				return
			case <-t.C:
				if err := w.store.RenewLease(jobCtx, lease, w.cfg.Lease); err != nil {
					if jobCtx.Err() == nil {
						cancel(err)
					}
					return
				}
			}
		}
	}()
	start := time.Now()
	done, err := w.trainSafe(jobCtx, lease, log)
	cause := context.Cause(jobCtx)
	cancel(nil)
	<-renewed
	endCtx, endCancel := end()
	defer endCancel()
	switch {
	case err == nil:
		err = w.store.CompleteJob(endCtx, lease, done)
		log.Info("model ready", "words", done.Stats.CorpusWords, "vocabulary", done.Stats.VocabSize, "seconds", time.Since(start).Seconds(),
			"evaluated", done.Evaluation != nil, "err", err)
	case errors.Is(cause, ophicleide.ErrLeaseLost) || ophicleide.ErrorCode(err) == ophicleide.ECONFLICT:
		log.Info("lease lost (model deleted or job taken over); stopped")
		return nil
	case ctx.Err() != nil:
		err = w.store.ReleaseJob(endCtx, lease)
		log.Info("shutting down: job handed back to the queue", "err", err)
	case errors.Is(cause, errJobTime):
		reason := fmt.Sprintf("the job took longer than this server's limit of %s (fetching and training); train on less text or fewer epochs", w.cfg.MaxJobTime)
		log.Info("model failed", "reason", reason, "err", err)
		err = w.store.FailJob(endCtx, lease, reason)
	case transient(err) || transient(cause):
		// The job keeps its lease until it lapses, then is claimed
		// again: a store that stays down or full ends it after
		// MaxAttempts claims rather than failing it at the first hiccup.
		log.Warn("store failure: the job will be retried when its lease lapses", "err", err)
		return errTransient
	default:
		reason := userMessage(err)
		log.Info("model failed", "reason", reason, "err", err)
		err = w.store.FailJob(endCtx, lease, reason)
	}
	if err != nil && !errors.Is(err, ophicleide.ErrLeaseLost) {
		log.Error("recording the end of a job", "err", err)
		if transient(err) {
			return errTransient
		}
		return nil
	}
	w.notify(endCtx, log, lease.ModelID)
	return nil
}

// trainSafe is train that turns a panic into an error, so that a bug hit
// by one model fails that model and the process goes on.
func (w *Worker) trainSafe(ctx context.Context, lease *ophicleide.Lease, log *slog.Logger) (c ophicleide.Completion, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &trainer.PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return w.train(ctx, lease, log)
}

// notify calls the model's callback, if it has one and the model ended.
// A failing webhook is logged; it changes nothing about the model.
func (w *Worker) notify(ctx context.Context, log *slog.Logger, id string) {
	if w.cfg.Notify == nil {
		return
	}
	m, err := w.store.FindModel(ctx, id)
	if err != nil || m.Callback == "" || (m.Status != ophicleide.StatusReady && m.Status != ophicleide.StatusFailed) {
		return
	}
	body, err := json.Marshal(map[string]any{"model": m})
	if err == nil {
		err = w.cfg.Notify(ctx, m.Callback, body)
	}
	log.Info("callback", "url", m.Callback, "status", m.Status, "err", err)
}

// userMessage is the reason shown with a failed model. Only messages
// known to be written for users are shown: application errors (the
// engine's failures among them, see trainer.Engine), the corpus reader's
// typed errors, and the fetcher's (marked by shownError). Anything else
// (a store's error may name server paths) is logged, and the user reads a
// generic reason.
func userMessage(err error) string {
	var (
		pe *trainer.PanicError
		se *shownError
		le *corpus.LimitError
		xe *corpus.CompressionError
		ie *corpus.SourceError
		pa *fs.PathError
	)
	switch {
	case errors.As(err, &pe):
		return "internal error in the trainer (a bug, reported in the server log); the server goes on"
	case errors.As(err, &le):
		return le.Error()
	case errors.As(err, &xe):
		return xe.Error()
	case errors.As(err, &se):
		if errors.As(err, &ie) && !strings.Contains(se.Error(), ie.Source) {
			return ie.Error() // the source's name, then the fetcher's words
		}
		return se.Error() // "fetching URL: ..." names its source already
	case errors.As(err, &ie) && errors.As(err, &pa):
		return ie.Error() // corpus leaves out the server's paths
	case errors.As(err, &ie) && ophicleide.ErrorCode(err) != ophicleide.EINTERNAL:
		return ie.Source + ": " + ophicleide.ErrorMessage(err)
	case errors.As(err, &ie):
		return ie.Source + ": cannot be read (internal error, reported in the server log)"
	case ophicleide.ErrorCode(err) != ophicleide.EINTERNAL:
		return ophicleide.ErrorMessage(err)
	}
	return "internal error while training (reported in the server log)"
}

// shownError marks an error whose message is meant for users (the
// fetcher's: "fetching URL: the server answered 404 Not Found").
type shownError struct{ err error }

func (e *shownError) Error() string { return e.err.Error() }
func (e *shownError) Unwrap() error { return e.err }

// shownReader marks the read errors of a fetched body as shown.
type shownReader struct{ io.ReadCloser }

func (r shownReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = &shownError{err}
	}
	return n, err
}

// train opens the model's inputs and has the engine train it, storing
// progress and, at the end, the vectors; it returns what CompleteJob
// records: the stats, the effective params and the evaluation.
func (w *Worker) train(ctx context.Context, lease *ophicleide.Lease, log *slog.Logger) (ophicleide.Completion, error) {
	var none ophicleide.Completion
	m, err := w.store.FindModel(ctx, lease.ModelID)
	if err != nil {
		return none, err
	}
	in := w.inputs(m)
	if len(in.Sources) == 0 && len(in.Paths) == 0 {
		return none, ophicleide.Errorf(ophicleide.EINVALID, "the model has no URLs and no uploaded text")
	}
	// A lost lease seen when storing progress (the model was deleted, or
	// another worker took the job over) stops training within a progress
	// interval rather than at the next renewal.
	ctx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	progress := func(p ophicleide.Progress) {
		// Progress is advisory: a failed write is retried at the next tick.
		if err := w.store.UpdateProgress(ctx, lease, p); errors.Is(err, ophicleide.ErrLeaseLost) {
			stop(err)
		}
	}
	w.store.UpdateProgress(ctx, lease, ophicleide.Progress{Phase: "fetching"})
	res, err := w.engine.Train(ctx, trainer.Job{ID: m.ID, Attempt: lease.Attempt, Params: m.Params, Inputs: in,
		Progress: progress, ProgressInterval: w.cfg.Progress})
	if cause := context.Cause(ctx); errors.Is(cause, ophicleide.ErrLeaseLost) {
		return none, cause
	}
	if err != nil {
		return none, err
	}
	done := ophicleide.Completion{Stats: res.Stats, Params: effective(m.Params, res.Params)}
	if done.Stats.WordsPerSecond == 0 && done.Stats.TrainingSeconds > 0 {
		done.Stats.WordsPerSecond = float64(done.Stats.CorpusWords) * float64(max(done.Params.Epochs, 1)) / done.Stats.TrainingSeconds
	}
	if w.cfg.Evaluate != nil {
		if err := w.store.UpdateProgress(ctx, lease, ophicleide.Progress{Phase: "evaluating", Fraction: 1}); errors.Is(err, ophicleide.ErrLeaseLost) {
			return none, err
		}
		done.Evaluation = w.evaluate(ctx, log, res.Vectors, *done.Params)
		if cause := context.Cause(ctx); cause != nil {
			return none, cause // lease lost, shutdown or the job's time limit while scoring
		}
	}
	if err := w.store.UpdateProgress(ctx, lease, ophicleide.Progress{Phase: "saving", Fraction: 1}); err != nil {
		return none, err
	}
	if err := w.store.PutVectors(ctx, lease, func(out io.Writer) error { return vectors.WriteCompact(out, res.Vectors) }); err != nil {
		return none, err
	}
	return done, nil
}

// effective are the params stored with a trained model: the engine's
// effective ones, or (an engine that reports none) those asked for.
func effective(asked, engine ophicleide.Params) *ophicleide.Params {
	if engine == (ophicleide.Params{}) {
		return &asked
	}
	return &engine
}

// evaluate scores a trained model with the configured EvaluateFunc. Its
// failure (or panic) is logged and gives no evaluation: the model is
// stored all the same.
func (w *Worker) evaluate(ctx context.Context, log *slog.Logger, set *vectors.Set, p ophicleide.Params) (e *ophicleide.Evaluation) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("panic while evaluating the model; stored without an evaluation", "panic", r, "stack", string(debug.Stack()))
			e = nil
		}
	}()
	start := time.Now()
	e, err := w.cfg.Evaluate(ctx, set, p)
	if err != nil {
		if ctx.Err() == nil {
			log.Error("evaluating the model failed; stored without an evaluation", "err", err)
		}
		return nil
	}
	log.Info("model evaluated", "seconds", time.Since(start).Seconds())
	return e
}

// inputs are the model's URLs (fetched, their errors marked as shown)
// and uploads (from the store), read within the worker's limits; URLs of
// the schemes the model's engine reads itself are its Paths.
func (w *Worker) inputs(m *ophicleide.Model) trainer.Inputs {
	in := trainer.Inputs{Limits: w.cfg.Corpus, Fetched: len(m.URLs) > 0}
	schemes := w.engine.Schemes(m.Params)
	for _, u := range m.URLs {
		u = strings.TrimSpace(u)
		if u == "" {
			continue // the original web page sends one when the box ends with a newline
		}
		if pu, err := url.Parse(u); err == nil && slices.Contains(schemes, pu.Scheme) {
			in.Paths = append(in.Paths, u)
			continue
		}
		in.Sources = append(in.Sources, corpus.Source{Name: u, Open: func(ctx context.Context) (io.ReadCloser, error) {
			rc, err := w.fetch(ctx, u)
			if err != nil {
				return nil, &shownError{err}
			}
			return shownReader{rc}, nil
		}})
	}
	for _, name := range m.Uploads {
		in.Sources = append(in.Sources, corpus.Source{Name: "upload:" + name, Open: func(ctx context.Context) (io.ReadCloser, error) {
			return w.store.OpenUpload(ctx, m.ID, name)
		}})
	}
	return in
}
