package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
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
