package main

import (
	"bufio"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
)

// startBinary runs the built binary's serve role and returns its base URL.
func startBinary(t *testing.T, bin string, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--threads", "1"}, args...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	listening := regexp.MustCompile(`msg=listening url=(http://\S+)`)
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := listening.FindStringSubmatch(sc.Text()); m != nil {
			go func() {
				for sc.Scan() {
				}
			}()
			return cmd, m[1]
		}
	}
	t.Fatalf("the server did not start: %v", sc.Err())
	return nil, ""
}

// TestKilledServerResumes kills the real binary with SIGKILL while a job
// runs (its download hangs half-way); a new process on the same data
// directory takes the job up once the dead worker's lease lapses, and the
// model becomes ready.
func TestKilledServerResumes(t *testing.T) {
	bin := binary(t)
	src, hanging, requests := hangingBook(t)

	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--allow-private-urls", "--lease", "1s"}
	cmd, base := startBinary(t, bin, args...)
	var m struct{ ID string }
	if code, _ := call(t, "POST", base+"/models", `{"name": "alice", "urls": ["`+src.URL+`/alice.txt"], "params": {"minCount": 2}}`, &m); code != 201 {
		t.Fatalf("create: %d", code)
	}
	<-hanging
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	_, base = startBinary(t, bin, args...)
	waitModel(t, base, m.ID, "ready")
	if n := requests.Load(); n != 2 {
		t.Fatalf("%d downloads, want 2", n)
	}
}
