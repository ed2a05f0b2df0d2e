package subword

import (
	"slices"
	"testing"
)

func TestNGramsOfWhere(t *testing.T) {
	// The paper's example: "where" with n = 3 gives <wh, whe, her, ere, re>.
	c := Config{MinN: 3, MaxN: 3, Bucket: 1}
	if got, want := c.NGrams("where"), []string{"<wh", "whe", "her", "ere", "re>"}; !slices.Equal(got, want) {
		t.Fatalf("n-grams %q, want %q", got, want)
	}
	// Characters, not bytes; the lone < and > are never n-grams.
	c = Config{MinN: 1, MaxN: 2, Bucket: 1}
	if got, want := c.NGrams("é"), []string{"<é", "é", "é>"}; !slices.Equal(got, want) {
		t.Fatalf("n-grams %q, want %q", got, want)
	}
}

func TestRowsMatchNGramsAndHash(t *testing.T) {
	c := Config{MinN: 3, MaxN: 6, Bucket: 2000000}
	var dst []int32
	var buf []byte
	for _, w := range []string{"darcy", "élan", "naïve", "日本語", "a", "", "x'y"} {
		dst, buf = c.Rows(dst[:0], []byte(w), buf)
		var want []int32
		for _, g := range c.NGrams(w) {
			want = append(want, int32(Hash([]byte(g))%uint32(c.Bucket)))
		}
		if !slices.Equal(dst, want) {
			t.Errorf("%q: rows %v, want %v", w, dst, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { dst, buf = c.Rows(dst[:0], []byte("darcy"), buf) }); n != 0 {
		t.Errorf("Rows allocates %v times a call", n)
	}
}

func TestHashSignExtends(t *testing.T) {
	// FNV-1a of "a": (2166136261 ^ 0x61) * 16777619.
	mul := func(a uint32) uint32 { return a * 16777619 }
	if got, want := Hash([]byte("a")), mul(2166136261^0x61); got != want {
		t.Fatalf("Hash(a) %d, want %d", got, want)
	}
	// A byte >= 0x80 is sign-extended (0xC3 -> 0xFFFFFFC3), as fastText's int8 cast does.
	if got, want := Hash([]byte{0xC3}), mul(2166136261^0xFFFFFFC3); got != want {
		t.Fatalf("Hash(0xC3) %d, want %d", got, want)
	}
}
