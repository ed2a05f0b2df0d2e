package magic

import (
	"bytes"
	"compress/gzip"
	"testing"
)

func TestCompression(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("text"))
	zw.Close()
	for in, want := range map[string]string{
		gz.String():                                  "gzip",
		"\x28\xb5\x2f\xfd\x00\x00":                   "zstd",
		"\xfd7zXZ\x00\x00\x04":                       "xz",
		"BZh91AY&SY\x00":                             "bzip2",
		"BZh is how a sentence may start, not bzip2": "",
		"PK\x03\x04\x14\x00":                         "zip",
		"7z\xbc\xaf\x27\x1c\x00\x04":                 "7z",
		"The Project Gutenberg eBook":                "",
		"":                                           "",
		"\x1f":                                       "",
	} {
		if got := Compression([]byte(in)); got != want {
			t.Errorf("Compression(%q) = %q, want %q", in, got, want)
		}
	}
}
