// Package sparktest gives tests a real Apache Spark Connect server: the one
// named by OPH_TEST_SPARK_URL when it is set (make test starts one for the
// whole run and sets it), else one started on 127.0.0.1 once per test
// binary by scripts/spark-connect.sh (which installs the pinned Spark 4.3.0
// outside the repository first if it is missing: a 456 MB download from
// PyPI) and stopped when the binary's tests are done.
//
// A package whose tests call URL must stop that server through its
// TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(sparktest.Main(m)) }
//
// URL fails a test of a package without it. The server ends every
// ExecutePlan response stream after 1 s (see the script's header), so
// clients under test must reattach. It costs ~0.35 GB of memory at rest and
// 7-15 s to start on two cores; packages run in parallel by go test start
// one each unless OPH_TEST_SPARK_URL names a shared one.
//
// When no server can be had (no Java 17+, no pip or PyPI for the install,
// too little disk), URL skips the test with the reason, or fails it when
// OPH_SPARK_REQUIRED=1 (as make test sets). With OPH_SPARK_KEEP=1 the
// server's directory (its log) is kept after the run and its path printed.
package sparktest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const (
	// EnvURL names a running Spark Connect server for the tests, e.g.
	// sc://127.0.0.1:15002.
	EnvURL = "OPH_TEST_SPARK_URL"
	// EnvRequired set to 1 makes URL fail, not skip, a test when no
	// server can be had.
	EnvRequired = "OPH_SPARK_REQUIRED"
	// envKeep set to 1 keeps the started server's directory.
	envKeep = "OPH_SPARK_KEEP"
)

// startTimeout bounds installing and starting a server; the script has
// its own, shorter, limits (120 s for a server to answer).
const startTimeout = 10 * time.Minute

var (
	inMain atomic.Bool

	mu  sync.Mutex
	dir string // the started server's directory, until Main stops it

	once      sync.Once
	serverURL string
	serverErr error
)

// URL returns the Spark Connect URL (sc://host:port) for tests: the value
// of OPH_TEST_SPARK_URL if set, else that of a server this test binary
// starts on its first call. It skips t (fails it with OPH_SPARK_REQUIRED=1)
// when no server can be started.
func URL(t testing.TB) string {
	t.Helper()
	if !inMain.Load() {
		t.Fatalf("sparktest.URL needs the package's TestMain to be: func TestMain(m *testing.M) { os.Exit(sparktest.Main(m)) }")
	}
	if u := os.Getenv(EnvURL); u != "" {
		return u
	}
	once.Do(func() { serverURL, serverErr = start() })
	if serverErr != nil {
		if os.Getenv(EnvRequired) == "1" {
			t.Fatalf("no Spark Connect server (%s=1): %v", EnvRequired, serverErr)
		}
		t.Skipf("no Spark Connect server (set %s to use one, %s=1 to fail here): %v", EnvURL, EnvRequired, serverErr)
	}
	return serverURL
}

// Main is for TestMain: it runs the tests, then stops the server if this
// binary started one and removes its directory. It returns m.Run's code.
func Main(m *testing.M) int {
	inMain.Store(true)
	code := m.Run()
	stop()
	return code
}

func start() (string, error) {
	script, err := scriptPath()
	if err != nil {
		return "", err
	}
	d, err := os.MkdirTemp("", "ophicleide-spark-")
	if err != nil {
		return "", err
	}
	mu.Lock()
	dir = d // Main cleans it up even if the start fails
	mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script, "start", d)
	// The server stops itself and removes d should this process end
	// without Main (a test timeout's panic, a kill).
	cmd.Env = append(os.Environ(), "OPH_SPARK_WATCH_PID="+strconv.Itoa(os.Getpid()))
	if os.Getenv(envKeep) != "1" {
		cmd.Env = append(cmd.Env, "OPH_SPARK_WATCH_RMDIR=1")
	}
	// On a timeout TERM lets the script stop the server it was starting.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 30 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s start %s: %v\n%s", script, d, err, tail(stderr.String(), 40))
	}
	lines := strings.Fields(stdout.String())
	if len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "sc://") {
		return "", fmt.Errorf("%s start %s printed no sc:// URL: %q\n%s", script, d, stdout.String(), tail(stderr.String(), 40))
	}
	return lines[len(lines)-1], nil
}

func stop() {
	mu.Lock()
	d := dir
	dir = ""
	mu.Unlock()
	if d == "" {
		return
	}
	if script, err := scriptPath(); err == nil {
		out, err := exec.Command("bash", script, "stop", d).CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "sparktest: %s stop %s: %v\n%s", script, d, err, out)
		}
	}
	if os.Getenv(envKeep) == "1" {
		fmt.Fprintf(os.Stderr, "sparktest: kept %s (%s=1)\n", d, envKeep)
		return
	}
	os.RemoveAll(d)
}

// scriptPath finds scripts/spark-connect.sh: from this source file's place
// in the repository, else (a -trimpath build) from the working directory
// up to the module's root.
func scriptPath() (string, error) {
	const rel = "scripts/spark-connect.sh"
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		p := filepath.Join(filepath.Dir(file), "..", "..", "..", rel)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(d, rel)
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("no %s in the module at %s", rel, d)
			}
			return p, nil
		}
		if filepath.Dir(d) == d {
			return "", errors.New("found neither " + rel + " nor go.mod above " + wd)
		}
	}
}

// tail returns s's last n lines.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
