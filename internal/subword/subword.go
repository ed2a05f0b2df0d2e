// Package subword computes the character n-grams of words and their
// hashed rows, exactly as fastText does (Bojanowski, Grave, Joulin and
// Mikolov, "Enriching Word Vectors with Subword Information", TACL 2017):
// the n-grams of "<" + word + ">" of minn to maxn characters (UTF-8
// characters, not bytes), the lone "<" and ">" excepted, each hashed with
// 32-bit FNV-1a over its bytes taken as signed chars (fastText's quirk,
// which matters for non-ASCII bytes) and reduced modulo the bucket count.
// A model trained or read with these rows agrees with fastText's files
// row for row.
package subword

// Config is a model's n-gram settings: fastText's -minn, -maxn, -bucket.
// MaxN 0 means no n-grams (plain Word2Vec).
type Config struct {
	MinN, MaxN int
	Bucket     int
}

// Enabled reports whether c has n-grams.
func (c Config) Enabled() bool { return c.MaxN > 0 && c.Bucket > 0 }

// Defaults of fastText's skipgram and cbow commands.
const (
	DefaultMinN   = 3
	DefaultMaxN   = 6
	DefaultBucket = 2000000
)

// Hash is fastText's string hash: FNV-1a, 32 bits, each byte
// sign-extended first.
func Hash(s []byte) uint32 {
	h := uint32(2166136261)
	for _, c := range s {
		h ^= uint32(int32(int8(c)))
		h *= 16777619
	}
	return h
}

// maxWordBytes bounds the word Rows looks at (fastText has no bound; a
// token is at most 1024 bytes here, tokenize.MaxTokenBytes).
const maxWordBytes = 4096

// Rows appends to dst the bucket rows (0 <= row < c.Bucket) of the
// n-grams of word, in fastText's order, and returns it. It allocates
// nothing when dst has room; buf is scratch of at least len(word)+2
// bytes (it is grown when shorter and returned for reuse).
func (c Config) Rows(dst []int32, word []byte, buf []byte) ([]int32, []byte) {
	if !c.Enabled() {
		return dst, buf
	}
	if len(word) > maxWordBytes {
		word = word[:maxWordBytes]
	}
	n := len(word) + 2
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	w := buf[:n]
	w[0] = '<'
	copy(w[1:], word)
	w[n-1] = '>'
	bucket := uint32(c.Bucket)
	for i := 0; i < len(w); i++ {
		if w[i]&0xC0 == 0x80 {
			continue // inside a character
		}
		h := uint32(2166136261)
		j := i
		for chars := 1; j < len(w) && chars <= c.MaxN; chars++ {
			h = (h ^ uint32(int32(int8(w[j])))) * 16777619
			j++
			for j < len(w) && w[j]&0xC0 == 0x80 {
				h = (h ^ uint32(int32(int8(w[j])))) * 16777619
				j++
			}
			if chars >= c.MinN && !(chars == 1 && (i == 0 || j == len(w))) {
				dst = append(dst, int32(h%bucket))
			}
		}
	}
	return dst, buf
}

// NGrams returns the n-grams of word as strings, in Rows' order (for
// tests and tools; Rows is the allocation-free path).
func (c Config) NGrams(word string) []string {
	if !c.Enabled() {
		return nil
	}
	w := "<" + word + ">"
	var out []string
	for i := 0; i < len(w); i++ {
		if w[i]&0xC0 == 0x80 {
			continue
		}
		j := i
		for chars := 1; j < len(w) && chars <= c.MaxN; chars++ {
			j++
			for j < len(w) && w[j]&0xC0 == 0x80 {
				j++
			}
			if chars >= c.MinN && !(chars == 1 && (i == 0 || j == len(w))) {
				out = append(out, w[i:j])
			}
		}
	}
	return out
}
