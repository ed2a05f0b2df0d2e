package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

const goodFile = `# keys of the test server
alice  admin  alice-secret-0123456789

	# indented comment
ci write ` + "sha256:4d2a5d2b1e4c35b09b4fb0ee2c37a6f0eb42d25e1c47d29ce1e5e5f56c3c1a4f" + `
demo	read	demo-secret-0123456789
`

func TestParseGood(t *testing.T) {
	keys, err := Parse(strings.NewReader(goodFile))
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name string
		role ophicleide.Role
	}{{"alice", ophicleide.RoleAdmin}, {"ci", ophicleide.RoleWrite}, {"demo", ophicleide.RoleRead}}
	if len(keys) != len(want) {
		t.Fatalf("%d keys, want %d", len(keys), len(want))
	}
	for i, w := range want {
		if keys[i].Name != w.name || keys[i].Role != w.role {
			t.Errorf("key %d = %s %s, want %s %s", i, keys[i].Name, keys[i].Role, w.name, w.role)
		}
	}
	if keys[0].hash != NewKey("alice", ophicleide.RoleAdmin, "alice-secret-0123456789").hash {
		t.Error("a plain secret is not stored as its SHA-256")
	}
}

func TestParseEmpty(t *testing.T) {
	keys, err := Parse(strings.NewReader("# nothing\n\n"))
	if err != nil || len(keys) != 0 {
		t.Errorf("Parse(comments only) = %v, %v; want no keys, no error", keys, err)
	}
}

func TestParseMalformed(t *testing.T) {
	const secret = "hunter2-very-secret"
	for _, c := range []struct {
		name, file string
		line       int
		want       string
	}{
		{"two fields", "a admin\n", 1, "3 fields"},
		{"four fields", "a admin " + secret + " extra\n", 1, "3 fields"},
		{"unknown role", "# c\nbob superuser " + secret + "\n", 2, "admin, write or read"},
		{"role case", "bob Admin " + secret + "\n", 1, "admin, write or read"},
		{"fields in the wrong order", secret + " bob read\n", 1, "admin, write or read"},
		{"bad name", "b/o/b read " + secret + "\n", 1, "letters, digits"},
		{"long name", strings.Repeat("n", 65) + " read " + secret + "\n", 1, "longer than 64"},
		{"short hash", "bob read sha256:abcd\n", 1, "64 hex digits"},
		{"not hex", "bob read sha256:" + strings.Repeat("zz", 32) + "\n", 1, "64 hex digits"},
		{"empty hash", "bob read sha256:\n", 1, "64 hex digits"},
		{"duplicate name", "bob read s1-" + secret + "\n\nbob write s2-" + secret + "\n", 3, `"bob" is already used on line 1`},
		{"duplicate secret", "bob read " + secret + "\neve write " + secret + "\n", 2, "secret is already used on line 1"},
		{"duplicate secret, hashed", "bob read " + secret + "\neve write " + Hash(secret) + "\n", 2, "secret is already used on line 1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(c.file))
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want a *LineError", err)
			}
			if le.Line != c.line || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %q, want line %d and %q", err, c.line, c.want)
			}
			if strings.Contains(err.Error(), secret) || strings.Contains(err.Error(), "superuser") {
				t.Errorf("err = %q repeats a field that may be a secret", err)
			}
		})
	}
}

func TestParseHugeLine(t *testing.T) {
	_, err := Parse(strings.NewReader("bob read " + strings.Repeat("x", 2<<20)))
	if err == nil || strings.Contains(err.Error(), "xxxx") {
		t.Errorf("err = %.200v, want an error without the line", err)
	}
}

func TestHashedSecret(t *testing.T) {
	kr := mustRing(t, "ci write "+Hash("the-ci-secret")+"\n")
	if p, ok := kr.Authenticate("the-ci-secret"); !ok || p.Name != "ci" || p.Role != ophicleide.RoleWrite {
		t.Errorf("Authenticate(secret of a hashed key) = %+v, %v", p, ok)
	}
	if _, ok := kr.Authenticate(Hash("the-ci-secret")); ok {
		t.Error("the hash itself is accepted as the secret")
	}
}

func TestAuthenticate(t *testing.T) {
	kr := mustRing(t, goodFile)
	for _, c := range []struct {
		secret string
		name   string
		role   ophicleide.Role
		ok     bool
	}{
		{"alice-secret-0123456789", "alice", ophicleide.RoleAdmin, true},
		{"demo-secret-0123456789", "demo", ophicleide.RoleRead, true},
		{"demo-secret-012345678", "", "", false},
		{"demo-secret-0123456789 ", "", "", false},
		{"DEMO-SECRET-0123456789", "", "", false},
		{"", "", "", false},
		{strings.Repeat("a", 1<<20), "", "", false},
	} {
		p, ok := kr.Authenticate(c.secret)
		if ok != c.ok || p.Name != c.name || p.Role != c.role || p.Anonymous {
			t.Errorf("Authenticate(%.30q) = %+v, %v; want %s %s %v", c.secret, p, ok, c.name, c.role, c.ok)
		}
	}
}

func TestNewKeyring(t *testing.T) {
	kr, err := NewKeyring(NewKey("a", ophicleide.RoleRead, "s1"), NewKey("b", ophicleide.RoleAdmin, "s2"))
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := kr.Authenticate("s2"); !ok || p.Name != "b" {
		t.Errorf("Authenticate = %+v, %v", p, ok)
	}
	for _, bad := range [][]Key{
		{NewKey("a", "root", "s")},
		{NewKey("", ophicleide.RoleRead, "s")},
		{NewKey("a", ophicleide.RoleRead, "s"), NewKey("a", ophicleide.RoleRead, "t")},
		{NewKey("a", ophicleide.RoleRead, "s"), NewKey("b", ophicleide.RoleRead, "s")},
	} {
		if _, err := NewKeyring(bad...); err == nil {
			t.Errorf("NewKeyring(%v) accepted", bad)
		}
	}
	if changed, err := kr.Reload(); changed || err != nil {
		t.Errorf("Reload of a keyring without a file = %v, %v", changed, err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing"), nil); err == nil {
		t.Error("Open(missing file) succeeded")
	}
	if _, err := Open(dir, nil); err == nil || !strings.Contains(err.Error(), "directory") {
		t.Errorf("Open(a directory) = %v, want an error saying it is a directory", err)
	}
	empty := write(t, dir, "empty", "# no keys yet\n")
	if _, err := Open(empty, nil); err == nil || !strings.Contains(err.Error(), "no key") {
		t.Errorf("Open(no keys) = %v", err)
	}
	bad := write(t, dir, "bad", "alice admin s1\nbob reader s2\n")
	_, err := Open(bad, nil)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("Open(malformed) = %v, want the path and line 2", err)
	}
	if os.Geteuid() != 0 {
		unreadable := write(t, dir, "unreadable", "alice admin s1\n")
		os.Chmod(unreadable, 0)
		if _, err := Open(unreadable, nil); err == nil || !errors.Is(err, os.ErrPermission) {
			t.Errorf("Open(unreadable) = %v, want a permission error", err)
		}
	}
}

func TestReloadChangedFile(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "keys", "alice admin old-secret-1\n")
	logs := &logBuffer{}
	kr, err := Open(path, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	if changed, err := kr.Reload(); changed || err != nil {
		t.Errorf("Reload of an unchanged file = %v, %v", changed, err)
	}
	// Rewritten in place, same size: the mtime (or inode) tells.
	rewrite(t, path, "alice admin new-secret-1\n")
	if changed, err := kr.Reload(); !changed || err != nil {
		t.Fatalf("Reload of a changed file = %v, %v", changed, err)
	}
	if _, ok := kr.Authenticate("old-secret-1"); ok {
		t.Error("the old secret still works after rotation")
	}
	if p, ok := kr.Authenticate("new-secret-1"); !ok || p.Name != "alice" {
		t.Error("the new secret does not work after rotation")
	}
	if !strings.Contains(logs.String(), "keys reloaded") {
		t.Errorf("no log of the reload: %s", logs)
	}
}

// TestReloadSecretRotation rotates the keys as the kubelet does with a
// mounted Secret: the path is a symlink to ..data/keys, ..data a symlink
// to a timestamped directory, swapped atomically for a new one.
func TestReloadSecretRotation(t *testing.T) {
	dir := t.TempDir()
	version := func(name, content string) {
		os.Mkdir(filepath.Join(dir, name), 0o755)
		write(t, filepath.Join(dir, name), "keys", content)
		tmp := filepath.Join(dir, "..data_tmp")
		if err := os.Symlink(name, tmp); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", "ci write ci-secret-v1\n")
	path := filepath.Join(dir, "keys")
	if err := os.Symlink("..data/keys", path); err != nil {
		t.Fatal(err)
	}
	kr, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	version("..v2", "ci write ci-secret-v2\n") // same size, same mtime second
	if changed, err := kr.Reload(); !changed || err != nil {
		t.Fatalf("Reload after the symlink swap = %v, %v", changed, err)
	}
	if _, ok := kr.Authenticate("ci-secret-v2"); !ok {
		t.Error("the rotated secret does not work")
	}
	if _, ok := kr.Authenticate("ci-secret-v1"); ok {
		t.Error("the old secret still works")
	}
}

func TestReloadBrokenKeepsKeys(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "keys", "alice admin alice-secret\n")
	logs := &logBuffer{}
	kr, err := Open(path, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	for i, broken := range []string{"alice admin alice-secret\nbob root bob-secret\n", "# emptied\n"} {
		rewrite(t, path, broken)
		if changed, err := kr.Reload(); changed || err == nil {
			t.Fatalf("%d: Reload of a broken file = %v, %v; want an error", i, changed, err)
		}
		if p, ok := kr.Authenticate("alice-secret"); !ok || p.Name != "alice" {
			t.Errorf("%d: the old keys were dropped by a broken file", i)
		}
	}
	if _, ok := kr.Authenticate("bob-secret"); ok {
		t.Error("a key of the broken file works")
	}
	if n := strings.Count(logs.String(), "keeping the keys in use"); n != 2 {
		t.Errorf("%d logs of the broken versions, want 2: %s", n, logs)
	}
	if strings.Contains(logs.String(), "bob-secret") || strings.Contains(logs.String(), "alice-secret") {
		t.Errorf("a secret is in the log: %s", logs)
	}
	// Fixed again: taken.
	rewrite(t, path, "alice admin alice-secret\nbob read bob-secret\n")
	if changed, err := kr.Reload(); !changed || err != nil {
		t.Fatalf("Reload of the fixed file = %v, %v", changed, err)
	}
	if _, ok := kr.Authenticate("bob-secret"); !ok {
		t.Error("the fixed file's new key does not work")
	}
}

func TestReloadRemovedKeepsKeys(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "keys", "alice admin alice-secret\n")
	logs := &logBuffer{}
	kr, err := Open(path, logs.logger())
	if err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	for range 3 {
		if _, err := kr.Reload(); err == nil {
			t.Fatal("Reload of a removed file: no error")
		}
	}
	if _, ok := kr.Authenticate("alice-secret"); !ok {
		t.Error("the keys were dropped with the file")
	}
	if n := strings.Count(logs.String(), "keeping the keys in use"); n != 1 {
		t.Errorf("%d logs for a removed file polled 3 times, want 1: %s", n, logs)
	}
	// Back (even with the very same content): read again.
	write(t, dir, "keys", "alice admin other-secret\n")
	if changed, err := kr.Reload(); !changed || err != nil {
		t.Fatalf("Reload of the restored file = %v, %v", changed, err)
	}
	if _, ok := kr.Authenticate("other-secret"); !ok {
		t.Error("the restored file's key does not work")
	}
}

func TestWatch(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "keys", "alice admin first-secret\n")
	kr, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { kr.Watch(ctx, time.Millisecond); close(done) }()
	rewrite(t, path, "alice admin second-secret\n")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := kr.Authenticate("second-secret"); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Watch did not pick up the changed file")
		}
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
}

// TestAuthenticateConcurrentWithReload runs lookups while the keys are
// replaced (for the race detector).
func TestAuthenticateConcurrentWithReload(t *testing.T) {
	dir := t.TempDir()
	path := write(t, dir, "keys", "alice admin a-secret\n")
	kr, err := Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
					if _, ok := kr.Authenticate("a-secret"); !ok {
						t.Error("a-secret refused during reloads")
						return
					}
				}
			}
		})
	}
	for i := range 20 {
		rewrite(t, path, "alice admin a-secret\n"+strings.Repeat("#", i)+"\n")
		kr.Reload()
	}
	close(stop)
	wg.Wait()
}

func mustRing(t *testing.T, file string) *Keyring {
	t.Helper()
	keys, err := Parse(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// rewrite replaces path's content in place and moves its mtime on, so the
// change is seen whatever the file system's timestamp resolution.
func rewrite(t *testing.T, path, content string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	next := fi.ModTime().Add(time.Second)
	if err := os.Chtimes(path, next, next); err != nil {
		t.Fatal(err)
	}
}

type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }
