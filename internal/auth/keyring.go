package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ophicleide/ophicleide"
)

// DefaultPoll is how often Watch looks at the keys file.
const DefaultPoll = 5 * time.Second

// Keyring holds the keys a server accepts. Authenticate is safe for
// concurrent use, also while Reload or Watch replaces the keys. Create one
// with NewKeyring (fixed keys) or Open (a file, reloaded by Watch).
type Keyring struct {
	keys atomic.Pointer[[]Key]

	path string
	log  *slog.Logger
	mu   sync.Mutex // serialises Reload
	seen fileID     // the file version last read (or refused)
	// failing: the last look at the file failed (logged once, until the
	// file changes again or is read).
	failing bool
}

// fileID tells versions of a file apart without reading it: a rotated
// Kubernetes Secret is a new file behind the same path (a symlink
// swapped), so its inode changes even when its size and mtime do not.
type fileID struct {
	mtime time.Time
	size  int64
	ino   uint64
	dev   uint64
}

func idOf(fi os.FileInfo) fileID {
	id := fileID{mtime: fi.ModTime(), size: fi.Size()}
	id.dev, id.ino = inode(fi)
	return id
}

// NewKeyring returns a keyring of keys, which it checks as Parse checks a
// file (valid roles and names, unique names and secrets).
func NewKeyring(keys ...Key) (*Keyring, error) {
	names := map[string]bool{}
	hashes := map[[sha256.Size]byte]bool{}
	for _, k := range keys {
		if !k.Role.Valid() {
			return nil, fmt.Errorf("keys: %q: the role must be admin, write or read", k.Name)
		}
		if err := checkName(k.Name); err != nil || k.Name == "" {
			return nil, fmt.Errorf("keys: %q: not a valid name", k.Name)
		}
		if names[k.Name] || hashes[k.hash] {
			return nil, fmt.Errorf("keys: %q: name or secret used twice", k.Name)
		}
		names[k.Name], hashes[k.hash] = true, true
	}
	kr := &Keyring{log: slog.New(slog.DiscardHandler)}
	kr.set(keys)
	return kr, nil
}

// Open reads the keys file at path (ParseFile's errors) and returns its
// keyring; log receives what Reload and Watch do later (nil: discarded).
// A file without keys is an error: a server given a keys file means to
// require keys.
func Open(path string, log *slog.Logger) (*Keyring, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	keys, err := ParseFile(path)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("keys file %s holds no key (one a line: NAME ROLE SECRET)", path)
	}
	kr := &Keyring{path: path, log: log, seen: idOf(fi)}
	kr.set(keys)
	return kr, nil
}

func (kr *Keyring) set(keys []Key) { kr.keys.Store(&keys) }

// Len returns the number of keys.
func (kr *Keyring) Len() int { return len(*kr.keys.Load()) }

// Path returns the keys file ("" for a keyring made by NewKeyring).
func (kr *Keyring) Path() string { return kr.path }

// Authenticate returns the principal of the key whose secret is secret:
// its name and role. The secret is hashed and compared with every key's
// hash in constant time; how long it takes depends on the number of keys
// and the secret's length, not on which key (if any) matches. An empty
// secret matches nothing.
func (kr *Keyring) Authenticate(secret string) (ophicleide.Principal, bool) {
	if secret == "" {
		return ophicleide.Principal{}, false
	}
	k, ok := lookup(*kr.keys.Load(), sha256.Sum256([]byte(secret)))
	if !ok {
		return ophicleide.Principal{}, false
	}
	return ophicleide.Principal{Name: k.Name, Role: k.Role}, true
}

// Reload re-reads the keys file if it changed since it was last read
// (its mtime, size or inode, through symlinks). It reports whether new
// keys took effect. A file that cannot be read or parsed, or holds no
// key, keeps the keys in use; the error is returned and logged once
// (until the file changes again). A keyring without a file does nothing.
func (kr *Keyring) Reload() (bool, error) {
	if kr.path == "" {
		return false, nil
	}
	kr.mu.Lock()
	defer kr.mu.Unlock()
	fi, err := os.Stat(kr.path)
	if err != nil {
		kr.fail(fmt.Errorf("keys file: %w", err))
		kr.seen = fileID{} // read it again whatever it is when it is back
		return false, err
	}
	id := idOf(fi)
	if id == kr.seen {
		return false, nil
	}
	kr.seen = id
	keys, err := ParseFile(kr.path)
	if err == nil && len(keys) == 0 {
		err = fmt.Errorf("keys file %s holds no key", kr.path)
	}
	if err != nil {
		kr.failing = false // a new version: log it even if the last failed too
		kr.fail(err)
		return false, err
	}
	kr.set(keys)
	kr.failing = false
	kr.log.Info("keys reloaded", "file", kr.path, "keys", len(keys))
	return true, nil
}

// fail logs err once for a run of failures.
func (kr *Keyring) fail(err error) {
	if kr.failing {
		return
	}
	kr.failing = true
	kr.log.Error("keys file not reloaded: keeping the keys in use", "keys", kr.Len(), "err", err)
}

// Watch calls Reload every interval (DefaultPoll if interval <= 0) until
// ctx ends. It polls os.Stat rather than watching inotify events, which
// a Secret's symlink swap does not reliably deliver for the file's path.
func (kr *Keyring) Watch(ctx context.Context, interval time.Duration) {
	if kr.path == "" {
		return
	}
	if interval <= 0 {
		interval = DefaultPoll
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			kr.Reload()
		}
	}
}
