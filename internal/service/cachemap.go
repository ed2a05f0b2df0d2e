package service

import (
	"sync"

	"github.com/ophicleide/ophicleide"
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
