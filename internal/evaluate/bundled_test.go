package evaluate

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
	"testing"
)

// TestBundledIsEvalOfTheFiles: the bundled sets are the testdata files
// byte for byte, and Bundled's figures are those of Analogies and Pairs
// on them with the defaults (what `ophicleide eval` prints).
func TestBundledIsEvalOfTheFiles(t *testing.T) {
	s := readTextVectors(t, filepath.Join(testdataDir, "golden-vectors.txt"))
	rep, err := Bundled(context.Background(), s, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Analogies) != 1 || len(rep.Pairs) != 4 || rep.Seconds <= 0 {
		t.Fatalf("report %+v", rep)
	}
	for _, b := range BundledSets {
		f, err := OpenBundled(b.File)
		if err != nil {
			t.Fatal(err)
		}
		emb, _ := io.ReadAll(f)
		f.Close()
		file, _ := io.ReadAll(openTestdata(t, b.File))
		if !bytes.Equal(emb, file) {
			t.Errorf("%s: the bundled file differs from testdata/eval/%s", b.Name, b.File)
		}
	}
	want, err := Analogies(context.Background(), s, openTestdata(t, "questions-words.txt"), 30000)
	if err != nil {
		t.Fatal(err)
	}
	if got := rep.Analogies[0]; got.Name != "google" || got.Total != want.Total || got.Coverage != want.Coverage || got.Questions != 19544 {
		t.Errorf("google: %+v, want %+v", got, want)
	}
	for i, b := range BundledSets[1:] {
		want, err := Pairs(context.Background(), s, openTestdata(t, b.File), b.Name, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := rep.Pairs[i]; got != want {
			t.Errorf("%s: %+v, want %+v", b.Name, got, want)
		}
	}
}

func TestDetectKind(t *testing.T) {
	for _, c := range []struct{ text, want string }{
		{": capital\nathens greece baghdad iraq\n", KindAnalogy},
		{"x\r: s\r\na b c d", KindAnalogy},
		{"athens greece baghdad iraq\n", KindAnalogy},
		{"tiger\tcat\t7.35\n", KindSimilarity},
		{"word1 word2 score\ntiger cat 7.35\n", KindSimilarity},
		{"", KindAnalogy},
	} {
		if got := DetectKind(context.Background(), []byte(c.text)); got != c.want {
			t.Errorf("DetectKind(%q) = %s, want %s", c.text, got, c.want)
		}
	}
}

// TestFile: one file of either kind, detected or told; the wrong kind,
// junk and an unknown kind are errors; unknown words score 0.
func TestFile(t *testing.T) {
	s := analogySet(t)
	ctx := context.Background()
	rep, err := File(ctx, s, []byte(": s\nking man queen woman\n"), "mine", "", Options{})
	if err != nil || len(rep.Analogies) != 1 || len(rep.Pairs) != 0 || rep.Analogies[0].Name != "mine" || rep.Analogies[0].Questions != 1 {
		t.Fatalf("analogy file: %+v %v", rep, err)
	}
	rep, err = File(ctx, s, []byte("king queen 9\nman woman 8\nking man 2\n"), "pairs", "", Options{})
	if err != nil || len(rep.Pairs) != 1 || rep.Pairs[0].Pairs != 3 || rep.Pairs[0].Name != "pairs" {
		t.Fatalf("pair file: %+v %v", rep, err)
	}
	rep, err = File(ctx, s, []byte("zzz yyy 9\nxxx www 8\n"), "unknown", KindSimilarity, Options{})
	if err != nil || rep.Pairs[0].Scored != 0 || rep.Pairs[0].Coverage != 0 || rep.Pairs[0].Spearman != 0 {
		t.Fatalf("unknown words: %+v %v", rep, err)
	}
	for _, c := range []struct{ text, kind string }{
		{"king queen 9\n", KindAnalogy},
		{": s\nking man queen woman\n", KindSimilarity},
		{"\x89PNG\r\n\x1a\n\xff\xfe", ""},
		{"", ""},
		{strings.Repeat("a", 2<<20), ""},
	} {
		if _, err := File(ctx, s, []byte(c.text), "x", c.kind, Options{}); !errors.Is(err, ErrFormat) {
			t.Errorf("File(%.20q, %q): %v, want ErrFormat", c.text, c.kind, err)
		}
	}
	if _, err := File(ctx, s, []byte("a b 1\n"), "x", "csv", Options{}); !errors.Is(err, ErrKind) {
		t.Errorf("kind csv: %v, want ErrKind", err)
	}
}

// TestNormalize: a word not in the vocabulary as written is looked up
// in its Normalize form.
func TestNormalize(t *testing.T) {
	s := analogySet(t)
	text := []byte("kinG\u00ad queen 9\nman woman 8\nking man 2\n")
	plain, err := File(context.Background(), s, text, "x", "", Options{})
	if err != nil {
		t.Fatal(err)
	}
	strip := func(w string) string { return strings.ReplaceAll(w, "\u00ad", "") }
	norm, err := File(context.Background(), s, text, "x", "", Options{Normalize: strip})
	if err != nil {
		t.Fatal(err)
	}
	if plain.Pairs[0].Scored != 2 || norm.Pairs[0].Scored != 3 {
		t.Errorf("scored %d without Normalize, %d with; want 2 and 3", plain.Pairs[0].Scored, norm.Pairs[0].Scored)
	}
}
