package bytesize

import "testing"

func TestFormat(t *testing.T) {
	for n, want := range map[int64]string{0: "0 bytes", 1: "1 byte", 100: "100 bytes", 1536: "1.5 KiB", 64 << 20: "64 MiB", 16 << 30: "16 GiB", 3 << 40: "3 TiB"} {
		if got := Format(n); got != want {
			t.Errorf("Format(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestParse(t *testing.T) {
	for in, want := range map[string]int64{"1234": 1234, "512MiB": 512 << 20, "2GiB": 2 << 30, "1.5G": 3 << 29, "16 MiB": 16 << 20, "64K": 64 << 10, "0": 0, "7B": 7, "2GB": 2e9, "3 KB": 3000} {
		if got, err := Parse(in); err != nil || got != want {
			t.Errorf("Parse(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "GiB", "-1MiB", "lots", "1e30GiB", "NaN", "Inf"} {
		if _, err := Parse(in); err == nil {
			t.Errorf("Parse(%q): no error", in)
		}
	}
}
