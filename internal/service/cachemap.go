package service

import (
	"slices"
	"sync"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// mapCache keeps each model's word map (Queries.Map), computed once per
// model and dropped with the model's vectors when it is deleted
// (Cache.Remove). A map is the ophicleide.MaxMapWords most frequent
// words (fewer in a smaller vocabulary): about 40 KiB of points per
// model, the words shared with its loaded vectors' strings. Errors are
// not kept.
type mapCache struct {
	mu   sync.Mutex
	maps map[string]*mapEntry
}

type mapEntry struct {
	once sync.Once
	m    *ophicleide.WordMap
	err  error
}

// get returns model id's map, computing it with compute the first time
// (concurrent callers wait for the one computing).
func (c *mapCache) get(id string, compute func() (*ophicleide.WordMap, error)) (*ophicleide.WordMap, error) {
	c.mu.Lock()
	if c.maps == nil {
		c.maps = map[string]*mapEntry{}
	}
	e, ok := c.maps[id]
	if !ok {
		e = &mapEntry{}
		c.maps[id] = e
	}
	c.mu.Unlock()
	e.once.Do(func() { e.m, e.err = compute() })
	if e.err != nil {
		c.mu.Lock()
		if c.maps[id] == e {
			delete(c.maps, id)
		}
		c.mu.Unlock()
	}
	return e.m, e.err
}

// remove forgets model id's map.
func (c *mapCache) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.maps, id)
}

// len is the number of maps kept.
func (c *mapCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.maps)
}

// maxAlignments bounds alignCache: about 0.3 MB each (20,000 distances
// and a 100 x 100 rotation).
const maxAlignments = 16

// alignCache keeps the last maxAlignments alignments of one model onto
// another (Queries.Compare): the rotation and the ranked distances, which
// do not change while both models exist, so a compare view asking about
// one word after another aligns once. An entry goes when either model is
// deleted (Cache.Remove) or when it is the least recently used of more
// than maxAlignments. Errors are not kept.
type alignCache struct {
	mu      sync.Mutex
	entries map[[2]string]*alignEntry
	order   [][2]string // least recently used first
}

type alignEntry struct {
	once sync.Once
	al   *vectors.Alignment
	err  error
}

// get returns the alignment of b onto a, computing it with compute the
// first time.
func (c *alignCache) get(a, b string, compute func() (*vectors.Alignment, error)) (*vectors.Alignment, error) {
	key := [2]string{a, b}
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[[2]string]*alignEntry{}
	}
	e, ok := c.entries[key]
	if !ok {
		e = &alignEntry{}
		c.entries[key] = e
	}
	c.order = append(slices.DeleteFunc(c.order, func(k [2]string) bool { return k == key }), key)
	for len(c.order) > maxAlignments {
		delete(c.entries, c.order[0])
		c.order = c.order[1:]
	}
	c.mu.Unlock()
	e.once.Do(func() { e.al, e.err = compute() })
	if e.err != nil {
		c.mu.Lock()
		if c.entries[key] == e {
			delete(c.entries, key)
			c.order = slices.DeleteFunc(c.order, func(k [2]string) bool { return k == key })
		}
		c.mu.Unlock()
	}
	return e.al, e.err
}

// remove forgets the alignments of model id, onto others and of others.
func (c *alignCache) remove(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.order = slices.DeleteFunc(c.order, func(k [2]string) bool {
		if k[0] == id || k[1] == id {
			delete(c.entries, k)
			return true
		}
		return false
	})
}

// len is the number of alignments kept.
func (c *alignCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}
