package main

import (
	"bytes"
	leb "encoding/binary"
	"encoding/json"
	"math"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide/internal/fasttext"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Tests of fastText's .bin model files through the binary: the offline
// commands on a model Debian's fasttext trained, train --format fasttext
// read back by fasttext, convert both ways, and POST /models/import of a
// .bin with its hostile cases.

const alicePath = "../../testdata/alice-in-wonderland_11-0.txt"

// fastTextCLI is Debian's fasttext: required with OPH_FASTTEXT_REQUIRED=1
// (make test), else the test is skipped without it.
func fastTextCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("fasttext")
	if err != nil {
		if os.Getenv("OPH_FASTTEXT_REQUIRED") == "1" {
			t.Fatal("fasttext is required (OPH_FASTTEXT_REQUIRED=1): apt-get install fasttext")
		}
		t.Skip("no fasttext binary (apt-get install fasttext)")
	}
	return p
}

// fastTextModel trains a tiny fastText skip-gram model on Alice and
// returns the path of its .bin (its .vec is beside it).
func fastTextModel(t *testing.T, ft, dir string) string {
	t.Helper()
	out := filepath.Join(dir, "alice")
	cmd := exec.Command(ft, "skipgram", "-input", alicePath, "-output", out,
		"-dim", "10", "-epoch", "1", "-minn", "3", "-maxn", "6", "-bucket", "20000", "-thread", "1")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("fasttext skipgram: %v\n%s", err, b)
	}
	return out + ".bin"
}

// fastTextVectors runs fasttext print-word-vectors on words.
func fastTextVectors(t *testing.T, ft, model string, words []string) map[string][]float64 {
	t.Helper()
	cmd := exec.Command(ft, "print-word-vectors", model)
	cmd.Stdin = strings.NewReader(strings.Join(words, "\n") + "\n")
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("print-word-vectors %s: %v", model, err)
	}
	out := map[string][]float64{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Fields(line)
		for _, x := range f[1:] {
			v, err := strconv.ParseFloat(x, 64)
			if err != nil {
				t.Fatalf("print-word-vectors: %q", line)
			}
			out[f[0]] = append(out[f[0]], v)
		}
	}
	return out
}

// sameAsPrinted: fastText prints 5 significant digits.
func sameAsPrinted(ours []float32, theirs []float64) bool {
	if len(ours) != len(theirs) {
		return false
	}
	for i, b := range theirs {
		tol := 1e-6
		if b != 0 {
			tol += 0.505 * math.Pow(10, math.Floor(math.Log10(math.Abs(b)))-4)
		}
		if math.Abs(float64(ours[i])-b) > tol {
			return false
		}
	}
	return true
}

func readFastText(t *testing.T, path string) *vectors.Set {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, _, err := fasttext.Read(f, fasttext.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCLIFastTextModel: similar, similarity, analogy and eval read a .bin
// fastText wrote and answer for words it never saw; convert turns it into
// the .vec fastText wrote itself, and back into a .bin fastText reads.
func TestCLIFastTextModel(t *testing.T) {
	ft := fastTextCLI(t)
	dir := t.TempDir()
	model := fastTextModel(t, ft, dir)

	code, out, errOut := runBin(t, nil, "similar", "--model", model, "--count", "5", "alicee")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 5 || !strings.Contains(errOut, "not in the vocabulary") {
		t.Fatalf("similar alicee: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runBin(t, nil, "similar", "--model", model, "--count", "3", "Alice")
	if code != 0 || strings.Contains(errOut, "not in the vocabulary") {
		t.Fatalf("similar Alice: %d\n%s\n%s", code, out, errOut)
	}
	code, out, errOut = runBin(t, nil, "similarity", "--model", model, "rabbit", "rabbitses")
	if v, err := strconv.ParseFloat(strings.TrimSpace(out), 64); code != 0 || err != nil || v < -1 || v > 1 {
		t.Fatalf("similarity: %d %q %s", code, out, errOut)
	}
	code, out, errOut = runBin(t, nil, "analogy", "--model", model, "--positive", "queen,kingly", "--negative", "king", "--count", "2")
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) != 2 {
		t.Fatalf("analogy: %d\n%s\n%s", code, out, errOut)
	}
	pairs := filepath.Join(dir, "pairs.txt")
	if err := os.WriteFile(pairs, []byte("alice queen 5\nrabbit rabbitish 8\nhatter mad 6\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runBin(t, nil, "eval", "--model", model, "--similarity", pairs)
	if code != 0 || !strings.Contains(out, "pairs.txt: Spearman") {
		t.Fatalf("eval: %d\n%s\n%s", code, out, errOut)
	}

	// convert .bin -> .vec: fastText's own .vec, value for value.
	vec := filepath.Join(dir, "ours.vec")
	if code, _, errOut := runBin(t, nil, "convert", "--input", model, "--output", vec, "--quiet"); code != 0 {
		t.Fatalf("convert to .vec: %d %s", code, errOut)
	}
	ours, theirs := loadSet(t, vec), loadSet(t, strings.TrimSuffix(model, ".bin")+".vec")
	if ours.Len() != theirs.Len() {
		t.Fatalf("%d words, fastText's .vec %d", ours.Len(), theirs.Len())
	}
	for i := 0; i < ours.Len(); i += 53 {
		j, ok := theirs.Index(ours.Word(i))
		if !ok || !near32(ours.Row(i), theirs.Row(j), 1e-5) {
			t.Fatalf("%q differs from fastText's .vec", ours.Word(i))
		}
	}
	// convert .vec -> fasttext: a model without n-grams fastText reads.
	bin := filepath.Join(dir, "plain.bin")
	if code, _, errOut := runBin(t, nil, "convert", "--input", vec, "--output", bin, "--format", "fasttext", "--quiet"); code != 0 {
		t.Fatalf("convert to fasttext: %d %s", code, errOut)
	}
	got := fastTextVectors(t, ft, bin, []string{"the", "said", "unseenword"})
	for _, w := range []string{"the", "said"} {
		v, _ := ours.Vector(w)
		if !sameAsPrinted(v, got[w]) {
			t.Errorf("%q: fastText reads %v, ours %v", w, got[w], v)
		}
	}
	if !sameAsPrinted(make([]float32, 10), got["unseenword"]) {
		t.Errorf("an unseen word without n-grams: %v, want zeros", got["unseenword"])
	}
	if code, _, errOut := runBin(t, nil, "convert", "--input", vec, "--output", bin, "--format", "fasttxt"); code != 2 || !strings.Contains(errOut, "fasttext") {
		t.Errorf("--format fasttxt: %d %s", code, errOut)
	}
}

func loadSet(t *testing.T, path string) *vectors.Set {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s, err := vectors.Read(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func near32(a, b []float32, tol float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Abs(float64(a[i]-b[i])) > tol {
			return false
		}
	}
	return true
}

// TestCLITrainFastTextFormat: train --format fasttext with subwords writes
// a .bin fastText reads with our vectors for known and unseen words, and
// similar answers for an unseen word on it.
func TestCLITrainFastTextFormat(t *testing.T) {
	ft := fastTextCLI(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "m.bin")
	code, _, errOut := runBin(t, nil, "train", "--input", alicePath, "--output", out, "--format", "fasttext",
		"--minn", "3", "--maxn", "6", "--bucket", "20000", "--dim", "12", "--epochs", "1", "--threads", "1", "--min-count", "3", "--quiet")
	if code != 0 {
		t.Fatalf("train: %d %s", code, errOut)
	}
	s := readFastText(t, out)
	if s.Subwords() == nil || s.Subwords().Config.Bucket != 20000 {
		t.Fatalf("subwords %+v", s.Subwords())
	}
	probe := []string{"alice", "the", "rabbit", "alicee", "rabbitish", "wonderlandish"}
	theirs := fastTextVectors(t, ft, out, probe)
	for _, w := range probe {
		v, oov, err := s.WordVector(w)
		if err != nil {
			t.Fatal(err)
		}
		if !sameAsPrinted(v, theirs[w]) {
			t.Errorf("%q (oov %v): ours %v, fastText %v", w, oov, v, theirs[w])
		}
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	_, meta, err := fasttext.Read(f, fasttext.Limits{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if meta.Args.Epoch != 1 || meta.Args.MinCount != 3 || meta.Args.Model != fasttext.SkipGram || meta.Counts[1] > meta.Counts[0] || meta.Counts[len(meta.Counts)-1] < 3 {
		t.Errorf("meta: %+v, counts %v...", meta.Args, meta.Counts[:3])
	}
	code, stdout, errOut := runBin(t, nil, "similar", "--model", out, "--count", "3", "rabbitish")
	if code != 0 || !strings.Contains(errOut, "n-grams") || len(strings.Split(strings.TrimSpace(stdout), "\n")) != 3 {
		t.Fatalf("similar rabbitish: %d\n%s\n%s", code, stdout, errOut)
	}
	// Without subwords the format still writes (minn = maxn = bucket = 0).
	plain := filepath.Join(dir, "plain.bin")
	if code, _, errOut := runBin(t, nil, "train", "--input", alicePath, "--output", plain, "--format", "fasttext", "--dim", "8", "--epochs", "1", "--threads", "1", "--quiet"); code != 0 {
		t.Fatalf("train without subwords: %d %s", code, errOut)
	}
	if s := readFastText(t, plain); s.Subwords() != nil {
		t.Fatal("subwords without --maxn")
	}
}

// TestImportFastText: POST /models/import takes a fastText .bin (raw and
// multipart); the model has the file's params and answers for unseen
// words; malformed and quantized files are 400s naming the problem.
func TestImportFastText(t *testing.T) {
	ft := fastTextCLI(t)
	model := fastTextModel(t, ft, t.TempDir())
	data, err := os.ReadFile(model)
	if err != nil {
		t.Fatal(err)
	}
	set := readFastText(t, model)
	base := startServer(t)

	code, _, body := send(t, "POST", base+"/models/import?name=alice-ft", "application/octet-stream", string(data))
	if code != 201 {
		t.Fatalf("import: %d %s", code, body)
	}
	var m struct {
		ID     string `json:"id"`
		Status string `json:"status"`
		Params struct {
			Dim, MinN, MaxN, Bucket, Epochs int
			Model, Loss                     string
		} `json:"params"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if m.Status != "ready" || m.Params.Dim != 10 || m.Params.MinN != 3 || m.Params.MaxN != 6 || m.Params.Bucket != 20000 || m.Params.Model != "skipgram" || m.Params.Loss != "ns" || m.Params.Epochs != 1 {
		t.Fatalf("imported model %s", body)
	}
	theirs := fastTextVectors(t, ft, model, []string{"said", "saidx"})
	for _, w := range []string{"said", "saidx"} {
		var v struct {
			Vector []float32 `json:"vector"`
			OOV    bool      `json:"oov"`
		}
		if code, _ := call(t, "GET", base+"/models/"+m.ID+"/vectors/"+url.PathEscape(w), "", &v); code != 200 {
			t.Fatalf("vector of %q: %d", w, code)
		}
		if want, oov, _ := set.WordVector(w); !near32(v.Vector, want, 1e-6) || v.OOV != oov || !sameAsPrinted(v.Vector, theirs[w]) {
			t.Errorf("%q: served %v (oov %v), read %v (oov %v), fastText %v", w, v.Vector, v.OOV, want, oov, theirs[w])
		}
	}
	var sim struct {
		Results [][2]any `json:"results"`
	}
	if code, _ := call(t, "GET", base+"/models/"+m.ID+"/similar?word=alicee", "", &sim); code != 200 || len(sim.Results) == 0 {
		t.Fatalf("similar alicee: %d %v", code, sim)
	}

	// Multipart, as the page sends it.
	var mp bytes.Buffer
	boundary := "ftboundary"
	mp.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nalice-mp\r\n")
	mp.WriteString("--" + boundary + "\r\nContent-Disposition: form-data; name=\"file\"; filename=\"alice.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n")
	mp.Write(data)
	mp.WriteString("\r\n--" + boundary + "--\r\n")
	if code, _, body := send(t, "POST", base+"/models/import", "multipart/form-data; boundary="+boundary, mp.String()); code != 201 {
		t.Fatalf("multipart import: %d %s", code, body)
	}

	// Hostile files: each a 400 naming the file, nothing stored.
	hdr := func(dim, bucket, minn, maxn, size int32) []byte {
		b := leb.LittleEndian.AppendUint32(nil, fasttext.Magic)
		b = leb.LittleEndian.AppendUint32(b, fasttext.Version)
		for _, v := range []int32{dim, 5, 5, 5, 5, 1, 2, 2, bucket, minn, maxn, 100} {
			b = leb.LittleEndian.AppendUint32(b, uint32(v))
		}
		b = leb.LittleEndian.AppendUint64(b, math.Float64bits(1e-4))
		b = leb.LittleEndian.AppendUint32(b, uint32(size))
		b = leb.LittleEndian.AppendUint32(b, uint32(size))
		b = leb.LittleEndian.AppendUint32(b, 0)
		b = leb.LittleEndian.AppendUint64(b, 1)
		return leb.LittleEndian.AppendUint64(b, math.MaxUint64) // pruneidx_size -1
	}
	// The quant flag is the byte before the input matrix's row count.
	quant := bytes.Clone(data)
	rows := leb.LittleEndian.AppendUint64(nil, uint64(set.Len()+20000))
	qi := bytes.Index(quant, rows) - 1
	quant[qi] = 1
	cases := []struct {
		name string
		body []byte
		want string
	}{
		{"magic only", data[:8], "args"},
		{"cut in the dictionary", data[:200], "dictionary"},
		{"cut in the matrix", data[:len(data)/2], "input matrix"},
		{"cut in the output matrix", data[:len(data)-3], "output matrix"},
		{"quantized", quant, "quantized"},
		{"2 billion words declared", hdr(300, 2000000, 3, 6, math.MaxInt32), "entries"},
		{"dimension 2^30", hdr(1<<30, 0, 0, 0, 1), "dimension"},
		{"bucket 2^31-1", hdr(10, math.MaxInt32, 3, 6, 1), "bucket"},
		{"minn above maxn", hdr(10, 100, 7, 6, 1), "minn"},
	}
	for _, c := range cases {
		code, _, body := send(t, "POST", base+"/models/import?name="+url.QueryEscape(c.name), "application/octet-stream", string(c.body))
		if code != 400 || !strings.Contains(string(body), c.want) || !strings.Contains(string(body), "fastText") {
			t.Errorf("%s: %d %s, want 400 mentioning %q", c.name, code, body, c.want)
		}
	}
	// Files refused by their header or dictionary store nothing; those
	// cut in a matrix are failed models with the 400's message.
	var list struct {
		Models []struct{ Name, Status, Error string } `json:"models"`
	}
	call(t, "GET", base+"/models", "", &list)
	ready := 0
	for _, m := range list.Models {
		switch {
		case m.Status == "ready":
			ready++
		case m.Status != "failed" || !strings.Contains(m.Error, "fastText") || !strings.HasPrefix(m.Name, "cut in the"):
			t.Errorf("model %+v: want ready, or failed for a file cut in a matrix", m)
		}
	}
	if ready != 2 {
		t.Errorf("%d ready models, want the 2 good imports: %v", ready, list.Models)
	}
}
