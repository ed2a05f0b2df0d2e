// Package bytesize writes and reads sizes in bytes as people do: "64 MiB",
// "1.5 KiB", "2GiB". Every message and flag of the module that shows or
// takes a size goes through it, so they all read alike.
package bytesize

import (
	"fmt"
	"strconv"
	"strings"
)

var units = []struct {
	size int64
	name string
}{{1 << 40, "TiB"}, {1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}}

// Format writes n as "64 MiB", "1.5 KiB", "100 bytes" or "1 byte".
func Format(n int64) string {
	for _, u := range units {
		if n >= u.size {
			if n%u.size == 0 {
				return fmt.Sprintf("%d %s", n/u.size, u.name)
			}
			return fmt.Sprintf("%.1f %s", float64(n)/float64(u.size), u.name)
		}
	}
	if n == 1 {
		return "1 byte"
	}
	return fmt.Sprintf("%d bytes", n)
}

// Parse reads 1234, 512KiB, 512 MiB, 2GiB, 1.5G, 1TiB: KiB, MiB, GiB,
// TiB and K, M, G, T are powers of 1024; KB, MB, GB, TB powers of 1000;
// B is bytes.
func Parse(s string) (int64, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"TB", 1e12}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3},
		{"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if v, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(v), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || !(n >= 0) || n*float64(mult) > 1<<62 { // (NaN fails n >= 0)
		return 0, fmt.Errorf("invalid size %q: want a size like 2GiB or 512MiB", s)
	}
	return int64(n * float64(mult)), nil
}
