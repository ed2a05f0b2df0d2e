package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The command line of issue 14, run through the real binary: stray
// arguments, global flags, models create with parameters, files and
// --wait, telling models of one name apart, positive-only parameters,
// --quiet, convert's formats from extensions, and the read-only role's
// new name.

// runBin runs the real binary with args and an environment holding only
// PATH, HOME and extra (NAME=value), within a minute; it returns the exit
// status, stdout and stderr.
func runBin(t *testing.T, extra []string, args ...string) (int, string, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary(t), args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, extra...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String(), errb.String()
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return ee.ExitCode(), out.String(), errb.String()
	}
	t.Fatalf("%v: %v (stderr %s)", args, err, errb.String())
	return 0, "", ""
}

// smallModel writes smallVectors to dir as a text vectors file.
func smallModel(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "small.txt")
	if err := os.WriteFile(p, []byte(smallVectors), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const austenPath = "../../testdata/pride-and-prejudice_1342-0.txt"

// TestCLIStrayArguments: every command refuses positional arguments it
// does not take, exit 2, naming them, before doing anything (no output
// file written, no server started, no request sent).
func TestCLIStrayArguments(t *testing.T) {
	dir := t.TempDir()
	model := smallModel(t, dir)
	out := filepath.Join(dir, "out.bin")
	dead := "http://127.0.0.1:1" // nothing listens: a request would fail with exit 1, not 2
	for _, tc := range []struct {
		args  []string
		stray string
	}{
		{[]string{"train", "--input", austenPath, "b.txt", "--output", out}, `"b.txt"`},
		{[]string{"train", "--input", austenPath, "--output", out, "--", "--dim"}, `"--dim"`},
		{[]string{"eval", "--model", model, "--similarity", "A", "B"}, `"B"`},
		{[]string{"eval", "--model", model, "--analogies", "q.txt", "extra"}, `"extra"`},
		{[]string{"convert", "--input", model, "--output", out, "extra"}, `"extra"`},
		{[]string{"convert", "extra", "--input", model, "--output", out}, `"extra"`},
		{[]string{"similar", "--model", model, "darcy", "jane"}, `"jane"`},
		{[]string{"similarity", "--model", model, "darcy", "jane", "lizzy"}, `"lizzy"`},
		{[]string{"analogy", "--model", model, "--positive", "darcy,jane", "lizzy"}, `lizzy`},
		{[]string{"version", "extra"}, `"extra"`},
		{[]string{"describe", "--json", "extra"}, `"extra"`},
		{[]string{"serve", "extra", "--addr", "127.0.0.1:0", "--data-dir", dir}, `"extra"`},
		{[]string{"api", "--addr", "127.0.0.1:0", "--data-dir", dir, "extra"}, `"extra"`},
		{[]string{"worker", "--addr", "127.0.0.1:0", "--data-dir", dir, "extra"}, `"extra"`},
		{[]string{"read-api", "--addr", "127.0.0.1:0", "--data-dir", dir, "extra"}, `"extra"`},
		{[]string{"web", "--addr", "127.0.0.1:0", "extra"}, `"extra"`},
		{[]string{"models", "list", "extra", "--server", dead}, `"extra"`},
		{[]string{"models", "create", "--name", "x", "--url", "http://example.com/a.txt", "b.txt", "--server", dead}, `"b.txt"`},
		{[]string{"models", "get", "a", "b", "--server", dead}, `"a" "b"`},
		{[]string{"models", "delete", "a", "b", "--server", dead}, `"a" "b"`},
		{[]string{"models", "show", "a", "b", "--server", dead}, `"a" "b"`},
		{[]string{"compare", "a", "b", "darcy", "bingley", "--server", dead}, `"bingley"`},
		{[]string{"models", "export", "a", "b", "--server", dead}, `"a" "b"`},
		{[]string{"query", "austen", "darcy", "bingley", "--server", dead}, `"bingley"`},
	} {
		code, stdout, stderr := runBin(t, nil, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.stray) {
			t.Errorf("%q: exit %d, stderr %q; want 2 naming %s", tc.args, code, stderr, tc.stray)
		}
		if stdout != "" {
			t.Errorf("%q printed %q", tc.args, stdout)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused command wrote %s: %v", out, err)
	}
}

// TestCLIQueryIsNotARole: "ophicleide query" with no arguments prints the
// client command's usage, exit 2, and starts nothing; with the old
// role's flags it says the role is now read-api; read-api serves the
// read-only API and refuses writes.
func TestCLIQueryIsNotARole(t *testing.T) {
	start := time.Now()
	code, stdout, stderr := runBin(t, nil, "query")
	if code != 2 || !strings.Contains(stderr, "usage: ophicleide query MODEL WORD") || !strings.Contains(stderr, "read-api") || stdout != "" {
		t.Errorf("query: exit %d, stdout %q, stderr %q; want 2 and the usage naming read-api", code, stdout, stderr)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("query with no arguments took %v", d)
	}
	for _, args := range [][]string{
		{"query", "--addr", "127.0.0.1:0"},
		{"query", "--mongo", "mongodb://127.0.0.1:1/x", "--addr=127.0.0.1:0"},
		{"query", "--data-dir", t.TempDir()},
	} {
		code, _, stderr := runBin(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, `"ophicleide read-api"`) {
			t.Errorf("%q: exit %d, %q; want 2 naming the read-api role", args, code, stderr)
		}
	}
	_, help, _ := runBin(t, nil, "help")
	if !regexp.MustCompile(`(?m)^  read-api +run the read-only API`).MatchString(help) || !regexp.MustCompile(`(?m)^  query +query MODEL WORD`).MatchString(help) {
		t.Errorf("usage does not list read-api and query apart:\n%s", help)
	}
	p := startProc(t, binary(t), "read-api", "--data-dir", t.TempDir())
	if code, _ := call(t, "GET", p.base+"/models", "", nil); code != 200 {
		t.Errorf("read-api GET /models: %d", code)
	}
	if code, _ := call(t, "POST", p.base+"/models", `{"name": "x", "urls": ["http://example.com/a.txt"]}`, nil); code != 405 {
		t.Errorf("read-api POST /models: %d, want 405", code)
	}
}

// headerServer is a fake API on 127.0.0.1 that records each request's
// Authorization header, and answers a one-model list and queries.
func headerServer(t *testing.T) (*httptest.Server, func() []string) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/queries" {
			w.WriteHeader(201)
			w.Write([]byte(`{"query":{"id":"q1","word":"darcy","results":[[0.9,"bingley"]]}}`))
			return
		}
		w.Write([]byte(`{"models":[{"id":"0f3c2a9e-1111-4222-8333-444455556666","name":"austen","status":"ready","urls":[],"params":{},"created":"2026-12-01T10:00:00Z"}]}`))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []string {
		mu.Lock()
		defer mu.Unlock()
		out := seen
		seen = nil
		return out
	}
}

// TestCLIGlobalFlags: --server, --token and --json work before the
// command as after it (after wins), "models -h" and "models help" print
// the models commands, flags may come before the subcommand, and global
// flags before a command that has none, or unknown ones, are usage
// errors.
func TestCLIGlobalFlags(t *testing.T) {
	srv, seen := headerServer(t)
	for _, tc := range []struct {
		args []string
		auth string
		json bool
	}{
		{[]string{"--server", srv.URL, "models", "list"}, "", false},
		{[]string{"--server=" + srv.URL, "--token", "T0K", "models", "list"}, "Bearer T0K", false},
		{[]string{"--token", "T0K", "--json", "models", "list", "--server", srv.URL}, "Bearer T0K", true},
		{[]string{"-server", srv.URL, "-json", "models", "list"}, "", true},
		{[]string{"--json", "models", "list", "--server", srv.URL, "--json=false"}, "", false},
		{[]string{"--token", "T0K", "models", "list", "--server", srv.URL, "--token", "AFTER"}, "Bearer AFTER", false},
		{[]string{"models", "--server", srv.URL, "list"}, "", false},
		{[]string{"models", "--token", "T0K", "--server", srv.URL, "list", "--json"}, "Bearer T0K", true},
		{[]string{"--server", srv.URL, "--json", "query", "--token", "T0K", "austen", "darcy"}, "Bearer T0K", true},
	} {
		code, stdout, stderr := runBin(t, nil, tc.args...)
		auths := seen()
		if code != 0 || len(auths) == 0 {
			t.Errorf("%q: exit %d, %d requests: %s", tc.args, code, len(auths), stderr)
			continue
		}
		for _, a := range auths {
			if a != tc.auth {
				t.Errorf("%q sent Authorization %q, want %q", tc.args, a, tc.auth)
			}
		}
		if isJSON := json.Valid([]byte(stdout)); isJSON != tc.json {
			t.Errorf("%q: JSON %v, want %v: %s", tc.args, isJSON, tc.json, stdout)
		}
		if strings.Contains(stdout+stderr, "T0K") || strings.Contains(stdout+stderr, "AFTER") {
			t.Errorf("%q printed the key", tc.args)
		}
	}
	for _, args := range [][]string{{"models", "-h"}, {"models", "--help"}, {"models", "help"}, {"--server", srv.URL, "models", "-h"}} {
		code, stdout, _ := runBin(t, nil, args...)
		if code != 0 || !strings.Contains(stdout, "usage: ophicleide models COMMAND") || !strings.Contains(stdout, "create") || !strings.Contains(stdout, "export MODEL") {
			t.Errorf("%q: exit %d, %q; want 0 and the models commands", args, code, stdout)
		}
	}
	if len(seen()) != 0 {
		t.Errorf("models -h sent requests")
	}
	// The models list of the fake shows the short id and the created time.
	_, stdout, _ := runBin(t, nil, "--server", srv.URL, "models", "list")
	if !strings.Contains(stdout, "0f3c2a9e  ") || strings.Contains(stdout, "0f3c2a9e-1111") || !strings.Contains(stdout, "2026-12-01") {
		t.Errorf("models list: %q, want the short id 0f3c2a9e and the created date", stdout)
	}
	seen()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"models"}, "usage: ophicleide models COMMAND"},
		{[]string{"models", "frobnicate"}, `unknown models command "frobnicate"`},
		{[]string{"--server", srv.URL, "train", "--input", austenPath, "--output", "-"}, "only the client commands"},
		{[]string{"--token", "T0K", "serve"}, "only the client commands"},
		{[]string{"--dim", "5", "train"}, "--dim before the command"},
		{[]string{"--server"}, "flag needs an argument"},
		{[]string{"--server", srv.URL}, "no command"},
		{[]string{"--json=maybe", "models", "list"}, "invalid boolean"},
	} {
		code, _, stderr := runBin(t, nil, tc.args...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, %q; want 2 and %q", tc.args, code, stderr, tc.want)
		}
		if strings.Contains(stderr, "T0K") {
			t.Errorf("%q printed the key", tc.args)
		}
	}
	if len(seen()) != 0 {
		t.Errorf("refused commands sent requests")
	}
	// -h does not print the key from OPHICLEIDE_TOKEN as --token's default.
	if _, _, stderr := runBin(t, []string{"OPHICLEIDE_TOKEN=ENV-SECRET-KEY"}, "models", "list", "-h"); strings.Contains(stderr, "ENV-SECRET-KEY") || !strings.Contains(stderr, "-token") {
		t.Errorf("models list -h: %q", stderr)
	}
}

// cliModel is what the tests read of a model.
type cliModel struct {
	ID, Name, Status, Error string
	Uploads                 []string
	Params                  map[string]any
	Stats                   *struct{ VocabSize int }
}

// TestCLIModelsCreate drives a real serve: models create takes the
// page's parameters (sent as given, refused as the API refuses them,
// naming the flag) and files (a multipart upload), --wait shows the
// progress until ready (exit 0) or failed (exit 1 with the reason),
// --quiet keeps stderr empty.
func TestCLIModelsCreate(t *testing.T) {
	bin := binary(t)
	p := startProc(t, bin, "serve", "--data-dir", t.TempDir(), "--allow-private-urls", "--threads", "1")
	src := books(t)
	env := []string{"OPHICLEIDE_SERVER=" + p.base}

	code, stdout, stderr := runBin(t, env, "models", "create", "--name", "austen upload", "--file", austenPath,
		"--dim", "20", "--window", "3", "--epochs", "1", "--min-count", "3", "--seed", "7", "--sample", "0",
		"--model", "cbow", "--loss", "hs", "--tokenizer", "classic", "--max-vocab", "5000", "--alpha", "0.04",
		"--wait", "--poll", "20ms", "--json")
	if code != 0 {
		t.Fatalf("create --file --wait: exit %d: %s", code, stderr)
	}
	var m cliModel
	if err := json.Unmarshal([]byte(stdout), &m); err != nil || m.Status != "ready" {
		t.Fatalf("create --wait --json: %v %q", err, stdout)
	}
	if len(m.Uploads) != 1 || m.Stats == nil || m.Stats.VocabSize == 0 || m.Stats.VocabSize > 5000 {
		t.Errorf("model from the upload: %+v", m)
	}
	var got struct{ Model cliModel }
	call(t, "GET", p.base+"/models/"+m.ID, "", &got)
	for k, want := range map[string]any{"dim": 20.0, "window": 3.0, "epochs": 1.0, "minCount": 3.0, "seed": 7.0, "sample": -1.0,
		"model": "cbow", "loss": "hs", "tokenizer": "classic", "maxVocab": 5000.0, "alpha": 0.04} {
		if got.Model.Params[k] != want {
			t.Errorf("params.%s = %v, want %v (all: %v)", k, got.Model.Params[k], want, got.Model.Params)
		}
	}
	if !strings.Contains(stderr, "ready: ") || !strings.Contains(stderr, "words in vocabulary") {
		t.Errorf("--wait stderr: %q, want the progress and a ready line", stderr)
	}
	if lines := strings.Split(strings.TrimSpace(stderr), "\n"); len(lines) < 2 || !regexp.MustCompile(`^(queued|fetching|reading corpus|training|saving)`).MatchString(lines[0]) {
		t.Errorf("--wait progress lines: %q", lines)
	}

	// A URL, --wait, the table; then --quiet: nothing on stderr.
	code, stdout, stderr = runBin(t, env, "models", "create", "--name", "austen url", "--url", src.URL+"/austen.txt", "--epochs", "1", "--dim", "10", "--wait", "--poll", "20ms")
	if code != 0 || !regexp.MustCompile(`(?m)^[0-9a-f]{8}\s+austen url\s+ready\s+\d+`).MatchString(stdout) {
		t.Errorf("create --url --wait: exit %d, %q, %s", code, stdout, stderr)
	}
	code, _, stderr = runBin(t, env, "models", "create", "--name", "quiet", "--url", src.URL+"/austen.txt", "--epochs", "1", "--dim", "10", "--wait", "--quiet", "--poll", "20ms")
	if code != 0 || stderr != "" {
		t.Errorf("create --wait --quiet: exit %d, stderr %q; want 0 and nothing", code, stderr)
	}

	// Failed: exit 1 with the reason.
	code, _, stderr = runBin(t, env, "models", "create", "--name", "missing", "--url", src.URL+"/no-such-book.txt", "--wait", "--poll", "20ms")
	if code != 1 || !strings.Contains(stderr, "failed: ") || !strings.Contains(stderr, "404") {
		t.Errorf("create --wait on a missing URL: exit %d, %q; want 1 with the reason", code, stderr)
	}

	before := len(listModels(t, p.base))
	// Positive-only parameters at 0 or below are refused before sending,
	// naming the flag; what the server refuses names the flag too.
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--dim", "0"}, 2, "--dim must be above 0"},
		{[]string{"--window", "-3"}, 2, "--window must be above 0"},
		{[]string{"--epochs", "0"}, 2, "--epochs must be above 0"},
		{[]string{"--min-count", "0"}, 2, "--min-count must be above 0"},
		{[]string{"--alpha", "0"}, 2, "--alpha must be above 0"},
		{[]string{"--negative", "0"}, 2, "--negative must be above 0"},
		{[]string{"--partitions", "0"}, 2, "--partitions must be above 0"},
		{[]string{"--max-vocab", "-1"}, 2, "--max-vocab"},
		{[]string{"--dim", "abc"}, 2, "invalid value"},
		{[]string{"--dim", "99999999999999999999"}, 2, "invalid value"},
		{[]string{"--poll", "0s"}, 2, "--poll"},
		{[]string{"--model", "glove"}, 1, "--model: "},
		{[]string{"--dim", "5000"}, 1, "--dim: dim 5000 is above this server's limit"},
		{[]string{"--engine", "spark"}, 1, "--engine: "},
		{[]string{"--partitions", "2"}, 1, "--partitions: "},
		{[]string{"--sample", "2"}, 1, "--sample: "},
		{[]string{"--file", "/no/such/file.txt"}, 1, "/no/such/file.txt"},
		{[]string{"--file", t.TempDir()}, 1, "not a regular file"},
	} {
		args := append([]string{"models", "create", "--name", "refused", "--url", src.URL + "/austen.txt"}, tc.args...)
		code, _, stderr := runBin(t, env, args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
	var urls []string
	for i := range 500 {
		urls = append(urls, "--url", src.URL+"/austen.txt?"+strconv.Itoa(i))
	}
	if code, _, stderr := runBin(t, env, append([]string{"models", "create", "--name", "many urls"}, urls...)...); code != 1 || !strings.Contains(stderr, "at most") {
		t.Errorf("create with 500 URLs: exit %d %q; want the server's refusal", code, stderr)
	}
	if code, _, stderr := runBin(t, env, "models", "create", "--name", strings.Repeat("n", 100_000), "--url", src.URL+"/austen.txt"); code != 1 || !strings.Contains(stderr, "name") {
		t.Errorf("create with a 100k-character name: exit %d %.200q", code, stderr)
	}
	for _, args := range [][]string{{"--name", "x"}, {"--url", src.URL + "/austen.txt"}} {
		if code, _, stderr := runBin(t, env, append([]string{"models", "create"}, args...)...); code != 2 || !strings.Contains(stderr, "give --name and at least one --url or --file") {
			t.Errorf("create %q: exit %d, %q", args, code, stderr)
		}
	}
	if after := len(listModels(t, p.base)); after != before {
		t.Errorf("refused creates made %d models", after-before)
	}
	// Interrupted while waiting: exit 130, the model trains on.
	cmd := exec.Command(bin, "models", "create", "--name", "long", "--url", src.URL+"/austen.txt", "--epochs", "100", "--wait", "--poll", "20ms", "--server", p.base)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	stderrPipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make([]byte, 1)
	stderrPipe.Read(first) // the first progress line has begun: it is waiting
	cmd.Process.Signal(os.Interrupt)
	rest, _ := io.ReadAll(stderrPipe)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || !strings.Contains(string(rest), "stopped waiting; model ") || !strings.Contains(string(rest), "interrupted") {
		t.Errorf("interrupted --wait: %v, stderr %q; want exit 130 saying the model goes on", err, string(first)+string(rest))
	}
	for _, m := range listModels(t, p.base) {
		if m.Name == "long" && (m.Status == "failed" || m.Status == "ready") {
			t.Errorf("the model of an interrupted --wait: %+v", m)
		}
	}

	// Many files: all are uploaded (the server's limits answer, not the CLI).
	dir := t.TempDir()
	var many []string
	for i := range 20 {
		f := filepath.Join(dir, "part"+string(rune('a'+i))+".txt")
		os.WriteFile(f, []byte(strings.Repeat("the cat sat on the mat. ", 50)), 0o644)
		many = append(many, "--file", f)
	}
	code, stdout, stderr = runBin(t, env, append([]string{"models", "create", "--name", "many files", "--min-count", "1", "--json"}, many...)...)
	var mm cliModel
	if code != 0 || json.Unmarshal([]byte(stdout), &mm) != nil || len(mm.Uploads) != 20 {
		t.Errorf("create with 20 files: exit %d, %q %s", code, stdout, stderr)
	}
}

// listModels returns the server's models.
func listModels(t *testing.T, base string) []cliModel {
	t.Helper()
	var l struct{ Models []cliModel }
	if code, _ := call(t, "GET", base+"/models", "", &l); code != 200 {
		t.Fatalf("GET /models: %d", code)
	}
	return l.Models
}

// TestCLIModelsSameName: two models of one name are told apart in the
// listing (short ids, created times); a command given the name is an
// error listing both, and takes either's id or an 8-character prefix.
func TestCLIModelsSameName(t *testing.T) {
	bin := binary(t)
	p := startProc(t, bin, "serve", "--data-dir", t.TempDir(), "--allow-private-urls", "--threads", "1")
	env := []string{"OPHICLEIDE_SERVER=" + p.base}
	var ids []string
	for range 2 {
		code, stdout, stderr := runBin(t, env, "models", "create", "--name", "twin", "--file", austenPath, "--epochs", "1", "--dim", "10", "--wait", "--poll", "20ms", "--json")
		var m cliModel
		if code != 0 || json.Unmarshal([]byte(stdout), &m) != nil {
			t.Fatalf("create twin: exit %d %q %s", code, stdout, stderr)
		}
		ids = append(ids, m.ID)
	}
	_, list, _ := runBin(t, env, "models", "list")
	for _, id := range ids {
		if !regexp.MustCompile(`(?m)^` + id[:8] + `\s+twin\s+ready\s+.*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`).MatchString(list) {
			t.Errorf("models list lacks %s (short id, name, created time):\n%s", id[:8], list)
		}
	}
	for _, args := range [][]string{{"models", "get", "twin"}, {"query", "twin", "darcy"}, {"models", "export", "twin", "--format", "text"}, {"models", "delete", "twin"}} {
		code, stdout, stderr := runBin(t, env, args...)
		if code != 1 || !strings.Contains(stderr, `2 models are named "twin"`) || !strings.Contains(stderr, ids[0]) || !strings.Contains(stderr, ids[1]) || !strings.Contains(stderr, "created ") || stdout != "" {
			t.Errorf("%q: exit %d, %q; want 1 listing both ids", args, code, stderr)
		}
	}
	if len(listModels(t, p.base)) != 2 {
		t.Fatal("an ambiguous delete deleted")
	}
	code, stdout, stderr := runBin(t, env, "query", ids[1][:8], "darcy", "--count", "3")
	if code != 0 || len(strings.Split(strings.TrimSpace(stdout), "\n")) != 3 {
		t.Errorf("query by a short id: exit %d %q %s", code, stdout, stderr)
	}
	if code, _, stderr := runBin(t, env, "models", "get", ids[0][:7]); code != 1 || !strings.Contains(stderr, "no model with id or name") {
		t.Errorf("a 7-character prefix: exit %d %q; want not found", code, stderr)
	}
	if code, _, stderr := runBin(t, env, "models", "delete", ids[0]); code != 0 || !strings.Contains(stderr, "deleted "+ids[0]) {
		t.Errorf("delete by id: exit %d %q", code, stderr)
	}
	if code, stdout, _ := runBin(t, env, "models", "get", "twin", "--json"); code != 0 || !strings.Contains(stdout, ids[1]) {
		t.Errorf("get by the now unique name: exit %d %q", code, stdout)
	}
}

// TestCLITrainPositiveAndQuiet: train refuses positive-only parameters
// at 0 or below as the API does (naming the flag, writing nothing);
// --quiet prints nothing on stderr; convert --quiet too.
func TestCLITrainPositiveAndQuiet(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.bin")
	for _, flag := range []string{"dim", "window", "negative", "min-count", "epochs", "alpha", "threads"} {
		for _, v := range []string{"0", "-1"} {
			code, _, stderr := runBin(t, nil, "train", "--input", austenPath, "--output", out, "--"+flag, v)
			if code != 2 || !strings.Contains(stderr, "--"+flag+" must be above 0") {
				t.Errorf("train --%s %s: exit %d, %q", flag, v, code, stderr)
			}
		}
	}
	for _, args := range [][]string{{"--engine", "spark", "--spark", "sc://127.0.0.1:1", "--partitions", "0"}, {"--engine", "spark", "--spark", "sc://127.0.0.1:1", "--max-sentence-length", "-5"}} {
		code, _, stderr := runBin(t, nil, append([]string{"train", "--input", austenPath, "--output", out}, args...)...)
		if code != 2 || !strings.Contains(stderr, "must be above 0") {
			t.Errorf("train %q: exit %d, %q", args, code, stderr)
		}
	}
	if code, _, stderr := runBin(t, nil, "train", "--input", austenPath, "--output", out, "--dim", "2000000"); code != 2 || !strings.Contains(stderr, "--dim: ") {
		t.Errorf("train --dim 2000000: exit %d %q", code, stderr)
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a refused train wrote %s", out)
	}
	code, stdout, stderr := runBin(t, nil, "train", "--input", austenPath, "--output", out, "--dim", "10", "--epochs", "1", "--threads", "1", "--quiet")
	if code != 0 || stdout != "" || stderr != "" {
		t.Errorf("train --quiet: exit %d, stdout %q, stderr %q; want nothing", code, stdout, stderr)
	}
	code, _, stderr = runBin(t, nil, "train", "--input", austenPath, "--output", out, "--dim", "10", "--epochs", "1", "--threads", "1")
	if code != 0 || !strings.Contains(stderr, "done: ") {
		t.Errorf("train: exit %d, %q; want the done line", code, stderr)
	}
	code, stdout, stderr = runBin(t, nil, "convert", "--input", out, "--output", filepath.Join(dir, "out.txt"), "--quiet")
	if code != 0 || stdout != "" || stderr != "" {
		t.Errorf("convert --quiet: exit %d, %q %q", code, stdout, stderr)
	}
}

// TestCLIConvertFormatFromExtension: without --format, convert writes
// binary to .bin and text to .txt/.vec (whatever the input), and the
// other format of the input's for any other name; --format wins.
func TestCLIConvertFormatFromExtension(t *testing.T) {
	dir := t.TempDir()
	text := smallModel(t, dir)
	bin := filepath.Join(dir, "m.bin")
	isText := func(path string) bool {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return string(b) == smallVectors || strings.HasPrefix(string(b), "3 2\ndarcy 1") && !bytes.ContainsAny(b, "\x00")
	}
	for _, tc := range []struct {
		in, out string
		extra   []string
		text    bool
	}{
		{text, bin, nil, false},
		{bin, filepath.Join(dir, "a.txt"), nil, true},
		{bin, filepath.Join(dir, "a.vec"), nil, true},
		{text, filepath.Join(dir, "b.txt"), nil, true},  // text to .txt stays text
		{text, filepath.Join(dir, "b.VEC"), nil, true},  // case does not matter
		{bin, filepath.Join(dir, "b.bin"), nil, false},  // binary to .bin stays binary
		{text, filepath.Join(dir, "c.w2v"), nil, false}, // no known extension: the other format
		{bin, filepath.Join(dir, "d.w2v"), nil, true},
		{text, filepath.Join(dir, "e.bin"), []string{"--format", "text"}, true}, // --format wins
	} {
		args := append([]string{"convert", "--input", tc.in, "--output", tc.out}, tc.extra...)
		code, _, stderr := runBin(t, nil, args...)
		if code != 0 {
			t.Errorf("%q: exit %d %s", args, code, stderr)
			continue
		}
		if got := isText(tc.out); got != tc.text {
			t.Errorf("%q: text %v, want %v (%s)", args, got, tc.text, stderr)
		}
	}
	if code, _, stderr := runBin(t, nil, "convert", "--input", text, "--output", filepath.Join(dir, "f.bin"), "--format", "xml"); code != 2 || !strings.Contains(stderr, "--format") {
		t.Errorf("--format xml: exit %d %q", code, stderr)
	}
}

// TestCLIShowAndCompare: models show prints a model's card with its
// effective parameters and its evaluation scores; compare prints the two
// models, a word's neighbours in both and the words that moved most, or
// the API's JSON; its mistakes are usage errors or the server's words.
func TestCLIShowAndCompare(t *testing.T) {
	p := startProc(t, binary(t), "serve", "--data-dir", t.TempDir(), "--threads", "1")
	env := []string{"OPHICLEIDE_SERVER=" + p.base}
	var ids []string
	for _, seed := range []string{"1", "2"} {
		code, stdout, stderr := runBin(t, env, "models", "create", "--name", "austen "+seed, "--file", austenPath, "--dim", "30", "--epochs", "2", "--seed", seed, "--wait", "--poll", "20ms", "--json")
		var m cliModel
		if code != 0 || json.Unmarshal([]byte(stdout), &m) != nil {
			t.Fatalf("create: exit %d %q %s", code, stdout, stderr)
		}
		ids = append(ids, m.ID)
	}
	code, stdout, stderr := runBin(t, env, "models", "show", "austen 2")
	for _, want := range []string{ids[1], "status  ready", "upload  pride-and-prejudice", "dim 30", "epochs 2", "seed 2", "words in vocabulary", "evaluation (", "google ", "wordsim353 ", "simlex999 ", "men ", "rw ", "questions)", "pairs)"} {
		if code != 0 || !strings.Contains(stdout, want) {
			t.Errorf("models show: exit %d, lacks %q:\n%s%s", code, want, stdout, stderr)
		}
	}
	code, stdout, stderr = runBin(t, env, "compare", ids[0][:8], "austen 2", "Darcy", "--count", "5", "--moved", "7")
	if code != 0 || !strings.Contains(stdout, `neighbours of "darcy"`) || !strings.Contains(stdout, "Jaccard") || !strings.Contains(stdout, "moved most") || !strings.Contains(stdout, "aligned on") {
		t.Fatalf("compare: exit %d:\n%s%s", code, stdout, stderr)
	}
	if rows := regexp.MustCompile(`(?m)^  [1-5]  `).FindAllString(stdout, -1); len(rows) != 5 {
		t.Errorf("compare --count 5: %d neighbour rows:\n%s", len(rows), stdout)
	}
	code, stdout, _ = runBin(t, env, "--json", "compare", ids[0], ids[1])
	var cmp struct {
		A, B       struct{ ID string }
		Shared     int
		Neighbours any
		Moved      []struct {
			Word     string
			Distance float64
			A, B     []string
		}
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &cmp) != nil || cmp.A.ID != ids[0] || cmp.B.ID != ids[1] || cmp.Shared == 0 || cmp.Neighbours != nil || len(cmp.Moved) != 20 || len(cmp.Moved[0].A) != 3 {
		t.Errorf("compare --json without a word: exit %d %+v", code, cmp)
	}
	// Export in the Embedding Projector's TSV: one row per word, dim
	// floats; metadata one word a line.
	dir := t.TempDir()
	vecs, meta := filepath.Join(dir, "vectors.tsv"), filepath.Join(dir, "metadata.tsv")
	if code, _, stderr := runBin(t, env, "models", "export", "austen 1", "--format", "tsv", "--output", vecs); code != 0 {
		t.Fatalf("export tsv: %d %s", code, stderr)
	}
	if code, _, stderr := runBin(t, env, "models", "export", ids[0][:8], "--format", "tsv-metadata", "--output", meta); code != 0 {
		t.Fatalf("export tsv-metadata: %d %s", code, stderr)
	}
	vb, _ := os.ReadFile(vecs)
	mb, _ := os.ReadFile(meta)
	rows, words := strings.Split(strings.TrimSuffix(string(vb), "\n"), "\n"), strings.Split(strings.TrimSuffix(string(mb), "\n"), "\n")
	if len(rows) != len(words) || len(rows) < 1000 || len(strings.Split(rows[0], "\t")) != 30 || words[0] == "" {
		t.Errorf("TSV export: %d rows, %d words, first row %d columns", len(rows), len(words), len(strings.Split(rows[0], "\t")))
	}
	if code, _, stderr := runBin(t, env, "models", "export", ids[0], "--format", "xml", "--output", filepath.Join(dir, "x")); code != 1 || !strings.Contains(stderr, "HTTP 400") {
		t.Errorf("export --format xml: exit %d %q", code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "x")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused export left its output file")
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"compare", ids[0]}, 2, "give two models"},
		{[]string{"compare"}, 2, "give two models"},
		{[]string{"compare", ids[0], ids[1], "--count", "0"}, 2, "--count and --moved"},
		{[]string{"compare", ids[0], ids[1], "--moved", "-1"}, 2, "--count and --moved"},
		{[]string{"compare", ids[0], "no-such-model"}, 1, `no model with id or name "no-such-model"`},
		{[]string{"compare", ids[0], ids[1], "zzqqxx"}, 1, "zzqqxx"},
		{[]string{"compare", ids[0], ids[1], "--moved", "1000000"}, 1, "HTTP 400"},
		{[]string{"models", "show", "nope"}, 1, "no model with id or name"},
	} {
		code, _, stderr := runBin(t, env, tc.args...)
		if code != tc.code || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d, %q; want %d and %q", tc.args, code, stderr, tc.code, tc.want)
		}
	}
}
