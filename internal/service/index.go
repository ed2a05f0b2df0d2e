package service

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/ann"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Approximate indexes (internal/ann) for the models of millions of words.
//
// When the cache loads a set of at least MinRows words it answers with
// it at once (the exact scan) and, in the background, opens the index
// stored with the model, or, if there is none or the stored one is
// refused (built for other vectors, corrupted: ann.Load checks), builds
// one, stores it (PutIndex) and attaches it (vectors.Set.SetApprox): from
// then on the queries of every row use it. Builds run one at a time per
// process under the process's context, so shutdown stops them; a process
// killed mid-build stored nothing, and the next load builds again. The
// state of each model's index, from this process's memory, is
// ophicleide.Model.Index in the models' answers.
//
// A big model's vectors are loaded (and its index opened or built) on
// its first query, right after its import, and when FindModel shows it
// ready (a client waiting for a model polls it while it trains, so a
// model trained by this process's workers or another's is indexed as
// soon as someone looks at it). Not from PageModels, which shows the
// states only: a list of many big models must not load them all into a
// cache that holds a few. No loop over the store's models: a model
// nobody asks about costs nothing.

// IndexConfig turns on approximate indexes (Cache.RunIndexes).
type IndexConfig struct {
	// Store keeps the indexes beside the vectors.
	Store ophicleide.IndexStore
	// MinRows is the vocabulary size from which a model gets an index;
	// 0: ann.DefaultMinRows (where ann.Worth's measurement says it pays).
	// Tests lower it.
	MinRows int
	// Build tunes the builds; its zero value is ann's defaults, except
	// Workers 0, which here means half the cores (at least one): the
	// other half keeps answering queries while a build runs.
	Build ann.Config
	// TempDir holds the copy of an index a store does not give as a file
	// (MongoDB's GridFS), made so that it can be mapped and unlinked at
	// once ("": the system's).
	TempDir string
	// Log, if not nil, logs builds and refused indexes; nil:
	// slog.Default().
	Log *slog.Logger
}

// indexer is the state of the indexes of one process's cache.
type indexer struct {
	cfg  IndexConfig
	ctx  context.Context // the process's: its end stops the builds
	get  func(ctx context.Context, id string) (*vectors.Set, error)
	slot chan struct{} // one build at a time
	wg   sync.WaitGroup

	mu      sync.Mutex
	entries map[string]*indexEntry // by model, for the set last loaded
	warming map[string]bool        // loads started by warm, not yet attached
}

// indexEntry is one loaded set's index.
type indexEntry struct {
	set         *vectors.Set
	cancel      context.CancelFunc
	status      atomic.Value // string: ophicleide.IndexNone, IndexBuilding, IndexReady
	done, total atomic.Int64 // rows inserted by the build
	bytes       atomic.Int64 // of the attached index
}

// RunIndexes turns on approximate indexes for the sets c loads (and
// starts none for the ones it holds already), until ctx ends; it then
// waits for the running builds to stop and returns. It is the process's
// background task (cmd wires it); a cache on which it never runs answers
// every query with the exact scan.
func (c *Cache) RunIndexes(ctx context.Context, cfg IndexConfig) {
	if cfg.MinRows <= 0 {
		cfg.MinRows = ann.DefaultMinRows
	}
	if cfg.Build.Workers <= 0 {
		cfg.Build.Workers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	x := &indexer{cfg: cfg, ctx: ctx, get: c.sets.Get, slot: make(chan struct{}, 1),
		entries: map[string]*indexEntry{}, warming: map[string]bool{}}
	c.idx.Store(x)
	<-ctx.Done()
	c.idx.CompareAndSwap(x, nil)
	x.wg.Wait()
}

// attach starts opening or building the index of a set just loaded for
// model id, if it is big enough; the set answers exactly meanwhile.
func (x *indexer) attach(id string, set *vectors.Set) {
	if set.Len() < x.cfg.MinRows || x.ctx.Err() != nil {
		return
	}
	ctx, cancel := context.WithCancel(x.ctx)
	e := &indexEntry{set: set, cancel: cancel}
	e.status.Store(ophicleide.IndexNone)
	x.mu.Lock()
	if old := x.entries[id]; old != nil {
		old.cancel()
	}
	x.entries[id] = e
	delete(x.warming, id)
	x.mu.Unlock()
	x.wg.Go(func() {
		defer cancel()
		x.run(ctx, id, e)
	})
}

// run opens the stored index of e's set or builds one.
func (x *indexer) run(ctx context.Context, id string, e *indexEntry) {
	log := x.cfg.Log.With("model", id)
	ix, err := x.open(ctx, id, e.set)
	switch {
	case err == nil:
		x.ready(id, e, ix)
		return
	case ctx.Err() != nil:
		return
	case errors.Is(err, ann.ErrMismatch), errors.Is(err, ann.ErrFormat):
		log.Warn("stored index refused, building it again", "err", err)
	case ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND:
		log.Error("opening the stored index", "err", err)
	}
	select {
	case x.slot <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-x.slot }()
	e.total.Store(int64(e.set.Len()))
	e.status.Store(ophicleide.IndexBuilding)
	log.Info("building an index", "rows", e.set.Len(), "workers", x.cfg.Build.Workers)
	ix, err = ann.Build(ctx, e.set, x.cfg.Build, func(done, total int) {
		e.done.Store(int64(done))
		e.total.Store(int64(total))
	})
	if err != nil {
		e.status.Store(ophicleide.IndexNone)
		if ctx.Err() == nil {
			log.Error("building the index", "err", err)
		}
		return
	}
	err = x.cfg.Store.PutIndex(ctx, id, func(w io.Writer) error {
		_, err := ix.WriteTo(w)
		return err
	})
	switch {
	case ophicleide.ErrorCode(err) == ophicleide.ENOTFOUND || ctx.Err() != nil:
		e.status.Store(ophicleide.IndexNone)
		return // deleted (or replaced) meanwhile, or shutting down
	case err != nil:
		// Still worth using here; the next process builds it again.
		log.Error("storing the index", "err", err)
	default:
		// The stored copy, mapped, in place of the built one: the page
		// cache's memory, not the heap's (8M bytes a row).
		if mapped, err := x.open(ctx, id, e.set); err == nil {
			ix = mapped
		}
	}
	x.ready(id, e, ix)
}

// open loads the stored index of model id for set: mapped from the
// store's file, or from a copy of the store's stream in TempDir (unlinked
// at once: the mapping keeps it until the index is dropped).
func (x *indexer) open(ctx context.Context, id string, set *vectors.Set) (*ann.Index, error) {
	rc, err := x.cfg.Store.OpenIndex(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if f, ok := rc.(*os.File); ok {
		return ann.Load(f, set)
	}
	f, err := os.CreateTemp(x.cfg.TempDir, "ophicleide-index-*")
	if err != nil {
		return nil, ophicleide.Errorf(ophicleide.EINTERNAL, "no temporary file for an index: %v", errors.Unwrap(err))
	}
	os.Remove(f.Name())
	defer f.Close()
	// No more than an index of set can be (a stored file claiming more
	// must not fill the disk): 4 bytes a link, 2*MaxM links a row on
	// layer 0 and, at most, as many again on the upper layers.
	limit := int64(set.Len())*4*(4*ann.MaxM+2) + 1<<20
	if n, err := io.CopyN(f, rc, limit+1); err != nil && err != io.EOF {
		return nil, err
	} else if n > limit {
		return nil, fmt.Errorf("%w: the stored index is larger than any of its set (%d bytes)", ann.ErrFormat, limit)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return ann.Load(f, set)
}

// ready attaches ix to e's set if e is still model id's entry (not
// deleted or reloaded meanwhile).
func (x *indexer) ready(id string, e *indexEntry, ix *ann.Index) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.entries[id] != e {
		return
	}
	e.set.SetApprox(ix)
	e.bytes.Store(ix.Bytes())
	e.status.Store(ophicleide.IndexReady)
	x.cfg.Log.Info("index attached", "model", id, "bytes", ix.Bytes())
}

// forget stops the build of model id's index, if any, and its state.
func (x *indexer) forget(id string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if e := x.entries[id]; e != nil {
		e.cancel()
		delete(x.entries, id)
	}
	delete(x.warming, id)
}

// state is model id's index as this process knows it, or nil.
func (x *indexer) state(id string) *ophicleide.IndexState {
	x.mu.Lock()
	e := x.entries[id]
	x.mu.Unlock()
	if e == nil {
		return nil
	}
	st := &ophicleide.IndexState{Status: e.status.Load().(string)}
	switch st.Status {
	case ophicleide.IndexReady:
		st.Fraction, st.Bytes = 1, e.bytes.Load()
	case ophicleide.IndexBuilding:
		if t := e.total.Load(); t > 0 {
			st.Fraction = float64(e.done.Load()) / float64(t)
		}
	}
	return st
}

// warm loads the vectors of a ready model big enough for an index, in
// the background, so that its index is opened or built before its first
// query; a no-op for a model loaded already or being loaded.
func (x *indexer) warm(m *ophicleide.Model) {
	if m.Status != ophicleide.StatusReady || m.Stats == nil || m.Stats.VocabSize < x.cfg.MinRows || x.ctx.Err() != nil {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.entries[m.ID] != nil || x.warming[m.ID] {
		return
	}
	x.warming[m.ID] = true
	id := m.ID
	x.wg.Go(func() {
		if _, err := x.get(x.ctx, id); err != nil {
			x.mu.Lock()
			delete(x.warming, id)
			x.mu.Unlock()
			if x.ctx.Err() == nil && ophicleide.ErrorCode(err) != ophicleide.ENOTFOUND {
				x.cfg.Log.Error("loading a model's vectors for its index", "model", id, "err", err)
			}
		}
	})
}

// withIndex sets m.Index from this process's state and, if warm, starts
// loading a ready big model not loaded yet. m is the caller's copy.
func (c *Cache) withIndex(m *ophicleide.Model, warm bool) {
	x := c.idx.Load()
	if x == nil || m == nil {
		return
	}
	if warm {
		x.warm(m)
	}
	m.Index = x.state(m.ID)
}
