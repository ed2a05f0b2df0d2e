package service

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/fasttext"
	"github.com/ophicleide/ophicleide/internal/params"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Precheck is told of a model about to be created whose text is all in
// the request (uploads, no URLs) and may refuse it, e.g. because training
// it would need more memory than a job may use. It may read the uploads;
// Create rewinds them afterwards.
type Precheck func(ctx context.Context, p ophicleide.Params, uploads map[string]io.Reader) error

// Config configures Models; the zero value checks parameters against
// params.DefaultLimits' bounds only and prechecks nothing.
type Config struct {
	// Validate checks a model's training parameters, returning an
	// EINVALID *ophicleide.Error naming the field: the engine that will
	// train them (its Validate), then the server's limits (cmd wires
	// both). nil: params.DefaultLimits().Check, the bounds only.
	Validate func(ophicleide.Params) error
	// Schemes, if not nil, are the URL schemes besides http and https
	// that the engine of a model with p reads itself (the Spark engine's
	// s3a, hdfs, ... as the operator allowed them): such URLs are
	// accepted for that model and never fetched by a worker.
	Schemes func(p ophicleide.Params) []string
	// Precheck, if not nil, checks models trained from uploads alone.
	Precheck Precheck
	// Wake, if not nil, is called after a model is created (in-process
	// workers look for the job at once).
	Wake func()
	// Limits are published by Models.Limits; Params zero:
	// params.DefaultLimits (those Validate enforces when nil). Its
	// MaxJobsPerKey and MaxBytesPerKey are set from the fields below.
	Limits ophicleide.Limits
	// MaxJobsPerKey is the most models one owner (a key's name, or ""
	// for anonymous callers) may have queued or training (0: no limit);
	// MaxBytesPerKey the most bytes of uploads and vectors it may store
	// (0: no limit). Admins are exempt (access.go).
	MaxJobsPerKey  int
	MaxBytesPerKey int64
	// Log, if not nil, logs what goes wrong without failing a request
	// (an imported model's evaluation); nil: slog.Default().
	Log *slog.Logger
	// ImportProgressEvery is how often a running import stores its
	// progress (0: every 2 s); TempDir holds the scratch files of a
	// fastText import ("": the system's).
	ImportProgressEvery time.Duration
	TempDir             string
}

func (c Config) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.Default()
}

// Models implements ophicleide.ModelService.
type Models struct {
	store   ophicleide.Store
	cache   *Cache
	cfg     Config
	started time.Time // imports begun before are not this process's (RecoverImports)
}

var _ ophicleide.ModelService = (*Models)(nil)

// NewModels returns the model service over store; cache, if not nil, is
// the one the queries read (Delete forgets a model's vectors there).
func NewModels(store ophicleide.Store, cache *Cache, cfg Config) *Models {
	if cfg.Validate == nil {
		cfg.Validate = params.DefaultLimits().Check
	}
	if cfg.Limits.Params == (ophicleide.ParamLimits{}) {
		cfg.Limits.Params = ophicleide.ParamLimits(params.DefaultLimits())
	}
	cfg.Limits.MaxJobsPerKey, cfg.Limits.MaxBytesPerKey = max(cfg.MaxJobsPerKey, 0), max(cfg.MaxBytesPerKey, 0)
	return &Models{store: store, cache: cache, cfg: cfg, started: time.Now()}
}

// Limits implements ophicleide.ModelService.
func (s *Models) Limits() ophicleide.Limits { return s.cfg.Limits }

// Create implements ophicleide.ModelService: the principal needs the
// write role, the model is its (Owner), and its quotas are checked
// (access.go).
func (s *Models) Create(ctx context.Context, req ophicleide.ModelRequest) (*ophicleide.Model, error) {
	p := ophicleide.PrincipalFrom(ctx)
	if err := mayWrite(p, "creating a model"); err != nil {
		return nil, err
	}
	m, err := s.NewModel(req)
	if err != nil {
		return nil, err
	}
	m.Owner = ownerName(p)
	var uploads map[string]io.Reader
	if len(req.Uploads) > 0 {
		uploads = make(map[string]io.Reader, len(req.Uploads))
		for _, u := range req.Uploads {
			uploads[u.Name] = u.Text
		}
	}
	var adding int64
	if s.cfg.MaxBytesPerKey > 0 && !p.Admin() {
		if adding, err = uploadBytes(uploads); err != nil {
			return nil, err
		}
	}
	if _, err := s.quota(ctx, p, true, adding); err != nil {
		return nil, err
	}
	if err := s.precheck(ctx, m, uploads); err != nil {
		return nil, err
	}
	if err := s.store.CreateModel(ctx, m, uploads); err != nil {
		return nil, err
	}
	if s.cfg.Wake != nil {
		s.cfg.Wake()
	}
	return m, nil
}

// NewModel validates req as Create does and returns the model Create
// would store (queued, with a new ID), without storing or prechecking it.
func (s *Models) NewModel(req ophicleide.ModelRequest) (*ophicleide.Model, error) {
	name := strings.TrimSpace(req.Name)
	switch {
	case name == "":
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "name", Message: "name is required"}
	case len(name) > ophicleide.MaxNameLen:
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "name", Message: fmt.Sprintf("name is longer than %d characters", ophicleide.MaxNameLen)}
	case len(req.URLs) > ophicleide.MaxURLs:
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "urls", Message: fmt.Sprintf("at most %d URLs per model", ophicleide.MaxURLs)}
	}
	var urls []string
	for _, u := range req.URLs {
		u = strings.TrimSpace(u)
		if u == "" {
			continue // the original web page sends one when the URL box ends with a newline
		}
		if err := s.checkURL(req.Params, u); err != nil {
			return nil, err
		}
		urls = append(urls, u)
	}
	if len(urls) == 0 && len(req.Uploads) == 0 {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "urls", Message: "give at least one URL of plain text to train on, or upload a text file"}
	}
	if req.ZeroParam != "" {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: req.ZeroParam,
			Message: fmt.Sprintf("%s must be above 0 (leave it out for the default)", req.ZeroParam)}
	}
	if err := s.cfg.Validate(req.Params); err != nil {
		return nil, err
	}
	var names []string
	for _, u := range req.Uploads {
		names = append(names, u.Name)
	}
	now := time.Now().UTC()
	if urls == nil {
		urls = []string{}
	}
	return &ophicleide.Model{ID: uuid.NewString(), Name: name, Status: ophicleide.StatusQueued, URLs: urls,
		Uploads: names, Callback: req.Callback, Params: req.Params, Progress: &ophicleide.Progress{Phase: "queued"},
		Created: now, Updated: now}, nil
}

// checkURL accepts an http or https URL, and a URL of a scheme the
// model's engine reads itself (Config.Schemes).
func (s *Models) checkURL(p ophicleide.Params, u string) error {
	pu, err := url.Parse(u)
	if err == nil && (pu.Scheme == "http" || pu.Scheme == "https") && pu.Host != "" {
		return nil
	}
	var schemes []string
	if s.cfg.Schemes != nil {
		schemes = s.cfg.Schemes(p)
	}
	if err == nil && pu.Scheme != "" && slices.Contains(schemes, pu.Scheme) && (pu.Host != "" || pu.Path != "") {
		return nil
	}
	msg := fmt.Sprintf("%q is not an http or https URL", u)
	if len(schemes) > 0 {
		msg += fmt.Sprintf(" (nor of a scheme this model's engine reads itself: %s)", strings.Join(schemes, ", "))
	}
	return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "urls", Message: msg}
}

// precheck runs the precheck on a model trained only from uploads, then
// rewinds them for the store.
func (s *Models) precheck(ctx context.Context, m *ophicleide.Model, uploads map[string]io.Reader) error {
	if s.cfg.Precheck == nil || len(m.URLs) > 0 || len(uploads) == 0 {
		return nil
	}
	if err := s.cfg.Precheck(ctx, m.Params, uploads); err != nil {
		return err
	}
	for name, u := range uploads {
		sk, ok := u.(io.Seeker)
		if !ok {
			return fmt.Errorf("upload %q cannot be rewound after the precheck", name)
		}
		if _, err := sk.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewinding upload %q: %w", name, err)
		}
	}
	return nil
}

// importEvery is how often a running import stores its progress by
// default (Config.ImportProgressEvery): the heartbeat that tells a live
// import from one whose process died (StaleImportAfter).
const importEvery = 2 * time.Second

// StaleImportAfter is how long an import may go without storing its
// progress before RecoverImports takes its process for dead.
const StaleImportAfter = time.Minute

// Import implements ophicleide.ModelService. The model is stored at once
// as importing (BeginImport) once the file's first bytes show what it
// is, so that other clients see it and its progress (the phase
// "importing", the fraction of the bytes read when src tells its size
// with a Size() int64 method as *bytes.Reader has, the rows read so far)
// while it streams; it then ends ready, or failed with the reason Import
// returns (EndImport). A file that is not a vectors file at all (its
// header) is refused before anything is stored.
//
// The rows go to the store as they are read: a word2vec file through
// vectors.Stream (memory: a batch of rows and the word list), a fastText
// .bin model (its magic number sniffed) through fasttext.Stream (the
// dictionary and a few rows; its matrices pass through scratch files in
// Config.TempDir). As Create, Import needs the write role, records the
// owner and keeps the byte quota, counting the vectors as they are
// written. Once ready, the model is evaluated on the bundled sets before
// Import returns, as trained models are; a failure of that is logged and
// leaves it without an evaluation. A model deleted mid-import stops the
// import (ENOTFOUND).
func (s *Models) Import(ctx context.Context, name string, src io.Reader) (*ophicleide.Model, error) {
	p := ophicleide.PrincipalFrom(ctx)
	if err := mayWrite(p, "importing a model"); err != nil {
		return nil, err
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "name", Message: "name is required"}
	case len(name) > ophicleide.MaxNameLen:
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "name", Message: fmt.Sprintf("name is longer than %d characters", ophicleide.MaxNameLen)}
	}
	left, err := s.quota(ctx, p, false, 0)
	if err != nil {
		return nil, err
	}
	size := int64(-1)
	if sz, ok := src.(interface{ Size() int64 }); ok {
		size = sz.Size()
	}
	// Reads stop when the import must (the model deleted); the body's own
	// errors (too large, stalled) come through as the caller made them.
	ictx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	in := &importReader{r: src, ctx: ictx}
	br := bufio.NewReaderSize(in, 64<<10)
	peek, _ := br.Peek(8) // a read error shows again below
	isFastText := fasttext.IsModel(peek)
	var st *vectors.Stream
	var ft *fasttext.Model
	if isFastText {
		if ft, err = fasttext.OpenStream(br, fasttext.StreamOptions{TempDir: s.cfg.TempDir}); err != nil {
			return nil, importError(err)
		}
	} else {
		if st, err = vectors.OpenStream(br); err != nil {
			return nil, importError(err)
		}
		if st.Count() == 0 {
			return nil, errNoWords
		}
	}
	now := time.Now().UTC()
	m := &ophicleide.Model{ID: uuid.NewString(), Name: name, Owner: ownerName(p), Status: ophicleide.StatusImporting, URLs: []string{},
		Progress: &ophicleide.Progress{Phase: "importing"}, Created: now, Updated: now}
	if st != nil {
		m.Params.Dim = st.Dim()
	}
	if err := s.store.BeginImport(ctx, m); err != nil {
		return nil, err
	}
	progress := func() ophicleide.Progress {
		pr := ophicleide.Progress{Phase: "importing"}
		if size > 0 {
			pr.Fraction = min(float64(in.n.Load())/float64(size), 0.99)
		}
		if st != nil {
			pr.Words = st.Rows()
		}
		return pr
	}
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() { s.reportImport(ctx, m.ID, progress, done, stop) })
	// The end is stored whatever happens to the request now.
	err = s.store.EndImport(context.WithoutCancel(ctx), m, func(out io.Writer) error {
		if left >= 0 {
			out = &quotaWriter{w: out, left: left, quota: s.cfg.MaxBytesPerKey}
		}
		if isFastText {
			return importError(importFastText(out, ft, m))
		}
		words, err := st.WriteCompact(out, vectors.StreamOptions{UTF8: true})
		if err != nil {
			return importError(err)
		}
		if words == 0 {
			return errNoWords
		}
		m.Stats = &ophicleide.Stats{VocabSize: words}
		return nil
	})
	close(done)
	wg.Wait()
	if err != nil {
		if cause := context.Cause(ictx); cause != nil && ophicleide.ErrorCode(err) == ophicleide.ENOTFOUND {
			err = cause
		}
		return nil, err
	}
	m.Status, m.Progress = ophicleide.StatusReady, nil
	// The import is done whatever happens to the request now: its
	// evaluation is bounded (the bundled sets, 30,000 rows for analogies).
	s.evaluateImported(context.WithoutCancel(ctx), m)
	if stored, err := s.store.FindModel(context.WithoutCancel(ctx), m.ID); err == nil {
		m = stored // with its evaluation and the store's times
	}
	if s.cache != nil {
		s.cache.withIndex(m, true) // a big model's index starts now (index.go)
	}
	return m, nil
}

var errNoWords = &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: "the vectors file holds no words"}

// errDeletedMidImport stops the import of a model deleted meanwhile.
var errDeletedMidImport = ophicleide.Errorf(ophicleide.ENOTFOUND, "the model was deleted during its import")

// reportImport stores the import's progress every ImportProgressEvery
// until done; a model deleted meanwhile stops the import (stop).
func (s *Models) reportImport(ctx context.Context, id string, progress func() ophicleide.Progress, done <-chan struct{}, stop context.CancelCauseFunc) {
	every := s.cfg.ImportProgressEvery
	if every <= 0 {
		every = importEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-done:
			return
		case <-tick.C:
		}
		err := s.store.SetImportProgress(context.WithoutCancel(ctx), id, progress())
		switch ophicleide.ErrorCode(err) {
		case "":
		case ophicleide.ENOTFOUND, ophicleide.ECONFLICT: // deleted, or failed as stale
			stop(errDeletedMidImport)
			return
		default:
			s.cfg.log().Warn("storing an import's progress", "model", id, "err", err)
		}
	}
}

// importReader counts the bytes read for the progress, and stops when
// ctx is done.
type importReader struct {
	r   io.Reader
	ctx context.Context
	n   atomic.Int64
}

func (r *importReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, context.Cause(r.ctx)
	}
	n, err := r.r.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// importError is err as the user reads it: the domain's errors as they
// are (the body's, the quota's, the store's), a malformed file an
// EINVALID naming the field "file" and saying what is wrong and where.
// Its message is what the failed model keeps as its reason.
func importError(err error) error {
	if err == nil {
		return nil
	}
	var oe *ophicleide.Error
	if errors.As(err, &oe) {
		return err
	}
	var pe *vectors.ParseError
	if errors.As(err, &pe) {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: "not a word2vec vectors file: " + pe.Reason(), Err: err}
	}
	var fe *fasttext.Error
	if errors.As(err, &fe) && (errors.Is(err, fasttext.ErrMalformed) || errors.Is(err, fasttext.ErrUnsupported)) {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: fmt.Sprintf("not a fastText model this server reads: %s at byte %d: %v", fe.Section, fe.Offset, fe.Err), Err: err}
	}
	if errors.Is(err, syscall.ENOSPC) {
		return &ophicleide.Error{Code: ophicleide.EFULL, Message: "the server's disk is full: the import was not stored", Err: err}
	}
	return err
}

// importFastText stores a fastText .bin model (internal/fasttext) whose
// dictionary ft has read as m's vectors: the composed word rows and the n-gram rows, so
// that the model answers for words outside its vocabulary. m's params
// are the file's (model, loss, dim, window, negative, min count, epochs,
// minn, maxn, bucket).
func importFastText(out io.Writer, ft *fasttext.Model, m *ophicleide.Model) error {
	meta, words, dim, sw, err := ft.WriteCompact(out)
	if err != nil {
		return err
	}
	a := meta.Args
	m.Params = ophicleide.Params{Dim: dim, Window: int(a.WS), Negative: int(a.Neg), MinCount: int(a.MinCount), Epochs: int(a.Epoch)}
	switch a.Model {
	case fasttext.SkipGram:
		m.Params.Model = "skipgram"
	case fasttext.CBOW:
		m.Params.Model = "cbow"
	}
	switch a.Loss {
	case fasttext.NS:
		m.Params.Loss = "ns"
	case fasttext.HS:
		m.Params.Loss = "hs"
	}
	if sw.Enabled() {
		m.Params.MinN, m.Params.MaxN, m.Params.Bucket = sw.MinN, sw.MaxN, sw.Bucket
	}
	m.Stats = &ophicleide.Stats{VocabSize: words}
	return nil
}

// RecoverImports fails the imports that no process runs any more (a
// process killed mid-import) with ophicleide.ImportInterrupted. exclusive:
// the store is this process's alone (the embedded one, whose file is
// locked), so every import older than this service is dead; else (a
// store that other processes share) those that stored no progress for
// StaleImportAfter, now and then every StaleImportAfter/2 until ctx is
// done. cmd runs it with the server.
func (s *Models) RecoverImports(ctx context.Context, exclusive bool) {
	sweep := func(before time.Time) {
		n, err := s.store.FailStaleImports(ctx, before)
		if err != nil && ctx.Err() == nil {
			s.cfg.log().Warn("failing interrupted imports", "err", err)
		} else if n > 0 {
			s.cfg.log().Info("failed interrupted imports", "models", n)
		}
	}
	if exclusive {
		sweep(s.started)
		return
	}
	tick := time.NewTicker(StaleImportAfter / 2)
	defer tick.Stop()
	for {
		sweep(time.Now().Add(-StaleImportAfter))
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// FindModel implements ophicleide.ModelService: the model as the
// principal may see it (access.go).
func (s *Models) FindModel(ctx context.Context, id string) (*ophicleide.Model, error) {
	m, err := s.store.FindModel(ctx, id)
	if err != nil {
		return nil, err
	}
	if s.cache != nil {
		s.cache.withIndex(m, true)
	}
	return visible(ophicleide.PrincipalFrom(ctx), m), nil
}

// PageModels implements ophicleide.ModelService: every model, as the
// principal may see it (access.go).
func (s *Models) PageModels(ctx context.Context, p ophicleide.Page) (*ophicleide.ModelPage, error) {
	page, err := s.store.PageModels(ctx, p)
	if err != nil {
		return nil, err
	}
	who := ophicleide.PrincipalFrom(ctx)
	for i, m := range page.Models {
		if s.cache != nil {
			s.cache.withIndex(m, false) // the states only (index.go)
		}
		page.Models[i] = visible(who, m)
	}
	return page, nil
}

// Delete implements ophicleide.ModelService: an admin deletes any model,
// a writer its own (access.go).
func (s *Models) Delete(ctx context.Context, id string) error {
	p := ophicleide.PrincipalFrom(ctx)
	if err := mayWrite(p, "deleting a model"); err != nil {
		return err
	}
	m, err := s.store.FindModel(ctx, id)
	if err != nil {
		return err
	}
	if err := mayChange(p, m, "delete"); err != nil {
		return err
	}
	if err := s.store.DeleteModel(ctx, id); err != nil {
		return err
	}
	if s.cache != nil {
		s.cache.Remove(id)
	}
	return nil
}

// CountModels implements ophicleide.ModelService.
func (s *Models) CountModels(ctx context.Context) (*ophicleide.ModelCounts, error) {
	return s.store.CountModels(ctx)
}

// QueueLength implements ophicleide.ModelService.
func (s *Models) QueueLength(ctx context.Context) (int, error) {
	return s.store.QueueLength(ctx)
}
