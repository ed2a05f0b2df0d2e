// Package auth owns the API keys: the keys file (one key a line, `NAME
// ROLE SECRET`), its parsing, the Keyring that recognises a presented
// secret in constant time, and the reload of the file when it changes (a
// Kubernetes Secret rotated under a mounted path). It imports only the
// domain and the standard library.
//
// The file:
//
//	# comments and blank lines are ignored
//	alice  admin  correct-horse-battery-staple
//	ci     write  sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//	demo   read   another-long-random-secret
//
// NAME is what the server records as the owner of what the key creates
// (letters, digits and . _ - @ :, at most 64); names are unique. ROLE is
// admin, write or read. SECRET is the secret itself (no spaces), or
// sha256:HEX, the hex SHA-256 of the secret, so the file need not hold
// it. Two keys may not share a secret. Errors name the line and never
// repeat its fields' values except a key's name.
package auth

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/ophicleide/ophicleide"
)

// MaxFileBytes is the largest keys file read (a larger one is an error).
const MaxFileBytes = 1 << 20

// hashPrefix marks a secret given as its SHA-256.
const hashPrefix = "sha256:"

// Key is one line of the keys file: a name, a role and the SHA-256 of
// the secret (the secret itself is not kept).
type Key struct {
	Name string
	Role ophicleide.Role
	hash [sha256.Size]byte
}

// NewKey returns the key name with role whose secret is secret (tests and
// programs that build keys without a file). It does not check name or
// role; Keyring construction does.
func NewKey(name string, role ophicleide.Role, secret string) Key {
	return Key{Name: name, Role: role, hash: sha256.Sum256([]byte(secret))}
}

// Hash returns "sha256:HEX" for secret: what the keys file may hold
// instead of the secret.
func Hash(secret string) string {
	h := sha256.Sum256([]byte(secret))
	return hashPrefix + hex.EncodeToString(h[:])
}

// LineError is a malformed line of a keys file. Its message names the
// line, never a secret.
type LineError struct {
	Path string // the file, "" when parsed from a reader
	Line int
	Msg  string
}

func (e *LineError) Error() string {
	if e.Path == "" {
		return fmt.Sprintf("keys: line %d: %s", e.Line, e.Msg)
	}
	return fmt.Sprintf("keys file %s: line %d: %s", e.Path, e.Line, e.Msg)
}

// Parse reads a keys file's content. It returns the keys in file order, or
// a *LineError for the first malformed line (an unknown role, a field
// missing or extra, a bad sha256: value, a duplicated name or secret),
// or the reader's error. A file with no key at all is not an error here:
// callers decide whether an empty keyring is acceptable.
func Parse(r io.Reader) ([]Key, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("keys: the file is larger than %d bytes", MaxFileBytes)
	}
	var keys []Key
	names := map[string]int{}
	hashes := map[[sha256.Size]byte]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), MaxFileBytes+1)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, err := parseLine(line)
		if err != nil {
			return nil, &LineError{Line: n, Msg: err.Error()}
		}
		if prev, dup := names[k.Name]; dup {
			return nil, &LineError{Line: n, Msg: fmt.Sprintf("the name %q is already used on line %d (names are unique)", k.Name, prev)}
		}
		if prev, dup := hashes[k.hash]; dup {
			return nil, &LineError{Line: n, Msg: fmt.Sprintf("the secret is already used on line %d (each key needs its own)", prev)}
		}
		names[k.Name], hashes[k.hash] = n, n
		keys = append(keys, k)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	return keys, nil
}

// parseLine parses one non-blank, non-comment line. Its errors quote
// nothing but a name that passed the name check.
func parseLine(line string) (Key, error) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return Key{}, fmt.Errorf("want NAME ROLE SECRET (3 fields separated by spaces), found %d fields", len(f))
	}
	name, role, secret := f[0], ophicleide.Role(f[1]), f[2]
	// The role first: a line written in another order (SECRET NAME ROLE)
	// fails here, before a name that may be a secret is quoted.
	if !role.Valid() {
		return Key{}, errors.New("the second field (ROLE) must be admin, write or read")
	}
	if err := checkName(name); err != nil {
		return Key{}, err
	}
	k := Key{Name: name, Role: role}
	if hx, ok := strings.CutPrefix(secret, hashPrefix); ok {
		b, err := hex.DecodeString(hx)
		if err != nil || len(b) != sha256.Size {
			return Key{}, fmt.Errorf("the secret of %q starts with %s but is not followed by 64 hex digits (the SHA-256 of the secret)", name, hashPrefix)
		}
		copy(k.hash[:], b)
		return k, nil
	}
	k.hash = sha256.Sum256([]byte(secret))
	return k, nil
}

// checkName allows names that are safe to record, log and show: letters,
// digits and . _ - @ :, 1 to 64 bytes.
func checkName(name string) error {
	if len(name) > 64 {
		return errors.New("the name (first field) is longer than 64 characters")
	}
	for _, c := range name {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.ContainsRune("._-@:", c):
		default:
			return errors.New("the name (first field) may hold only letters, digits and . _ - @ :")
		}
	}
	return nil
}

// ParseFile reads and parses the keys file at path; a *LineError carries
// the path. A directory, an unreadable file or a missing one is an error.
func ParseFile(path string) ([]Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil {
		return nil, fmt.Errorf("keys file: %w", err)
	} else if fi.IsDir() {
		return nil, fmt.Errorf("keys file %s is a directory (give the file inside it)", path)
	}
	keys, err := Parse(f)
	var le *LineError
	if errors.As(err, &le) {
		le.Path = path
	} else if err != nil {
		return nil, fmt.Errorf("keys file %s: %w", path, err)
	}
	return keys, err
}

// lookup finds the key whose hash is h, in time that depends only on the
// number of keys: every key is compared (crypto/subtle), none is skipped
// after a match, and the match is selected without a branch on which key
// it was.
func lookup(keys []Key, h [sha256.Size]byte) (Key, bool) {
	found := -1
	for i := range keys {
		eq := subtle.ConstantTimeCompare(keys[i].hash[:], h[:])
		found = subtle.ConstantTimeSelect(eq, i, found)
	}
	if found < 0 {
		return Key{}, false
	}
	return keys[found], true
}
