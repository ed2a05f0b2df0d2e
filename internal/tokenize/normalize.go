package tokenize

import (
	"strings"
	"unicode/utf8"
)

// NormalizeWord returns word as mode's tokenizer emits it when word is
// all of the text: lower-cased and NFKC-normalised in unicode mode ("Darcy"
// gives "darcy", "Ｄａｒｃｙ." gives "darcy"), lower-cased ASCII in classic
// mode, unchanged in whitespace mode; truncated to MaxTokenBytes in each.
// It runs the Scanner itself (without Project Gutenberg stripping), so a
// query word meets the vocabulary as the training text did. If the
// tokenizer reads word as no token or as several ("new york", "3.14"),
// NormalizeWord returns word unchanged. An unknown mode is read as Unicode.
func NormalizeWord(mode Mode, word string) string {
	if mode != Classic && mode != Whitespace {
		mode = Unicode
	}
	// A Scanner made for one word: the buffers of NewScanner (about
	// 150 KiB) would dominate a query's cost.
	s := &Scanner{
		count: &countingReader{r: strings.NewReader(word)},
		mode:  mode,
		max:   DefaultMaxSentence,
		buf:   make([]byte, min(len(word), 4096)+utf8.UTFMax),
		arena: make([]byte, 0, min(len(word), MaxTokenBytes)+utf8.UTFMax),
		toks:  make([][]byte, 0, 2),
	}
	s.src = s.count
	if mode != Classic {
		s.src = &bomReader{r: s.src} // as NewScanner: the text starts at word
	}
	out, n := word, 0
	for s.Scan() {
		for _, t := range s.Sentence() {
			if n++; n > 1 {
				return word
			}
			if string(t) != word { // (compared without allocating)
				out = string(t) // copied now: the next Scan reuses the bytes
			}
		}
	}
	if n == 0 || s.Err() != nil {
		return word
	}
	return out
}
