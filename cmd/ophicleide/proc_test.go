package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
)

// builtBinary is the binary of this package, built once per test run.
var builtBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ophicleide-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ophicleide")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

func binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin, err := builtBinary()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// proc is a process of the real binary whose log the test reads.
type proc struct {
	cmd  *exec.Cmd
	base string
	logs *syncBuffer
}

func startProc(t testing.TB, bin string, args ...string) *proc {
	t.Helper()
	return startProcEnv(t, bin, nil, args...)
}

// startProcEnv is startProc with more environment.
func startProcEnv(t testing.TB, bin string, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, append(args, "--addr", "127.0.0.1:0")...), logs: &syncBuffer{}}
	if env != nil {
		p.cmd.Env = append(os.Environ(), env...)
	}
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	listening := regexp.MustCompile(`msg=listening url=(http://\S+)`)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		p.logs.Write([]byte(line + "\n"))
		if m := listening.FindStringSubmatch(line); m != nil {
			p.base = m[1]
			break
		}
	}
	if p.base == "" {
		t.Fatalf("%v did not start: %s", args, p.logs.String())
	}
	go func() {
		for sc.Scan() {
			p.logs.Write([]byte(sc.Text() + "\n"))
		}
	}()
	return p
}

// stop kills the process (if it still runs) and waits for it.
func (p *proc) stop() {
	p.cmd.Process.Kill()
	p.cmd.Wait()
}
