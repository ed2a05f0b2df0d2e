// Package magic recognises compressed data by its first bytes, for the
// readers of user input (the fetcher, the corpus) that unpack one gzip
// layer and refuse the rest.
package magic

// Len is the most bytes Compression looks at.
const Len = 10

// Compression names the compression format whose magic number starts
// head ("gzip", "zstd", "xz", "bzip2", "zip", "7z"), or "".
func Compression(head []byte) string {
	has := func(magic string) bool { return len(head) >= len(magic) && string(head[:len(magic)]) == magic }
	switch {
	case has("\x1f\x8b"):
		return "gzip"
	case has("\x28\xb5\x2f\xfd"):
		return "zstd"
	case has("\xfd7zXZ\x00"):
		return "xz"
	case has("BZh") && len(head) >= 10 && head[3] >= '1' && head[3] <= '9' &&
		(string(head[4:10]) == "1AY&SY" || string(head[4:10]) == "\x17\x72\x45\x38\x50\x90"):
		return "bzip2" // the magic and block size, then a block's or the end's signature
	case has("PK\x03\x04"), has("PK\x05\x06"):
		return "zip"
	case has("7z\xbc\xaf\x27\x1c"):
		return "7z"
	}
	return ""
}
