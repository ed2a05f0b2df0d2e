package main

import (
	"syscall"
	"testing"
)

// TestKilledServerResumes kills the real binary with SIGKILL while a job
// runs (its download hangs half-way); a new process on the same data
// directory takes the job up once the dead worker's lease lapses, and the
// model becomes ready.
func TestKilledServerResumes(t *testing.T) {
	bin := binary(t)
	src, hanging, requests := hangingBook(t)

	dir := t.TempDir()
	args := []string{"--data-dir", dir, "--allow-private-urls", "--lease", "1s"}
	p := startProc(t, bin, append([]string{"serve", "--threads", "1"}, args...)...)
	cmd, base := p.cmd, p.base
	var m struct{ ID string }
	if code, _ := call(t, "POST", base+"/models", `{"name": "alice", "urls": ["`+src.URL+`/alice.txt"], "params": {"minCount": 2}}`, &m); code != 201 {
		t.Fatalf("create: %d", code)
	}
	<-hanging
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	base = startProc(t, bin, append([]string{"serve", "--threads", "1"}, args...)...).base
	waitModel(t, base, m.ID, "ready")
	if n := requests.Load(); n != 2 {
		t.Fatalf("%d downloads, want 2", n)
	}
}
