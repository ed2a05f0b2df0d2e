// Package modelcache keeps loaded vector sets in memory for queries: a
// least-recently-used cache bounded by bytes, where each model is loaded
// once even when many requests ask for it at the same moment.
//
// It knows nothing of stores or HTTP: the caller gives it a loader.
package modelcache

import (
	"container/list"
	"context"
	"sync"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Loader loads the vectors of a model. Errors are returned to every caller
// waiting for that load and are not cached.
type Loader func(ctx context.Context, id string) (*vectors.Set, error)

// Cache is safe for concurrent use. The zero value is not usable; use New.
type Cache struct {
	load     Loader
	maxBytes int64

	mu      sync.Mutex
	bytes   int64
	lru     *list.List // of *entry, most recent at the front
	entries map[string]*entry
	loading map[string]*call
}

type entry struct {
	id    string
	set   *vectors.Set
	bytes int64
	elem  *list.Element
}

// call is a load in flight; waiters block on done.
type call struct {
	done    chan struct{}
	set     *vectors.Set
	err     error
	discard bool // set under Cache.mu by Remove: do not keep the result
}

// New returns a cache holding at most maxBytes of vectors (the most
// recently used model is kept even if it alone is larger).
func New(maxBytes int64, load Loader) *Cache {
	return &Cache{load: load, maxBytes: maxBytes, lru: list.New(),
		entries: map[string]*entry{}, loading: map[string]*call{}}
}

// Size estimates the memory a set holds: the matrix, the norms, the
// words with their index and the int8 images search builds.
func Size(s *vectors.Set) int64 {
	n := int64(s.Len())
	return n*int64(s.Dim())*4 + n*52 + s.SearchIndexBytes() + s.SubwordBytes()
}

// Get returns the model's vectors, loading them on first use. Concurrent
// Gets of a model not yet loaded share one load. If ctx ends while waiting,
// Get returns ctx.Err() and the load goes on for the others.
func (c *Cache) Get(ctx context.Context, id string) (*vectors.Set, error) {
	c.mu.Lock()
	if e, ok := c.entries[id]; ok {
		c.lru.MoveToFront(e.elem)
		c.mu.Unlock()
		return e.set, nil
	}
	cl, ok := c.loading[id]
	if !ok {
		cl = &call{done: make(chan struct{})}
		c.loading[id] = cl
		go c.run(id, cl)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
		return cl.set, cl.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// run loads one model with a context of its own, so that one impatient
// caller does not fail the others.
func (c *Cache) run(id string, cl *call) {
	cl.set, cl.err = c.load(context.Background(), id)
	c.mu.Lock()
	if c.loading[id] == cl {
		delete(c.loading, id)
	}
	if cl.err == nil && !cl.discard {
		c.add(id, cl.set)
	}
	c.mu.Unlock()
	close(cl.done)
}

func (c *Cache) add(id string, s *vectors.Set) {
	e := &entry{id: id, set: s, bytes: Size(s)}
	e.elem = c.lru.PushFront(e)
	c.entries[id] = e
	c.bytes += e.bytes
	for c.bytes > c.maxBytes && c.lru.Len() > 1 {
		old := c.lru.Back().Value.(*entry)
		c.drop(old)
	}
}

func (c *Cache) drop(e *entry) {
	c.lru.Remove(e.elem)
	delete(c.entries, e.id)
	c.bytes -= e.bytes
}

// Remove forgets a model (deleted, or retrained). A load of it in flight
// completes for its waiters but is not kept.
func (c *Cache) Remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.entries[id]; ok {
		c.drop(e)
	}
	if cl, ok := c.loading[id]; ok {
		delete(c.loading, id)
		cl.discard = true
	}
}

// Stats reports the models and bytes held.
func (c *Cache) Stats() (models int, bytes int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.bytes
}
