package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/auth"
)

// startAuthRole runs role on a temporary data directory with the keys
// file polled every 10 ms, and returns its base URL and logs.
func startAuthRole(t *testing.T, role, addr string, extra ...string) (base string, logs *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan string, 1)
	logs = &syncBuffer{}
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: logs, keysPoll: 10 * time.Millisecond,
		onListen: func(a string) { addrs <- a }, lookupEnv: func(string) string { return "" }}
	args := append([]string{role, "--addr", addr, "--data-dir", t.TempDir(), "--threads", "1"}, extra...)
	done := make(chan int, 1)
	go func() { done <- runEnv(ctx, args, e) }()
	select {
	case a := <-addrs:
		base = "http://" + strings.Replace(a, "[::]", "127.0.0.1", 1)
	case code := <-done:
		cancel()
		t.Fatalf("%s exited %d: %s", role, code, logs.String())
	}
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != 0 {
				t.Errorf("%s exited %d after shutdown: %s", role, code, logs.String())
			}
		})
	})
	return base, logs
}

// runRoleOnce runs role with args and an empty environment and returns
// its exit code and stderr (for roles that refuse to start).
func runRoleOnce(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stderr strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: &stderr, lookupEnv: func(string) string { return "" },
		onListen: func(string) { cancel() }} // a role that starts is stopped at once
	code := runEnv(ctx, append(args, "--data-dir", t.TempDir()), e)
	return code, stderr.String()
}

// send makes a request with headers (name, value pairs), validates the
// exchange against the OpenAPI document and returns the status, headers
// and body.
func send(t *testing.T, method, url, ctype, body string, headers ...string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !strings.HasSuffix(url, "/openapi.yaml") {
		checkExchange(t, true, method, url, ctype, []byte(body), resp.StatusCode, resp.Header, b)
	}
	return resp.StatusCode, resp.Header, b
}

func writeKeys(t *testing.T, path, content string) {
	t.Helper()
	// As a Secret's update: a new file renamed over the old one.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

const smallVectors = "3 2\ndarcy 1 0\njane 0 1\nlizzy 1 1\n"

// TestServeRefusesOpenNonLoopback: without keys, every server role
// refuses an address beyond loopback, naming --keys and --no-auth; with
// --no-auth it starts and says it is open.
func TestServeRefusesOpenNonLoopback(t *testing.T) {
	for _, role := range []string{"serve", "api", "read-api", "worker"} {
		for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0"} {
			code, stderr := runRoleOnce(t, role, "--addr", addr)
			if code != 2 || !strings.Contains(stderr, "--keys") || !strings.Contains(stderr, "--no-auth") {
				t.Errorf("%s --addr %s without keys: exit %d, %q; want 2 naming --keys and --no-auth", role, addr, code, stderr)
			}
		}
	}
	base, logs := startAuthRole(t, "serve", "0.0.0.0:0", "--no-auth")
	if code, _, b := send(t, "GET", base+"/models", "", ""); code != 200 {
		t.Errorf("GET /models with --no-auth: %d %s", code, b)
	}
	if !strings.Contains(logs.String(), "--no-auth: anyone who can reach 0.0.0.0:0 may do anything") {
		t.Errorf("no warning of --no-auth in the logs: %s", logs)
	}
	_, logs = startAuthRole(t, "serve", "127.0.0.1:0")
	if !strings.Contains(logs.String(), "no keys: anyone who can reach 127.0.0.1:0 may do anything") {
		t.Errorf("an open loopback server does not say so: %s", logs)
	}
}

// TestServeAuthFlagErrors: flags that contradict each other, and keys
// files that cannot be used, stop the server at start with a message
// that names the problem and no secret.
func TestServeAuthFlagErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "keys")
	writeKeys(t, good, "admin admin admin-secret-123\n")
	malformed := filepath.Join(dir, "malformed")
	writeKeys(t, malformed, "admin admin admin-secret-123\nbob superuser bob-secret-456\n")
	unreadable := filepath.Join(dir, "unreadable")
	writeKeys(t, unreadable, "admin admin admin-secret-123\n")
	os.Chmod(unreadable, 0)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--public-read"}, "need --keys"},
		{[]string{"--metrics-auth"}, "need --keys"},
		{[]string{"--keys", good, "--no-auth"}, "exclude each other"},
		{[]string{"--keys", malformed}, "line 2"},
		{[]string{"--keys", dir}, "directory"},
		{[]string{"--keys", filepath.Join(dir, "missing")}, "no such file"},
		{[]string{"--keys", unreadable}, "permission denied"},
	} {
		if c.want == "permission denied" && os.Geteuid() == 0 {
			continue
		}
		code, stderr := runRoleOnce(t, append([]string{"serve", "--addr", "127.0.0.1:0"}, c.args...)...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("serve %v: exit %d, %q; want an error with %q", c.args, code, stderr, c.want)
		}
		if strings.Contains(stderr, "bob-secret") || strings.Contains(stderr, "superuser") {
			t.Errorf("serve %v: the error repeats a secret: %q", c.args, stderr)
		}
	}
}

// TestServeKeys runs serve with a keys file: keyless and unknown keys are
// 401 with WWW-Authenticate, a hashed secret works, a reader cannot
// write, the probes stay open, a rotated file takes effect and a broken
// one keeps the keys in use. Every exchange is checked against the
// OpenAPI document.
func TestServeKeys(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	writeKeys(t, keys, "# test keys\nroot admin root-secret-1234\nci write "+auth.Hash("ci-secret-5678")+"\nviewer read viewer-secret-9012\n")
	base, logs := startAuthRole(t, "serve", "127.0.0.1:0", "--keys", keys)
	if !strings.Contains(logs.String(), "keys=3") {
		t.Errorf("the start-up log does not count the keys: %s", logs)
	}
	bearer := func(s string) []string { return []string{"Authorization", "Bearer " + s} }

	for _, h := range [][]string{nil, bearer("wrong"), {"X-API-Key", "wrong"}, bearer(strings.Repeat("x", 50<<10))} {
		code, hdr, body := send(t, "GET", base+"/api/models", "", "", h...)
		if code != 401 || hdr.Get("WWW-Authenticate") != `Bearer realm="ophicleide"` {
			t.Errorf("GET /api/models with %.40v: %d %q %s", h, code, hdr.Get("WWW-Authenticate"), body)
		}
	}
	for _, p := range []string{"/healthz", "/readyz", "/openapi.yaml", "/metrics"} {
		if code, _, _ := send(t, "GET", base+p, "", ""); code != 200 {
			t.Errorf("GET %s without a key: %d", p, code)
		}
	}
	// The hashed key (write) imports; the reader may not.
	code, _, body := send(t, "POST", base+"/models/import?name=small", "application/octet-stream", smallVectors, bearer("ci-secret-5678")...)
	if code != 201 {
		t.Fatalf("import with the hashed write key: %d %s", code, body)
	}
	var m struct{ ID string }
	json.Unmarshal(body, &m)
	code, _, body = send(t, "POST", base+"/models/import?name=small", "application/octet-stream", smallVectors, "X-API-Key", "viewer-secret-9012")
	if code != 403 || !strings.Contains(string(body), "write role") {
		t.Errorf("import with a read key: %d %s", code, body)
	}
	query := fmt.Sprintf(`{"model":%q,"word":"darcy","count":1}`, m.ID)
	if code, _, body := send(t, "POST", base+"/queries", "application/json", query, "X-API-Key", "viewer-secret-9012"); code != 201 {
		t.Errorf("query with a read key: %d %s", code, body)
	}

	// Rotation: the viewer's secret changes, ci is revoked.
	writeKeys(t, keys, "root admin root-secret-1234\nviewer read viewer-secret-rotated\n")
	eventually(t, 10*time.Second, 10*time.Millisecond, func() (bool, string) {
		code, _, _ := send(t, "GET", base+"/models", "", "", "X-API-Key", "viewer-secret-rotated")
		return code == 200, fmt.Sprintf("the rotated key: %d", code)
	})
	for _, s := range []string{"viewer-secret-9012", "ci-secret-5678"} {
		if code, _, _ := send(t, "GET", base+"/models", "", "", bearer(s)...); code != 401 {
			t.Errorf("a rotated-out key still works: %d", code)
		}
	}
	// A broken file keeps the keys in use, and says so in the log.
	writeKeys(t, keys, "root admin root-secret-1234\nviewer reader viewer-secret-broken\n")
	eventually(t, 10*time.Second, 10*time.Millisecond, func() (bool, string) {
		return strings.Contains(logs.String(), "keeping the keys in use"), "no log of the broken keys file"
	})
	if code, _, _ := send(t, "GET", base+"/models", "", "", "X-API-Key", "viewer-secret-rotated"); code != 200 {
		t.Errorf("a broken keys file dropped the keys in use: %d", code)
	}
	if strings.Contains(logs.String(), "viewer-secret") {
		t.Errorf("a secret is in the log: %s", logs)
	}
}

// TestServeMetricsAuthWorker: the worker role serves its probes open and,
// with --metrics-auth, its metrics to keys only.
func TestServeMetricsAuthWorker(t *testing.T) {
	keys := filepath.Join(t.TempDir(), "keys")
	writeKeys(t, keys, "prom read prom-secret-1234\n")
	base, _ := startAuthRole(t, "worker", "127.0.0.1:0", "--keys", keys, "--metrics-auth")
	for _, c := range []struct {
		path string
		h    []string
		want int
	}{{"/healthz", nil, 200}, {"/readyz", nil, 200}, {"/metrics", nil, 401}, {"/metrics", []string{"X-API-Key", "nope"}, 401}, {"/metrics", []string{"X-API-Key", "prom-secret-1234"}, 200}} {
		req, _ := http.NewRequest("GET", base+c.path, nil)
		if len(c.h) == 2 {
			req.Header.Set(c.h[0], c.h[1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("worker GET %s %v: %d, want %d", c.path, c.h, resp.StatusCode, c.want)
		}
	}
}

// originalFrontEnd sends what the unmodified 2016 front end's server.js
// sends (see internal/http/guard.go): JSON without a key, no Origin, Host
// the training address.
func originalFrontEnd(t *testing.T, method, url, body string) int {
	t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	code, _, _ := send(t, method, url, ctype, body)
	return code
}

// TestServeOriginalFrontEnd: the original front end keeps working against
// an open loopback server, and reads (only) with --public-read.
func TestServeOriginalFrontEnd(t *testing.T) {
	create := `{"name":"austen","urls":["https://www.gutenberg.org/files/1342/1342-0.txt"],"callback":"not implemented"}`
	base, _ := startAuthRole(t, "serve", "127.0.0.1:0")
	if code := originalFrontEnd(t, "GET", base+"/models", ""); code != 200 {
		t.Errorf("open: GET /models: %d", code)
	}
	var m struct{ ID string }
	code, _, body := send(t, "POST", base+"/models", "application/json", create)
	json.Unmarshal(body, &m)
	if code != 201 {
		t.Errorf("open: POST /models: %d %s", code, body)
	}
	if code := originalFrontEnd(t, "GET", base+"/queries", ""); code != 200 {
		t.Errorf("open: GET /queries: %d", code)
	}
	if code := originalFrontEnd(t, "DELETE", base+"/models/"+m.ID, ""); code != 204 {
		t.Errorf("open: DELETE /models/{id}: %d", code)
	}

	keys := filepath.Join(t.TempDir(), "keys")
	writeKeys(t, keys, "root admin root-secret-1234\n")
	base, _ = startAuthRole(t, "serve", "127.0.0.1:0", "--keys", keys, "--public-read")
	code, _, body = send(t, "POST", base+"/models/import?name=small", "application/octet-stream", smallVectors, "X-API-Key", "root-secret-1234")
	json.Unmarshal(body, &m)
	if code != 201 {
		t.Fatalf("import as admin: %d %s", code, body)
	}
	for _, c := range []struct {
		method, path, body string
		want               int
	}{
		{"GET", "/models", "", 200},
		{"GET", "/models/" + m.ID, "", 200},
		{"GET", "/queries", "", 200},
		{"POST", "/queries", fmt.Sprintf(`{"model":%q,"word":"darcy","count":2}`, m.ID), 201},
		{"POST", "/models", create, 401},
		{"DELETE", "/models/" + m.ID, "", 401},
	} {
		if code := originalFrontEnd(t, c.method, base+c.path, c.body); code != c.want {
			t.Errorf("--public-read: %s %s: %d, want %d", c.method, c.path, code, c.want)
		}
	}
}

// TestDescribeAuthFlags: describe lists the access flags of every server
// role and their environment variables.
func TestDescribeAuthFlags(t *testing.T) {
	var out strings.Builder
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: io.Discard}
	if code := runEnv(context.Background(), []string{"describe", "--json"}, e); code != 0 {
		t.Fatalf("describe: %d", code)
	}
	var d description
	if err := json.Unmarshal([]byte(out.String()), &d); err != nil {
		t.Fatal(err)
	}
	for _, role := range serverRoles {
		var names []string
		for _, f := range d.Roles[role].Flags {
			names = append(names, f.Name)
		}
		for _, want := range []string{"keys", "public-read", "no-auth", "metrics-auth"} {
			if !slices.Contains(names, want) {
				t.Errorf("%s: no --%s in %v", role, want, names)
			}
		}
		for _, want := range []string{"OPH_KEYS_FILE", "OPH_PUBLIC_READ", "OPH_NO_AUTH", "OPH_METRICS_AUTH"} {
			if !slices.Contains(d.Roles[role].Env, want) {
				t.Errorf("%s: env lacks %s", role, want)
			}
		}
	}
}
