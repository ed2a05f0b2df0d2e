package tokenize

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// classicReference tokenises text as the original 2016 Ophicleide did, in
// Python: the text is split on "\r\n\r\n"; each paragraph is lower-cased,
// every byte other than a-z and space becomes a space, runs of spaces
// become one, one space is trimmed at each end, and the result is split on
// " ". A paragraph without a letter thus gives [""].
func classicReference(text []byte) [][]string {
	var out [][]string
	for _, para := range bytes.Split(text, []byte("\r\n\r\n")) {
		clean := make([]byte, len(para))
		for i, c := range para {
			c = lowerASCII[c]
			if c < 'a' || c > 'z' {
				c = ' '
			}
			clean[i] = c
		}
		words := strings.Fields(string(clean)) // = collapse, trim, split
		if len(words) == 0 {
			words = []string{""}
		}
		out = append(out, words)
	}
	return out
}

type vocabFigures struct {
	sentences, tokens, distinct, frequent int // frequent: words with count >= 5
	frequentWords                         []string
}

func figures(sents [][]string) vocabFigures {
	counts := map[string]int{}
	var f vocabFigures
	for _, s := range sents {
		f.sentences++
		f.tokens += len(s)
		for _, w := range s {
			counts[w]++
		}
	}
	f.distinct = len(counts)
	for w, n := range counts {
		if n >= 5 {
			f.frequentWords = append(f.frequentWords, w)
		}
	}
	slices.Sort(f.frequentWords)
	f.frequent = len(f.frequentWords)
	return f
}

// TestClassicGolden pins classic mode to the figures of the original
// tokeniser on an excerpt of Jane Austen: 137 sentences, 9,473 tokens, 1,983
// distinct words and the 285 words with count >= 5 of
// austen-excerpt-words.json. The original counts include 17 paragraphs with
// no letter, each the sentence [""]; classic mode drops them, so it must give
// exactly 137-17 sentences, 9,473-17 tokens, 1,982 distinct words and the
// 284 listed words other than "".
func TestClassicGolden(t *testing.T) {
	raw := readTestdata(t, "tokenize/austen-excerpt.txt")
	var golden struct{ Words []string }
	if err := json.Unmarshal(readTestdata(t, "tokenize/austen-excerpt-words.json"), &golden); err != nil {
		t.Fatal(err)
	}
	slices.Sort(golden.Words)

	// The reference reproduces the original's published figures exactly.
	ref := classicReference(raw)
	rf := figures(ref)
	if rf.sentences != 137 || rf.tokens != 9473 || rf.distinct != 1983 || rf.frequent != 285 {
		t.Fatalf("reference: %d sentences, %d tokens, %d distinct, %d frequent; want 137, 9473, 1983, 285",
			rf.sentences, rf.tokens, rf.distinct, rf.frequent)
	}
	if !reflect.DeepEqual(rf.frequentWords, golden.Words) {
		t.Fatalf("reference frequent words differ from austen-excerpt-words.json")
	}
	var emptyParagraphs int
	var refNonEmpty [][]string
	for _, s := range ref {
		if len(s) == 1 && s[0] == "" {
			emptyParagraphs++
			continue
		}
		if slices.Contains(s, "") {
			t.Fatalf("the reference gave an empty token inside a sentence: %q", s)
		}
		refNonEmpty = append(refNonEmpty, s)
	}
	if emptyParagraphs != 17 {
		t.Fatalf("%d paragraphs without a letter, want 17", emptyParagraphs)
	}

	// Classic mode: the same, without the 17 [""] sentences.
	got := scanAll(t, bytes.NewReader(raw), Options{Mode: Classic})
	f := figures(got)
	if f.sentences != 137-17 || f.tokens != 9473-17 || f.distinct != 1983-1 || f.frequent != 285-1 {
		t.Errorf("classic: %d sentences, %d tokens, %d distinct, %d frequent; want 120, 9456, 1982, 284",
			f.sentences, f.tokens, f.distinct, f.frequent)
	}
	wantWords := slices.DeleteFunc(slices.Clone(golden.Words), func(w string) bool { return w == "" })
	if !reflect.DeepEqual(f.frequentWords, wantWords) {
		t.Errorf("classic frequent words differ from austen-excerpt-words.json without \"\"")
	}
	if !reflect.DeepEqual(got, refNonEmpty) {
		t.Errorf("classic sentences differ from the original's (empty paragraphs aside)")
	}

	// Encoding and KeepGutenberg do not change classic mode, and read sizes
	// do not matter.
	for _, opts := range []Options{
		{Mode: Classic, Encoding: "latin-1"},
		{Mode: Classic, KeepGutenberg: true},
	} {
		if other := scanAll(t, bytes.NewReader(raw), opts); !reflect.DeepEqual(other, got) {
			t.Errorf("%+v changes classic mode's output", opts)
		}
	}
}

func TestClassicMatchesReferenceOnBooks(t *testing.T) {
	for _, name := range []string{"pride-and-prejudice_1342-0.txt", "alice-in-wonderland_11-0.txt"} {
		raw := readTestdata(t, name)
		var want [][]string
		for _, s := range classicReference(raw) {
			if len(s) > 1 || s[0] != "" {
				want = append(want, s)
			}
		}
		if got := scanAll(t, bytes.NewReader(raw), Options{Mode: Classic}); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: classic mode differs from the reference", name)
		}
	}
}
