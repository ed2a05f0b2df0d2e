// Package tokenize owns the step from raw text to training sentences: it reads
// a corpus from an io.Reader and yields sentences, each a list of tokens, in
// constant memory and without allocating per token. It knows nothing about
// vocabularies, training, jobs or storage.
//
// # Pipeline
//
// Input flows through these steps, each streaming:
//
//  1. Decoding (Options.Encoding). "utf-8" (the default): bytes that are not
//     valid UTF-8 count as U+FFFD, which is a separator in every mode, so a
//     token is always valid UTF-8. "latin-1" (alias "iso-8859-1"): every byte
//     is the rune of the same number.
//  2. A leading UTF-8 byte order mark is skipped (UTF-8 input only).
//  3. Project Gutenberg stripping (unicode and whitespace modes, unless
//     Options.KeepGutenberg is set; never in classic mode, see below).
//  4. The tokeniser of the chosen Mode.
//  5. Chunking: a sentence of more than Options.MaxSentence tokens (default
//     DefaultMaxSentence) is returned as several consecutive sentences of at
//     most MaxSentence tokens each; no token is lost.
//
// A token is never empty. A token longer than MaxTokenBytes bytes (binary
// junk, a run of letters with no separator) is truncated to its longest
// prefix of whole characters that fits in MaxTokenBytes bytes; the rest of it,
// up to the next separator, is dropped. It is not split: the pieces of junk
// would only pollute the vocabulary.
//
// Memory is bounded whatever the input, a 150 MB line included: a Scanner
// holds fixed buffers (about 0.5 MiB) plus the current sentence, at most
// MaxSentence tokens of at most MaxTokenBytes bytes each (in practice a few
// bytes each). Scanning allocates nothing per token or per sentence once
// those buffers have grown to the largest sentence. A read error stops the
// Scanner; Err returns it as a *ReadError.
//
// Line ends are "\n", "\r\n" and "\r" in every mode; unicode and whitespace
// modes also accept U+0085 (NEL) and U+2028 (LINE SEPARATOR), and U+2029
// (PARAGRAPH SEPARATOR) ends a sentence in both.
//
// # Unicode mode (the default)
//
//   - A word is a maximal run of letters and digits (unicode.IsLetter,
//     unicode.IsDigit) in any script; combining marks (categories Mn and Mc)
//     continue a word but never start one.
//   - An apostrophe (U+0027 or U+2019) between two letters stays in the word
//     and is always emitted as U+0027: "Don’t" gives "don't", "Elizabeth's"
//     gives "elizabeth's". An apostrophe anywhere else is a separator, so
//     "'tis", "dogs'" and "80's" give "tis", "dogs", "80" and "s". A combining
//     mark after a letter keeps it a letter for this rule.
//   - Every other character is a separator: punctuation, symbols, white
//     space, U+FFFD. Hence "3.14" gives "3" and "14", "e-mail" gives "e" and
//     "mail".
//   - Tokens are lower-cased. A token made only of ASCII bytes is just
//     lower-cased (it is already in NFKC); any other token is normalised to
//     NFKC (golang.org/x/text/unicode/norm) and then lower-cased rune by rune
//     (unicode.ToLower). If normalisation yields characters that are neither
//     letters, digits, marks nor inner apostrophes (a few ligatures such as
//     U+FDFA decompose to several words), those characters are removed, so
//     one word in the text never gives more than one token.
//   - Scripts written without spaces (Chinese, Japanese, Thai) are not
//     segmented: a run of letters is one token, up to MaxTokenBytes.
//
// A sentence ends:
//
//   - at a blank line: a line holding only white space, that is two line
//     ends with nothing but white space between them;
//   - after "!", "?", "…" (U+2026), "。", "！" and "？", always;
//   - after "." only when the next character is white space, a line end, a
//     closing bracket or quote (one of `)]}"'` or a character of Unicode
//     category Pe or Pf such as ” and »), or the end of the input.
//
// So "3.14", "e.g" and "www.example.org" do not end a sentence, but "e.g. "
// and "Mr. Darcy" do: abbreviations are not recognised. Punctuation that
// ends an empty sentence ("?!", "...") is harmless: empty sentences are
// never returned.
//
// # Whitespace mode
//
// Tokens are maximal runs of characters that are not white space (ASCII
// white space and every rune for which unicode.IsSpace is true) and not
// U+FFFD (nor invalid UTF-8). There is no case change and no normalisation;
// punctuation stays inside tokens. Every line is a sentence: a sentence ends
// at every line end, so a one-line text8-style corpus is one sentence, cut
// into MaxSentence chunks.
//
// # Classic mode
//
// The original 2016 Ophicleide tokeniser, kept so old vocabularies can be
// reproduced. It works on bytes: ASCII letters are lower-cased, and every byte
// that is not a-z after that (digits, punctuation, white space, every byte of
// a non-ASCII character) is a separator. Sentences are the paragraphs between
// occurrences of the four bytes "\r\n\r\n", found left to right without
// overlap as Python's str.split does; a bare "\n\n" does not split. Encoding
// has no effect on the output (non-ASCII is a separator whatever it decodes
// to), and Project Gutenberg headers and licences are kept, as the original
// kept them; KeepGutenberg is ignored.
//
// The original cleaned each paragraph and split it on " ", so a paragraph
// with no letter at all became the sentence [""]: one empty-string token.
// This mode never emits empty tokens and never returns empty sentences, so
// such paragraphs vanish. On the reference excerpt of Jane Austen
// (testdata/tokenize/austen-excerpt.txt) the original gives 137 sentences,
// 9,473 tokens, 1,983 distinct words and 285 words with count >= 5, and 17 of
// its paragraphs have no letter; this mode gives 120 sentences, 9,456 tokens,
// 1,982 distinct words and 284 words with count >= 5: the same figures minus
// those 17 one-token sentences and the empty string. Apart from that artefact
// the tokens are identical, in the same order.
//
// # Project Gutenberg stripping
//
// Markers are recognised only at the start of a line (after optional spaces
// and tabs, within the first 64 bytes of the line), ignoring ASCII case;
// "***" may be followed by one space or none:
//
//	START:  *** START OF THE PROJECT GUTENBERG …   (or THIS)
//	END:    *** END OF THE PROJECT GUTENBERG …     (or THIS)
//	        End of the Project Gutenberg …         (or without "the")
//
// If a START line begins within the first GutenbergWindowLines lines and
// GutenbergWindowBytes bytes, everything up to and including that line (and
// its line end) is dropped. Only that window is buffered: if it holds no
// START line, it is tokenised normally. From an END line on, everything is
// dropped, until a later START line (which is dropped too), so a
// concatenation of several raw Gutenberg books keeps every body and no
// licence. A text without markers passes unchanged.
package tokenize
