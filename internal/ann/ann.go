// Package ann is an approximate nearest-neighbour index over the rows of a
// vectors.Set, for vocabularies of millions of words where the exact scan
// (tens of milliseconds at 1M x 300) is too slow.
//
// The index is a hierarchical navigable small-world graph (HNSW, Malkov and
// Yashunin, 2016): every row is a node with up to 2*M links on layer 0 and
// M links on the sparser upper layers it was drawn into. A query descends
// greedily from the top layer's entry point, searches layer 1 with a beam of
// 48 rows (in clustered data a greedy descent can end in the wrong
// cluster) and ends with a beam search of width ef on layer 0. The graph holds only links: the walk scores rows
// with the set's own float32 rows and the same kernel and inverse norms as
// the exact scan (vectors.Set.InvNorms), so every score an index returns
// is bit for bit the exact cosine, only the choice of rows is approximate.
//
// Building is deterministic: levels come from a seeded generator and rows
// are inserted in batches, each row of a batch searching the graph as it
// was before the batch (in parallel over GOMAXPROCS goroutines) and its
// links then added in row order, so the graph does not depend on the
// number of goroutines or their timing. The persisted form (WriteTo, Load)
// is a flat little-endian layout that Load maps from a file on Linux,
// checked by CRC-32C and tied to its set by vectors.Set.Fingerprint.
//
// It knows nothing of HTTP, jobs or stores.
package ann

import (
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

// DefaultMinRows is the vocabulary size from which Worth says an index
// pays. See Worth for the measurement.
const DefaultMinRows = 100_000

// Worth reports whether a set of rows words is worth an index. Measured
// with BenchmarkTable (synthetic clusters, nearest-10, default ef, p50 of
// the index against the warm exact scan, same run, 2 shared cores): 0.9x
// at 10k x 100, 1.3x at 30k x 100, 0.7x at 10k x 300, 3.4x at 30k x 300,
// ~40x at 100k x 300 (10 ms exact against 0.25 ms). The index starts to
// beat the scan at 20-30k rows, but below 100k rows the scan answers in
// a few milliseconds (~1.4-3 ms at 58k x 100) and the index would add a
// build (~25 s of CPU at 100k x 300) and bytes for little.
func Worth(rows int) bool { return rows >= DefaultMinRows }

// Config tunes Build. The zero value gives the defaults.
type Config struct {
	// M is the number of links a node keeps on the upper layers; layer 0
	// keeps 2*M. More links: better recall at a given Ef, a bigger and
	// slower-to-build index. Default 16, at most MaxM.
	M int
	// EfConstruction is the beam width of the searches that choose a new
	// node's links. Default DefaultEfConstruction, or BigEfConstruction
	// for sets of BigRows rows or more; at most MaxEf.
	EfConstruction int
	// Ef is the default beam width of Search (SearchEf takes another).
	// Default DefaultEf, at most MaxEf.
	Ef int
	// Seed draws the nodes' levels.
	Seed uint64
	// Workers is the number of goroutines Build uses; 0 means GOMAXPROCS.
	// The graph is the same whatever it is.
	Workers int
}

// Bounds on Config (and on a loaded file's header).
const (
	MaxM   = 128
	MaxEf  = 1 << 14
	MaxRow = 1<<32 - 2 // rows are uint32 and noLink is reserved

	DefaultM              = 16
	DefaultEfConstruction = 100
	// BigEfConstruction is the default for sets of BigRows rows or more.
	// Measured on synthetic clusters of dimension 300 (BenchmarkTable,
	// default ef): recall@10 at 1M rows was 0.9898 with 100, at 3M rows
	// 0.9600 (1,000 queries) with 100 and 0.9992 (400 queries) with 200,
	// which doubles the build (3M: 25m44s on 2 cores).
	BigEfConstruction = 200
	BigRows           = 1_000_000
	DefaultEf         = 96
	// defaultUpperEf is the beam of a query on layer 1 (walk). Measured on
	// 1M x 300 synthetic clusters (BenchmarkTable, ef 64): recall@10
	// 0.9347 descending greedily, 0.9663 with a beam of 16, 0.9897 with 48.
	defaultUpperEf = 48
	maxLevels      = 32
)

// ErrInvalid is wrapped by errors about a bad Config or set.
var ErrInvalid = errors.New("ann: invalid argument")

// ErrFormat is wrapped by Load's errors about a malformed, truncated or
// corrupted file.
var ErrFormat = errors.New("ann: malformed index file")

// ErrMismatch is wrapped by Load's error when a file was built for another
// set (other rows, dimension or contents).
var ErrMismatch = errors.New("ann: index built for another vector set")

// withDefaults fills zero fields for a set of rows rows and checks the
// rest.
func (c Config) withDefaults(rows int) (Config, error) {
	if c.M == 0 {
		c.M = DefaultM
	}
	if c.EfConstruction == 0 {
		c.EfConstruction = DefaultEfConstruction
		if rows >= BigRows {
			c.EfConstruction = BigEfConstruction
		}
	}
	if c.Ef == 0 {
		c.Ef = DefaultEf
	}
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	switch {
	case c.M < 2 || c.M > MaxM:
		return c, fmt.Errorf("%w: M %d outside [2, %d]", ErrInvalid, c.M, MaxM)
	case c.EfConstruction < 1 || c.EfConstruction > MaxEf:
		return c, fmt.Errorf("%w: EfConstruction %d outside [1, %d]", ErrInvalid, c.EfConstruction, MaxEf)
	case c.Ef < 1 || c.Ef > MaxEf:
		return c, fmt.Errorf("%w: Ef %d outside [1, %d]", ErrInvalid, c.Ef, MaxEf)
	}
	return c, nil
}

// noLink ends a node's list of links when it has fewer than the maximum.
const noLink = ^uint32(0)

// Index is an HNSW graph over the rows of one set. It is immutable once
// built or loaded and safe for concurrent searches. It implements
// vectors.Approx.
//
// An index loaded from a file by mapping it holds the mapping until it
// becomes unreachable; its methods keep it alive while they run.
type Index struct {
	set         *vectors.Set
	rows, dim   int
	m, m0       int
	ef          int
	entry       uint32
	fingerprint uint64
	// level0[i*m0 : (i+1)*m0] are row i's links on layer 0,
	// noLink-terminated.
	level0 []uint32
	// upper[l-1] is layer l.
	upper []layer
	// mapped: the arrays are a file mapping (Load)
	mapped bool
	// upperEf is the beam on layer 1 of a query's descent (walk)
	upperEf int

	scratch sync.Pool // *searcher
}

// layer is one upper layer: the rows drawn into it, ascending, and their
// links (m per row, noLink-terminated).
type layer struct {
	ids   []uint32
	links []uint32
}

// pos returns the position of row in l.ids, or -1.
func (l *layer) pos(row uint32) int {
	lo, hi := 0, len(l.ids)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if l.ids[mid] < row {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo < len(l.ids) && l.ids[lo] == row {
		return lo
	}
	return -1
}

// links returns row's links on layer lv (0 = the bottom), a view with
// unused places set to noLink, or nil if row is not on that layer.
func (ix *Index) links(lv int, row uint32) []uint32 {
	if lv == 0 {
		return ix.level0[int(row)*ix.m0 : (int(row)+1)*ix.m0]
	}
	l := &ix.upper[lv-1]
	p := l.pos(row)
	if p < 0 {
		return nil
	}
	return l.links[p*ix.m : (p+1)*ix.m]
}

// Set returns the set the index answers for.
func (ix *Index) Set() *vectors.Set { return ix.set }

// Ef returns the default beam width of Search.
func (ix *Index) Ef() int { return ix.ef }

// Levels is the number of layers, the bottom one included.
func (ix *Index) Levels() int { return 1 + len(ix.upper) }

// Bytes is the memory the graph holds (4 bytes a link place and an upper
// layer's row); the set's rows are not counted (they are the set's).
func (ix *Index) Bytes() int64 {
	n := int64(len(ix.level0))
	for _, l := range ix.upper {
		n += int64(len(l.ids) + len(l.links))
	}
	return 4 * n
}

var _ vectors.Approx = (*Index)(nil)
