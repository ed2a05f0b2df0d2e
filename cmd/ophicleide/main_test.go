package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// runCLI runs the command in-process and returns its exit status and
// output.
func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

// trainAusten trains on Pride and Prejudice once per test binary.
var austenModel string

func trainAusten(t *testing.T) string {
	t.Helper()
	if austenModel != "" {
		return austenModel
	}
	dir, err := os.MkdirTemp("", "oph-cli")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "austen.bin")
	stats := filepath.Join(dir, "stats.json")
	code, _, stderr := runCLI(t, "", "train", "--input", "../../testdata/pride-and-prejudice_1342-0.txt",
		"--output", out, "--threads", "1", "--seed", "7", "--epochs", "5", "--stats-json", stats)
	if code != 0 {
		t.Fatalf("train exited %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "done: ") || !strings.Contains(stderr, "words in vocabulary") {
		t.Fatalf("no summary line in %q", stderr)
	}
	if b, err := os.ReadFile(stats); err != nil || !bytes.Contains(b, []byte(`"train_seconds"`)) {
		t.Fatalf("stats json: %s %v", b, err)
	}
	austenModel = out
	return out
}

func TestTrainAndQueryAusten(t *testing.T) {
	model := trainAusten(t)
	code, out, stderr := runCLI(t, "", "similar", "--model", model, "elizabeth", "--count", "10")
	if code != 0 {
		t.Fatalf("similar: %d %s", code, stderr)
	}
	if !strings.Contains(out, "jane") && !strings.Contains(out, "darcy") {
		t.Fatalf("neighbours of elizabeth lack jane and darcy:\n%s", out)
	}
	if strings.Contains(out, " elizabeth ") {
		t.Fatalf("the query word is among its neighbours:\n%s", out)
	}
	code, out, _ = runCLI(t, "", "similarity", "--model", model, "darcy", "bingley")
	if code != 0 || !strings.HasPrefix(out, "0.") {
		t.Fatalf("similarity: %d %q", code, out)
	}
	code, out, _ = runCLI(t, "", "analogy", "--model", model, "--positive", "she,mr", "--negative", "he", "--count", "3")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 3 {
		t.Fatalf("analogy: %d %q", code, out)
	}
}

func TestUnknownWord(t *testing.T) {
	model := trainAusten(t)
	code, _, stderr := runCLI(t, "", "similar", "--model", model, "Darcy")
	if code != 1 || !strings.Contains(stderr, `"Darcy" is not in the vocabulary`) || !strings.Contains(stderr, `did you mean "darcy"`) {
		t.Fatalf("got %d %q", code, stderr)
	}
}

func TestConvertRoundTrip(t *testing.T) {
	model := trainAusten(t)
	dir := t.TempDir()
	txt := filepath.Join(dir, "v.txt")
	bin := filepath.Join(dir, "v.bin")
	if code, _, stderr := runCLI(t, "", "convert", "--input", model, "--output", txt); code != 0 {
		t.Fatalf("convert to text: %s", stderr)
	}
	if code, _, stderr := runCLI(t, "", "convert", "--input", txt, "--output", bin, "--format", "binary"); code != 0 {
		t.Fatalf("convert to binary: %s", stderr)
	}
	a, _ := os.ReadFile(model)
	b, _ := os.ReadFile(bin)
	if !bytes.Equal(a, b) {
		t.Fatal("binary -> text -> binary changed the file")
	}
	head, _ := os.ReadFile(txt)
	if !bytes.HasPrefix(head, []byte(strings.Fields(string(a[:20]))[0]+" 100\n")) {
		t.Fatalf("text header: %q", head[:20])
	}
}

func TestEval(t *testing.T) {
	model := trainAusten(t)
	code, out, stderr := runCLI(t, "", "eval", "--model", model,
		"--analogies", "../../testdata/eval/questions-words.txt",
		"--similarity", "../../testdata/eval/wordsim353.tsv", "--similarity", "../../testdata/eval/simlex999.txt")
	if code != 0 {
		t.Fatalf("eval: %d %s", code, stderr)
	}
	for _, want := range []string{"analogies (3CosAdd, 30000 most frequent words)", "wordsim353.tsv: Spearman", "simlex999.txt: Spearman"} {
		if !strings.Contains(out, want) {
			t.Fatalf("eval output lacks %q:\n%s", want, out)
		}
	}
}

func TestTrainFromStdinGzipAndTokenizers(t *testing.T) {
	dir := t.TempDir()
	text := strings.Repeat("the cat sat on the mat. the dog sat on the log.\n", 50)
	out := filepath.Join(dir, "v.txt")
	for _, tok := range []string{"unicode", "classic", "whitespace"} {
		code, _, stderr := runCLI(t, text, "train", "--input", "-", "--output", out, "--format", "text",
			"--tokenizer", tok, "--dim", "10", "--epochs", "1", "--threads", "1", "--quiet")
		if code != 0 {
			t.Fatalf("%s: %s", tok, stderr)
		}
		b, _ := os.ReadFile(out)
		// the cat sat on mat dog log; whitespace keeps "mat." and "log.".
		if !strings.HasPrefix(string(b), "7 10\n") {
			t.Errorf("%s: header %q, want 7 words of dimension 10", tok, strings.SplitN(string(b), "\n", 2)[0])
		}
		if got := strings.Contains(string(b), "\nmat. "); got != (tok == "whitespace") {
			t.Errorf("%s: \"mat.\" in vocabulary = %v", tok, got)
		}
	}

	gz := filepath.Join(dir, "corpus.txt.gz")
	f, err := os.Create(gz)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write([]byte(text))
	zw.Close()
	f.Close()
	code, _, stderr := runCLI(t, "", "train", "--input", gz, "--input", gz, "--output", out, "--format", "text",
		"--dim", "10", "--epochs", "1", "--threads", "1")
	if code != 0 || !strings.Contains(stderr, "done: 1200 corpus words") {
		t.Fatalf("two gzip inputs: %d %s", code, stderr)
	}
}

func TestTrainErrors(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.txt")
	os.WriteFile(empty, []byte("  \n\n"), 0o644)
	rare := filepath.Join(dir, "rare.txt")
	os.WriteFile(rare, []byte("one two three"), 0o644)
	out := filepath.Join(dir, "out.bin")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"train", "--output", out}, 2, "--input is required"},
		{[]string{"train", "--input", empty}, 2, "--output is required"},
		{[]string{"train", "--input", filepath.Join(dir, "missing.txt"), "--output", out}, 1, "no such file"},
		{[]string{"train", "--input", empty, "--output", out}, 1, "no words"},
		{[]string{"train", "--input", rare, "--output", out}, 1, "min count"},
		{[]string{"train", "--input", rare, "--output", out, "--model", "glove"}, 2, "invalid model"},
		{[]string{"train", "--input", rare, "--output", out, "--tokenizer", "nltk"}, 2, "--tokenizer"},
		{[]string{"train", "--input", rare, "--output", out, "--format", "hdf5"}, 2, "--format"},
		{[]string{"train", "--input", rare, "--output", filepath.Join(dir, "no", "such", "dir", "v.bin")}, 1, "cannot write output"},
		{[]string{"train", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"similar", "--model", rare, "x"}, 1, "reading"},
		{[]string{"frobnicate"}, 2, "unknown command"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(t, "", c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a failed run left %s behind", out)
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.Contains(e.Name(), ".tmp") {
			t.Errorf("temporary file %s left behind", e.Name())
		}
	}
}

func TestTrainFromURL(t *testing.T) {
	src := books(t)
	out := filepath.Join(t.TempDir(), "v.bin")
	code, _, stderr := runCLI(t, "", "train", "--input", src.URL+"/alice.txt", "--output", out, "--epochs", "1", "--threads", "1", "--quiet")
	if code != 1 || !strings.Contains(stderr, "private address") {
		t.Fatalf("a loopback URL without --allow-private-urls: %d %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "", "train", "--input", src.URL+"/alice.txt", "--output", out, "--epochs", "1", "--threads", "1", "--allow-private-urls")
	if code != 0 || !strings.Contains(stderr, "words in vocabulary") {
		t.Fatalf("train from URL: %d %s", code, stderr)
	}
	code, _, stderr = runCLI(t, "", "train", "--input", src.URL+"/missing.txt", "--output", out, "--allow-private-urls")
	if code != 1 || !strings.Contains(stderr, "404") {
		t.Fatalf("404 URL: %d %s", code, stderr)
	}
}
