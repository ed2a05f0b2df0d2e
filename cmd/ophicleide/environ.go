package main

import (
	"os"
	"slices"
	"sync"
)

// The environment is read only through env.getenv (and envOr on top of
// it): the names a command asks for are recorded, which is how "describe"
// lists every variable a role reads. No other code of this package calls
// os.Getenv (TestEnvironmentReadsAreRecorded).

// getenv returns the environment variable name (empty when unset) and
// records that it was read.
func (e *env) getenv(name string) string {
	if e.envRead != nil {
		e.envRead.add(name)
	}
	if e.lookupEnv != nil {
		return e.lookupEnv(name)
	}
	return os.Getenv(name)
}

// envOr returns the first non-empty environment variable of names, or def.
func (e *env) envOr(def string, names ...string) string {
	for _, n := range names {
		if v := e.getenv(n); v != "" {
			return v
		}
	}
	return def
}

// nameSet records the environment variables a command read.
type nameSet struct {
	mu    sync.Mutex
	names map[string]bool
}

func (s *nameSet) add(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.names == nil {
		s.names = map[string]bool{}
	}
	s.names[name] = true
}

// sorted returns the names recorded, sorted.
func (s *nameSet) sorted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.names))
	for n := range s.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out
}
