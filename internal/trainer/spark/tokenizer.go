package spark

import "github.com/ophicleide/ophicleide/internal/tokenize"

// Inputs that Spark reads itself (Inputs.Paths) are tokenised by Spark
// SQL, one sentence a line of text (Spark's text source), as close to
// internal/tokenize as Spark's functions allow. The differences, for the
// unicode mode (the default):
//   - sentences are lines: a sentence does not end at ". " inside a line,
//     nor go on across a line break without a blank line;
//   - no NFKC normalisation (Spark SQL has none): "ﬁ" stays one letter,
//     full-width letters stay full-width;
//   - no Project Gutenberg header and licence stripping;
//   - lower-casing is Java's (String.toLowerCase, locale-independent),
//     which agrees with Go's unicode.ToLower but for a few special cases
//     (final sigma, dotted I);
//   - a combining mark at the start of a word is kept.
//
// Words, apostrophes inside words (’ becomes '), digits and separators
// are as in internal/tokenize. The classic mode splits on every
// character that is not a-z after lower-casing (as the original), by
// lines rather than CRLF paragraphs; the whitespace mode splits on white
// space. Words are not truncated at tokenize.MaxTokenBytes.
var tokenExprs = map[tokenize.Mode]string{
	// 1. lower-case; 2. an apostrophe between letters becomes \u0001,
	// which 3. splitting on everything else that is not a letter, mark
	// or digit keeps; 4. \u0001 back to '; 5. drop the empty strings that
	// leading separators leave.
	tokenize.Unicode:    `filter(transform(split(regexp_replace(lower(value), r"(\p{L}\p{M}*)['\x{2019}](?=\p{L})", "$1\u0001"), r"[^\p{L}\p{M}\p{N}\x{0001}]+"), w -> replace(w, "\u0001", "'")), w -> w != "")`,
	tokenize.Classic:    `filter(split(lower(value), r"[^a-z]+"), w -> w != "")`,
	tokenize.Whitespace: `filter(split(value, r"[\s\p{Z}\x{0085}\x{FFFD}]+"), w -> w != "")`,
}

// tokensExpr is the Spark SQL expression of mode's tokens of a line
// (column value).
func tokensExpr(mode tokenize.Mode) string {
	if e, ok := tokenExprs[mode]; ok {
		return e
	}
	return tokenExprs[tokenize.Unicode]
}
