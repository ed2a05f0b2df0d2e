// Package vectorcache keeps copies of a store's vectors on a replica's
// local disk, so that the first query of a model after a restart, or
// after the in-memory cache (internal/modelcache) dropped it, maps a
// local file instead of downloading the model again. It is for the
// MongoDB store, whose vectors live in GridFS; the embedded store's are
// local files already and need no copy.
//
// A Cache is an ophicleide.VectorReader over a Source (a store that also
// tells the version of a model's vectors without reading them,
// ophicleide.VectorVersioner). OpenVectors asks the version first: a
// local copy of that version and size is opened as an *os.File (so
// vectors.Load maps it); otherwise the store's bytes are streamed into a
// temporary file in the directory, checked against the size, fsynced and
// renamed to the version's name, then opened. A partial or corrupt copy
// is therefore never opened: it is either a temporary file (removed, at
// the latest when the next Cache opens the directory) or a file whose
// size differs from the version's (removed and downloaded again). A
// model whose vectors were replaced has a new version, so its old copy
// is never served again and is removed.
//
// Copies are kept within a byte limit, the least recently opened removed
// first, but never one that a reader still has open (the files handed
// out are watched until closed); the directory may pass the limit while
// the copies over it are open. A model larger than the limit is streamed
// from the store every time. Concurrent opens of a model that has no
// copy download it once: the others wait and open the copy. When the
// directory cannot be written (a read-only or full disk), OpenVectors
// logs a warning and returns the store's stream, as without a cache.
package vectorcache

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/ophicleide/ophicleide"
)

// Source is what a Cache reads: the store's vectors and their versions.
type Source interface {
	ophicleide.VectorReader
	ophicleide.VectorVersioner
}

// Cache is an ophicleide.VectorReader that keeps local copies of a
// Source's vectors in a directory. Create one with Open; it is safe for
// concurrent use. The directory is the Cache's alone: two Caches on one
// directory would remove each other's copies.
type Cache struct {
	src      Source
	dir      string
	maxBytes int64
	log      *slog.Logger

	mu      sync.Mutex
	files   map[string]*copyFile // by file name
	lru     *list.List           // of *copyFile, most recently opened first
	used    int64                // bytes of the copies in files
	loading map[string]*download // by file name

	downloads int64 // copies made (Downloads)
}

// copyFile is one local copy.
type copyFile struct {
	name, model string
	size        int64
	elem        *list.Element
	handed      []*os.File // files handed out, until seen closed
}

// download is a copy being made; done is closed when it ends.
type download struct{ done chan struct{} }

// suffix ends the name of a copy: MODEL-HASH.vec, where HASH is the first
// 32 hex digits of the SHA-256 of the version, so any version string
// makes a valid, fixed-length file name.
const suffix = ".vec"

var copyName = regexp.MustCompile(`^([0-9a-f-]{36})-[0-9a-f]{32}\.vec$`)

// tmpPrefix starts the name of a copy being written.
const tmpPrefix = ".tmp-"

// fileName is the name of the copy of model's vectors at version.
func fileName(model, version string) string {
	h := sha256.Sum256([]byte(version))
	return model + "-" + hex.EncodeToString(h[:16]) + suffix
}

// Open returns a cache of at most maxBytes (above 0) of copies in dir,
// made if it does not exist. The copies an earlier Cache left there are
// kept (the oldest first removed if they are over maxBytes); temporary
// files it left are removed. log gets the warnings (nil: none).
func Open(src Source, dir string, maxBytes int64, log *slog.Logger) (*Cache, error) {
	if maxBytes <= 0 {
		return nil, fmt.Errorf("vectorcache: the size limit must be above 0 bytes, got %d", maxBytes)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("vectorcache: %w", err)
	}
	c := &Cache{src: src, dir: dir, maxBytes: maxBytes, log: log,
		files: map[string]*copyFile{}, lru: list.New(), loading: map[string]*download{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("vectorcache: %w", err)
	}
	type found struct {
		cf  *copyFile
		mod int64
	}
	var fs []found
	for _, e := range ents {
		name := e.Name()
		if strings.HasPrefix(name, tmpPrefix) {
			os.Remove(filepath.Join(dir, name)) // an interrupted download
			continue
		}
		m := copyName.FindStringSubmatch(name)
		if m == nil || !e.Type().IsRegular() {
			continue // not ours
		}
		fi, err := e.Info()
		if err != nil {
			continue
		}
		fs = append(fs, found{&copyFile{name: name, model: m[1], size: fi.Size()}, fi.ModTime().UnixNano()})
	}
	// Most recently written first, as if opened in that order.
	sort.Slice(fs, func(i, j int) bool { return fs[i].mod > fs[j].mod })
	for _, f := range fs {
		f.cf.elem = c.lru.PushBack(f.cf)
		c.files[f.cf.name] = f.cf
		c.used += f.cf.size
	}
	c.mu.Lock()
	c.evict("")
	c.mu.Unlock()
	return c, nil
}

var _ ophicleide.VectorReader = (*Cache)(nil)

// Used returns the bytes of the copies kept and how many there are.
func (c *Cache) Used() (bytes int64, files int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.used, len(c.files)
}

// Downloads returns how many copies this Cache has made.
func (c *Cache) Downloads() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.downloads
}

// OpenVectors implements ophicleide.VectorReader: an *os.File of the
// local copy of the model's current vectors (made first if there is
// none), or, for a model larger than the cache or a directory that
// cannot be written, the Source's stream. The Source's errors (ENOTFOUND
// for a model deleted or not ready) are returned as they are.
func (c *Cache) OpenVectors(ctx context.Context, modelID string) (io.ReadCloser, error) {
	// A version that changes while it is copied is copied again; the
	// third change in a row is read from the store.
	for range 3 {
		version, size, err := c.src.VectorVersion(ctx, modelID)
		if err != nil {
			if ophicleide.ErrorCode(err) == ophicleide.ENOTFOUND {
				c.forget(modelID, "")
			}
			return nil, err
		}
		if size > c.maxBytes {
			return c.src.OpenVectors(ctx, modelID)
		}
		name := fileName(modelID, version)
		f, d, err := c.lookup(name, size)
		if err != nil {
			return nil, err
		}
		if f != nil {
			return f, nil
		}
		if d != nil { // another caller is copying it: wait, then look again
			select {
			case <-d.done:
				continue
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		// This caller copies it.
		same, err := c.copy(ctx, modelID, name, version, size)
		if err != nil {
			var le *localError
			if errors.As(err, &le) {
				c.log.Warn("vector cache: cannot keep a local copy; reading the store's", "model", modelID, "dir", c.dir, "err", le.err)
				return c.src.OpenVectors(ctx, modelID)
			}
			return nil, err
		}
		if !same {
			continue
		}
	}
	return c.src.OpenVectors(ctx, modelID)
}

// lookup opens the copy name if it is kept with size bytes, marking it
// opened; else it returns the download of it under way, if any, or
// registers one for the caller to make (both nil). A copy of another
// size is removed.
func (c *Cache) lookup(name string, size int64) (*os.File, *download, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cf, ok := c.files[name]; ok {
		f, err := os.Open(filepath.Join(c.dir, name))
		if err == nil {
			fi, serr := f.Stat()
			if serr == nil && fi.Size() == size && fi.Size() == cf.size {
				cf.handed = append(cf.handed, f)
				c.lru.MoveToFront(cf.elem)
				return f, nil, nil
			}
			f.Close()
		}
		// Truncated, replaced or removed behind our back: never opened.
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			c.log.Warn("vector cache: a local copy does not match its version; copying it again", "file", name)
		}
		c.remove(cf)
	}
	if d, ok := c.loading[name]; ok {
		return nil, d, nil
	}
	c.loading[name] = &download{done: make(chan struct{})}
	return nil, nil, nil
}

// localError is a failure of the local directory, not of the store.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }

// copy streams the model's vectors into a temporary file, checks their
// length, fsyncs it and renames it to name; same is false when the
// model's version changed meanwhile (the copy is then dropped). The
// download registered for name ends whatever happens. Errors of the
// directory are *localError.
func (c *Cache) copy(ctx context.Context, model, name, version string, size int64) (same bool, err error) {
	defer func() {
		c.mu.Lock()
		d := c.loading[name]
		delete(c.loading, name)
		c.mu.Unlock()
		close(d.done)
	}()
	tmp, err := os.CreateTemp(c.dir, tmpPrefix+model+"-*")
	if err != nil {
		return false, &localError{err}
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	rc, err := c.src.OpenVectors(ctx, model)
	if err != nil {
		tmp.Close()
		return false, err
	}
	n, err := io.Copy(tmp, rc)
	rc.Close()
	if err != nil {
		tmp.Close()
		var pe *fs.PathError
		if errors.As(err, &pe) { // the write, not the read
			return false, &localError{err}
		}
		return false, fmt.Errorf("vectorcache: reading the vectors of model %s: %w", model, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, &localError{err}
	}
	if err := tmp.Close(); err != nil {
		return false, &localError{err}
	}
	v2, size2, err := c.src.VectorVersion(ctx, model)
	if err != nil {
		return false, err
	}
	if v2 != version || size2 != size || n != size {
		// Replaced while copied (or the store's length is not its
		// bytes'): what was read may be either version.
		return false, nil
	}
	// Renamed before it is registered: until then lookups of name wait
	// on the download, and nothing opens a copy not yet whole.
	if err := os.Rename(tmp.Name(), filepath.Join(c.dir, name)); err != nil {
		return false, &localError{err}
	}
	syncDir(c.dir)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.downloads++
	cf := &copyFile{name: name, model: model, size: size}
	cf.elem = c.lru.PushFront(cf)
	c.files[name] = cf
	c.used += size
	c.forgetLocked(model, name) // older versions
	c.evict(name)
	return true, nil
}

// forget removes the copies of model but keep that no reader has open.
func (c *Cache) forget(model, keep string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(model, keep)
}

func (c *Cache) forgetLocked(model, keep string) {
	for _, cf := range c.files {
		if cf.model == model && cf.name != keep && !cf.open() {
			c.remove(cf)
		}
	}
}

// evict removes the least recently opened copies that no reader has
// open, but keep, until the copies are within the limit. c.mu is held.
func (c *Cache) evict(keep string) {
	for e := c.lru.Back(); e != nil && c.used > c.maxBytes; {
		cf := e.Value.(*copyFile)
		e = e.Prev()
		if cf.name != keep && !cf.open() {
			c.remove(cf)
		}
	}
}

// remove deletes a copy and forgets it. c.mu is held.
func (c *Cache) remove(cf *copyFile) {
	if err := os.Remove(filepath.Join(c.dir, cf.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		c.log.Warn("vector cache: cannot remove a local copy", "file", cf.name, "err", err)
	}
	c.lru.Remove(cf.elem)
	delete(c.files, cf.name)
	c.used -= cf.size
}

// open reports whether a reader still has one of the files handed out
// of cf, forgetting those it closed: a closed *os.File's Stat fails with
// os.ErrClosed. (A mapping outlives its file, and on Unix a removed file
// stays readable to those that have it open or mapped, so this keeps
// the limit honest about disk space rather than guarding readers.)
func (cf *copyFile) open() bool {
	kept := cf.handed[:0]
	for _, f := range cf.handed {
		if _, err := f.Stat(); !errors.Is(err, os.ErrClosed) {
			kept = append(kept, f)
		}
	}
	clear(cf.handed[len(kept):])
	cf.handed = kept
	return len(kept) > 0
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
