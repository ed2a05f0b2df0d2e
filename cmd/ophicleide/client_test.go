package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestClientTokenOnEveryCommand runs every client command against a
// server on 127.0.0.1 that records the Authorization header: with --token
// (or OPHICLEIDE_TOKEN) each request carries "Bearer KEY", --token wins
// over the environment, and without either no Authorization is sent.
func TestClientTokenOnEveryCommand(t *testing.T) {
	var mu sync.Mutex
	var auths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.Method == "GET" && r.URL.Path == "/models":
			w.Write([]byte(`{"models":[{"id":"m1","name":"austen","status":"ready"}]}`))
		case r.Method == "GET" && r.URL.Path == "/models/m1":
			w.Write([]byte(`{"model":{"id":"m1","name":"austen","status":"ready"}}`))
		case r.Method == "POST" && r.URL.Path == "/models":
			w.WriteHeader(201)
			w.Write([]byte(`{"id":"m2","name":"emma","status":"queued"}`))
		case r.Method == "DELETE":
			w.WriteHeader(204)
		case r.URL.Path == "/models/m1/export":
			w.Write([]byte("1 1\ndarcy 0.5\n"))
		case r.URL.Path == "/queries":
			w.WriteHeader(201)
			w.Write([]byte(`{"query":{"id":"q1","word":"darcy","results":[[0.9,"bingley"]]}}`))
		default:
			w.WriteHeader(404)
		}
	}))
	defer srv.Close()
	commands := [][]string{
		{"models", "list"}, {"models", "get", "austen"}, {"models", "delete", "austen"},
		{"models", "export", "austen", "--format", "text"},
		{"models", "create", "--name", "emma", "--url", "http://example.com/emma.txt"},
		{"query", "austen", "darcy"},
	}
	for _, tc := range []struct {
		name, flag, env, want string
	}{
		{"flag", "key-from-flag", "", "Bearer key-from-flag"},
		{"env", "", "key-from-env", "Bearer key-from-env"},
		{"flag over env", "key-from-flag", "key-from-env", "Bearer key-from-flag"},
		{"none", "", "", ""},
	} {
		for _, cmd := range commands {
			mu.Lock()
			auths = nil
			mu.Unlock()
			args := append(append([]string{}, cmd...), "--server", srv.URL)
			if tc.flag != "" {
				args = append(args, "--token", tc.flag)
			}
			code, stdout, stderr := runClient(t, tc.env, args...)
			if code != 0 {
				t.Fatalf("%s: %v: exit %d: %s%s", tc.name, cmd, code, stdout, stderr)
			}
			mu.Lock()
			if len(auths) == 0 {
				t.Errorf("%s: %v sent no request", tc.name, cmd)
			}
			for _, a := range auths {
				if a != tc.want {
					t.Errorf("%s: %v sent Authorization %q, want %q", tc.name, cmd, a, tc.want)
				}
			}
			mu.Unlock()
			for _, secret := range []string{tc.flag, tc.env} {
				if secret != "" && strings.Contains(stdout+stderr, secret) {
					t.Errorf("%s: %v printed the key: %s%s", tc.name, cmd, stdout, stderr)
				}
			}
		}
	}
}

// TestClientAccessErrors: 401 (without a key and with an unknown one),
// 403 and 429 from the server are printed with the server's words and
// what to do (give a key, the role, when to retry), exit status 1, and
// never the key.
func TestClientAccessErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch auth := r.Header.Get("Authorization"); {
		case auth == "":
			w.Header().Set("WWW-Authenticate", `Bearer realm="ophicleide"`)
			w.WriteHeader(401)
			w.Write([]byte(`{"errors":[{"status":401,"title":"Unauthorized","details":"an API key is required"}]}`))
		case auth != "Bearer good-key":
			w.WriteHeader(401)
			w.Write([]byte(`{"errors":[{"status":401,"title":"Unauthorized","details":"unknown API key"}]}`))
		case r.Method == "POST" && r.URL.Path == "/queries":
			w.Header().Set("Retry-After", "12")
			w.WriteHeader(429)
			w.Write([]byte(`{"errors":[{"status":429,"title":"Too Many Requests","details":"rate limit of key reader exceeded"}]}`))
		case r.Method == "POST":
			w.WriteHeader(403)
			w.Write([]byte(`{"errors":[{"status":403,"title":"Forbidden","details":"the read role may not create models"}]}`))
		default:
			w.Write([]byte(`{"models":[{"id":"m1","name":"austen","status":"ready"}]}`))
		}
	}))
	defer srv.Close()
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"models", "list"}, []string{"an API key is required", "HTTP 401", "--token", "OPHICLEIDE_TOKEN"}},
		{[]string{"models", "list", "--token", "bad-key"}, []string{"unknown API key", "HTTP 401", "does not know the key"}},
		{[]string{"models", "create", "--name", "x", "--url", "http://example.com/x.txt", "--token", "good-key"}, []string{"may not create models", "HTTP 403", "role does not allow"}},
		{[]string{"query", "austen", "darcy", "--token", "good-key"}, []string{"rate limit", "HTTP 429", "try again in 12s"}},
	} {
		code, stdout, stderr := runClient(t, "", append(tc.args, "--server", srv.URL)...)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1", tc.args, code)
		}
		for _, w := range tc.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("%v: stderr %q lacks %q", tc.args, stderr, w)
			}
		}
		if strings.Contains(stdout+stderr, "good-key") || strings.Contains(stdout+stderr, "bad-key") {
			t.Errorf("%v printed the key: %s%s", tc.args, stdout, stderr)
		}
	}
}

// runClient runs a client command in-process with OPHICLEIDE_TOKEN set to
// token ("": unset) and nothing else of the environment.
func runClient(t *testing.T, token string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	e := &env{stdin: strings.NewReader(""), stdout: &out, stderr: &errb, lookupEnv: func(name string) string {
		if name == "OPHICLEIDE_TOKEN" {
			return token
		}
		return ""
	}}
	code := runEnv(t.Context(), args, e)
	return code, out.String(), errb.String()
}

// TestClientWithKeys drives a real server started with a keys file: no
// key is a 401 that names --token, an unknown key a 401 that says so, a
// read key lists and queries but may not create (403 in words), a write
// key (from OPHICLEIDE_TOKEN) creates, queries, exports and deletes its
// model, and writes over --write-rate are a 429 that says when to retry.
func TestClientWithKeys(t *testing.T) {
	const writer, reader = "cli-writer-secret-0123456789", "cli-reader-secret-0123456789"
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte("writer write "+writer+"\nreader read "+reader+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stop, logs := startRoleIn(t, "serve", t.TempDir(), "--allow-private-urls", "--keys", keys, "--write-rate", "0.01", "--write-burst", "2")
	t.Cleanup(stop)
	src := books(t)
	create := []string{"models", "create", "--name", "austen", "--url", src.URL + "/austen.txt", "--epochs", "2", "--server", base}

	if code, _, stderr := runClient(t, "", "models", "list", "--server", base); code != 1 || !strings.Contains(stderr, "HTTP 401") || !strings.Contains(stderr, "--token") {
		t.Errorf("no key: %d %s", code, stderr)
	}
	if code, _, stderr := runClient(t, "", "models", "list", "--server", base, "--token", "no-such-key"); code != 1 || !strings.Contains(stderr, "does not know the key") {
		t.Errorf("unknown key: %d %s", code, stderr)
	}
	if code, _, stderr := runClient(t, "", append(create, "--token", reader)...); code != 1 || !strings.Contains(stderr, "HTTP 403") || !strings.Contains(stderr, "role does not allow") {
		t.Errorf("read key creating: %d %s", code, stderr)
	}
	code, out, stderr := runClient(t, writer, append(create, "--json")...)
	if code != 0 {
		t.Fatalf("write key creating: %d %s", code, stderr)
	}
	var m struct{ ID string }
	if err := json.Unmarshal([]byte(out), &m); err != nil || m.ID == "" {
		t.Fatalf("models create --json: %q %v", out, err)
	}
	eventually(t, 2*time.Minute, 50*time.Millisecond, func() (bool, string) {
		_, out, _ := runClient(t, writer, "models", "get", m.ID, "--server", base)
		if strings.Contains(out, "failed") {
			t.Fatalf("models get: %s", out)
		}
		return strings.Contains(out, " ready "), "models get: " + out
	})
	if code, out, stderr := runClient(t, "", "query", m.ID, "darcy", "--server", base, "--token", reader); code != 0 || !strings.Contains(out, "1 ") {
		t.Errorf("read key querying: %d %q %s", code, out, stderr)
	}
	exported := filepath.Join(t.TempDir(), "austen.txt")
	if code, _, stderr := runClient(t, writer, "models", "export", m.ID, "--format", "text", "--output", exported, "--server", base); code != 0 {
		t.Errorf("export by the owner: %d %s", code, stderr)
	}
	// Writes are limited per key: the writer has spent one of its burst
	// of 2; within three more creates it runs over.
	var limited string
	for range 3 {
		if code, _, stderr := runClient(t, writer, append(create, "--name", "emma")...); code != 0 {
			limited = stderr
			break
		}
	}
	if !strings.Contains(limited, "HTTP 429") || !strings.Contains(limited, "try again in ") {
		t.Errorf("over the write rate: %q, want a 429 saying when to retry", limited)
	}
	if l := logs.String(); strings.Contains(l, writer) || strings.Contains(l, reader) {
		t.Errorf("a key is in the server's log:\n%s", l)
	}
}
