// Package sysmem tells how much memory this process may use: the
// container's limit (cgroup v2 memory.max, or v1 memory.limit_in_bytes)
// when there is one, else the machine's physical memory. Servers derive
// their default per-job memory limit from it, so a request that would need
// more than the container has is refused instead of getting the process
// OOM-killed.
package sysmem

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Limit returns the memory available to this process in bytes and where
// the figure comes from ("cgroup v2", "cgroup v1" or "physical memory").
func Limit() (int64, string, error) { return limitFrom("/") }

// unlimited: cgroups report "no limit" as "max" (v2) or as a huge number
// close to 2^63 (v1).
const unlimited = 1 << 60

func limitFrom(root string) (int64, string, error) {
	if n, ok := cgroupV2(root); ok {
		return n, "cgroup v2", nil
	}
	if n, ok := readBytes(filepath.Join(root, "sys/fs/cgroup/memory/memory.limit_in_bytes")); ok && n < unlimited {
		return n, "cgroup v1", nil
	}
	n, err := memTotal(filepath.Join(root, "proc/meminfo"))
	return n, "physical memory", err
}

// cgroupV2 reads memory.max of this process's cgroup (from
// /proc/self/cgroup's "0::PATH" line) or, in a container whose cgroup is
// mounted as the root, /sys/fs/cgroup/memory.max.
func cgroupV2(root string) (int64, bool) {
	var paths []string
	if b, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup")); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if p, ok := strings.CutPrefix(line, "0::"); ok {
				paths = append(paths, filepath.Join(root, "sys/fs/cgroup", filepath.Clean("/"+p), "memory.max"))
			}
		}
	}
	paths = append(paths, filepath.Join(root, "sys/fs/cgroup/memory.max"))
	for _, p := range paths {
		if n, ok := readBytes(p); ok && n < unlimited {
			return n, true
		}
	}
	return 0, false
}

// readBytes reads a file holding one number of bytes (or "max").
func readBytes(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	s := strings.TrimSpace(string(b))
	if s == "max" {
		return unlimited, true
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil && n > 0
}

// memTotal reads MemTotal from /proc/meminfo ("MemTotal: 24684084 kB").
func memTotal(path string) (int64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == "MemTotal:" {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, err
			}
			if len(f) >= 3 && f[2] == "kB" {
				n <<= 10
			}
			return n, nil
		}
	}
	return 0, errors.New("no MemTotal in " + path)
}
