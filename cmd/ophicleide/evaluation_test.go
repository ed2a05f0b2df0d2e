package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide"
)

// TestModelEvaluationEqualsEval trains Pride and Prejudice through a real
// server with the native engine and checks what the model shows: its
// evaluation on the bundled sets equals what `ophicleide eval` prints for
// its exported vectors and the same files; its params are the effective
// ones (the seed 1 included); its stats have words per second; a second
// model of the same book and parameters (same name: accepted) is the same
// model with the same scores; POST /models/{id}/evaluate with a bundled
// file gives the bundled figure.
func TestModelEvaluationEqualsEval(t *testing.T) {
	base := startServer(t, "--allow-private-urls")
	src := books(t)
	type model struct {
		ID         string
		Status     string
		Params     ophicleide.Params
		Stats      *ophicleide.Stats
		Evaluation *ophicleide.Evaluation
	}
	train := func() model {
		t.Helper()
		var m model
		if code, _ := call(t, "POST", base+"/models", `{"name": "austen", "urls": ["`+src.URL+`/austen.txt"], "params": {"epochs": 2, "dim": 50}}`, &m); code != 201 {
			t.Fatalf("create: %d", code)
		}
		waitModel(t, base, m.ID, "ready")
		var got struct{ Model model }
		call(t, "GET", base+"/models/"+m.ID, "", &got)
		return got.Model
	}
	m := train()
	want := ophicleide.Params{Engine: "native", Model: "skipgram", Loss: "ns", Dim: 50, Window: 5, Negative: 5, MinCount: 5,
		Sample: 1e-3, Epochs: 2, Alpha: 0.025, Seed: 1, Tokenizer: "unicode"}
	if m.Params != want {
		t.Errorf("params %+v, want the effective %+v", m.Params, want)
	}
	if m.Stats == nil || m.Stats.WordsPerSecond <= 0 || m.Stats.VocabSize < 1000 {
		t.Fatalf("stats %+v", m.Stats)
	}
	e := m.Evaluation
	if e == nil || len(e.Analogies) != 1 || len(e.Similarities) != 4 {
		t.Fatalf("evaluation %+v", e)
	}
	t.Logf("training %.2f s (%.0f words/s), evaluation %.3f s: ratio %.3f", m.Stats.TrainingSeconds, m.Stats.WordsPerSecond, e.Seconds, e.Seconds/m.Stats.TrainingSeconds)

	// The exported vectors, scored by the CLI on the same files.
	resp, err := http.Get(base + "/models/" + m.ID + "/export?format=binary")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "austen.bin")
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || os.WriteFile(file, b, 0o644) != nil {
		t.Fatalf("export: %d", resp.StatusCode)
	}
	sets := map[string]string{"wordsim353": "wordsim353.tsv", "simlex999": "simlex999.txt", "men": "MEN_dataset_natural_form_full", "rw": "EN-RW-STANFORD.txt"}
	args := []string{"eval", "--model", file, "--analogies", "../../testdata/eval/questions-words.txt"}
	for _, s := range e.Similarities {
		args = append(args, "--similarity", "../../testdata/eval/"+sets[s.Name])
	}
	code, out, stderr := runCLI(t, "", args...)
	if code != 0 {
		t.Fatalf("eval: %d %s", code, stderr)
	}
	g := e.Analogies[0]
	line := fmt.Sprintf("analogies (3CosAdd, 30000 most frequent words): %.2f%% (%d/%d)  semantic %.2f%%  syntactic %.2f%%  coverage %.1f%% of %d questions",
		100*g.Accuracy, int(g.Accuracy*float64(g.Answered)+0.5), g.Answered, 100*g.Semantic, 100*g.Syntactic, 100*g.Coverage, g.Questions)
	if !strings.Contains(out, line) {
		t.Errorf("eval printed\n%s\nthe model shows\n%s", out, line)
	}
	for _, s := range e.Similarities {
		line := fmt.Sprintf("%s: Spearman %.4f  coverage %.1f%% (%d/%d pairs)", sets[s.Name], s.Spearman, 100*s.Coverage, s.Covered, s.Pairs)
		if !strings.Contains(out, line) {
			t.Errorf("eval printed\n%s\nthe model shows\n%s", out, line)
		}
	}
	// (One book, two epochs: the scores are low, and shown as they are.)
	if g.Questions != 19544 || g.Answered == 0 || e.Similarities[1].Covered == 0 {
		t.Errorf("evaluation %+v", e)
	}

	// A user's file: the bundled WordSim-353 sent as a multipart upload.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "wordsim353.tsv")
	ws, _ := os.ReadFile("../../testdata/eval/wordsim353.tsv")
	fw.Write(ws)
	mw.Close()
	req, _ := http.NewRequest("POST", base+"/models/"+m.ID+"/evaluate", &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := io.ReadAll(r.Body)
	r.Body.Close()
	checkAgainstSpec(t, "POST", base+"/models/"+m.ID+"/evaluate", r.StatusCode, r.Header, rb)
	var up ophicleide.Evaluation
	if err := json.Unmarshal(rb, &up); err != nil || r.StatusCode != 200 || len(up.Similarities) != 1 {
		t.Fatalf("evaluate: %d %s", r.StatusCode, rb)
	}
	upload, bundled := up.Similarities[0], e.Similarities[0]
	if upload.Name != "wordsim353.tsv" || upload.Spearman != bundled.Spearman || upload.Covered != bundled.Covered || upload.Pairs != bundled.Pairs {
		t.Errorf("uploaded WordSim-353 %+v, bundled %+v", upload, bundled)
	}

	// The same book and parameters again (one training thread): the same
	// model, under the same name, told apart by its id.
	again := train()
	if again.ID == m.ID || again.Params != m.Params {
		t.Errorf("second model %s %+v, first %s %+v", again.ID, again.Params, m.ID, m.Params)
	}
	a, b2 := *again.Evaluation, *m.Evaluation
	a.Seconds, b2.Seconds = 0, 0
	if !reflect.DeepEqual(a, b2) {
		t.Errorf("the same book and settings scored %+v, then %+v", b2, a)
	}
}
