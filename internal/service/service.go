// Package service implements the domain's services (ophicleide.ModelService,
// ophicleide.QueryService) over a store and the vector engine: the use
// cases that adapters (internal/http) call. It knows nothing of HTTP; the
// training parameters are validated and uploads prechecked by functions it
// is given, so the engine that will train decides (cmd wires them).
package service

import (
	"context"
	"sync/atomic"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/modelcache"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Cache holds the vectors of ready models loaded for queries, bounded by
// bytes (internal/modelcache), loaded from a store. Queries read through
// it; Models.Delete forgets a deleted model's.
type Cache struct {
	store ophicleide.VectorReader
	sets  *modelcache.Cache
	maps  mapCache                // the models' word maps (cachemap.go)
	align alignCache              // alignments of one model onto another (cachemap.go)
	idx   atomic.Pointer[indexer] // approximate indexes, while RunIndexes runs (index.go)
}

// NewCache returns a cache of at most maxBytes of vectors read from store.
func NewCache(store ophicleide.VectorReader, maxBytes int64) *Cache {
	c := &Cache{store: store}
	c.sets = modelcache.New(maxBytes, c.load)
	return c
}

func (c *Cache) load(ctx context.Context, id string) (*vectors.Set, error) {
	rc, err := c.store.OpenVectors(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	set, err := vectors.Load(rc) // Compact, or word2vec binary from older stores
	if err != nil {
		return nil, err
	}
	if x := c.idx.Load(); x != nil {
		x.attach(id, set) // in the background: the set answers exactly meanwhile
	}
	return set, nil
}

// Remove forgets the vectors of model id, its index, word map and
// alignments.
func (c *Cache) Remove(id string) {
	c.sets.Remove(id)
	if x := c.idx.Load(); x != nil {
		x.forget(id) // a build of its index stops
	}
	c.maps.remove(id)
	c.align.remove(id)
}

// New returns the two services over store sharing one cache of at most
// cacheBytes of vectors.
func New(store ophicleide.Store, cacheBytes int64, cfg Config) (*Models, *Queries) {
	cache := NewCache(store, cacheBytes)
	return NewModels(store, cache, cfg), NewQueries(store, cache)
}
