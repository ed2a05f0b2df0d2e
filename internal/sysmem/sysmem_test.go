package sysmem

import (
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, root, path, content string) {
	t.Helper()
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

const meminfo = "MemTotal:       24684084 kB\nMemFree:        1000 kB\n"

func TestLimitFrom(t *testing.T) {
	for _, c := range []struct {
		name  string
		files map[string]string
		want  int64
		src   string
	}{
		{"v2 own cgroup", map[string]string{"proc/self/cgroup": "0::/kubepods/pod1/c1\n", "sys/fs/cgroup/kubepods/pod1/c1/memory.max": "2147483648\n", "proc/meminfo": meminfo}, 2 << 30, "cgroup v2"},
		{"v2 root mount", map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "1073741824\n", "proc/meminfo": meminfo}, 1 << 30, "cgroup v2"},
		{"v2 unlimited", map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "max\n", "proc/meminfo": meminfo}, 24684084 << 10, "physical memory"},
		{"v1", map[string]string{"proc/self/cgroup": "4:memory:/x\n0::/\n", "sys/fs/cgroup/memory/memory.limit_in_bytes": "536870912\n", "proc/meminfo": meminfo}, 512 << 20, "cgroup v1"},
		{"v1 unlimited", map[string]string{"sys/fs/cgroup/memory/memory.limit_in_bytes": "9223372036854771712\n", "proc/meminfo": meminfo}, 24684084 << 10, "physical memory"},
		{"nothing but meminfo", map[string]string{"proc/meminfo": meminfo}, 24684084 << 10, "physical memory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			root := t.TempDir()
			for p, s := range c.files {
				write(t, root, p, s)
			}
			n, src, err := limitFrom(root)
			if err != nil || n != c.want || src != c.src {
				t.Fatalf("got %d %q %v, want %d %q", n, src, err, c.want, c.src)
			}
		})
	}
	if _, _, err := limitFrom(t.TempDir()); err == nil {
		t.Error("no files: no error")
	}
}

// TestLimitHere reads this machine's real files.
func TestLimitHere(t *testing.T) {
	n, src, err := Limit()
	if err != nil || n < 64<<20 {
		t.Fatalf("Limit: %d %q %v", n, src, err)
	}
	t.Logf("%d MiB from %s", n>>20, src)
}
