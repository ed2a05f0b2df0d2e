package tokenize

import (
	"os"
	"strings"
	"testing"
)

func TestNormalizeWord(t *testing.T) {
	cases := []struct {
		mode       Mode
		word, want string
	}{
		{Unicode, "Darcy", "darcy"},
		{Unicode, "ALICE", "alice"},
		{Unicode, "darcy", "darcy"},
		{Unicode, "Ｄａｒｃｙ", "darcy"}, // fullwidth: NFKC
		{Unicode, "Don’t", "don't"},
		{Unicode, "Élisabeth", "élisabeth"},
		{Unicode, "ﬁnd", "find"}, // the fi ligature
		{Unicode, "Darcy.", "darcy"},
		{Unicode, "'Darcy'", "darcy"},
		{Unicode, "new york", "new york"}, // two tokens: unchanged
		{Unicode, "3.14", "3.14"},
		{Unicode, "!!!", "!!!"}, // no token: unchanged
		{Unicode, "", ""},
		{"", "Darcy", "darcy"}, // the empty mode is unicode
		{Classic, "Darcy", "darcy"},
		{Classic, "café", "caf"},
		{Classic, "Don't", "Don't"}, // "don" and "t"
		{Whitespace, "Darcy", "Darcy"},
		{Whitespace, "Darcy,", "Darcy,"},
		{Whitespace, " Darcy ", "Darcy"},
		{Unicode, strings.Repeat("A", MaxTokenBytes+10), strings.Repeat("a", MaxTokenBytes)},
	}
	for _, c := range cases {
		if got := NormalizeWord(c.mode, c.word); got != c.want {
			t.Errorf("NormalizeWord(%q, %q) = %q, want %q", c.mode, c.word, got, c.want)
		}
	}
}

// TestNormalizeWordIsTheTokenizer: for every word of a real book, in every
// mode, NormalizeWord gives what Tokenize gives when the word is one token.
func TestNormalizeWordIsTheTokenizer(t *testing.T) {
	book, err := os.ReadFile("../../testdata/pride-and-prejudice_1342-0.txt")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var words []string
	for _, w := range strings.Fields(string(book)) {
		if !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	words = append(words, "Ǆemal", "ΣΊΣΥΦΟΣ", "straße", "ﬃ", "①", "Ⅻ", "x\u0301y", "\u0301x", "ǅ", "a’b", "a'’b")
	for _, mode := range Modes {
		for _, w := range words {
			sents, err := Tokenize(w, Options{Mode: mode, KeepGutenberg: true})
			if err != nil {
				t.Fatal(err)
			}
			want := w
			if len(sents) == 1 && len(sents[0]) == 1 {
				want = sents[0][0]
			}
			if got := NormalizeWord(mode, w); got != want {
				t.Fatalf("mode %s: NormalizeWord(%q) = %q, the tokenizer gives %q", mode, w, got, want)
			}
		}
	}
}

func BenchmarkNormalizeWord(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		NormalizeWord(Unicode, "Élisabeth")
	}
}
