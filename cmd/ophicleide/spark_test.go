package main

// The Spark engine end to end, against a real Spark Connect server
// (sparktest: the one make test starts, or one for this binary).

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/sparkconnect/sparktest"
)

func TestMain(m *testing.M) { os.Exit(sparktest.Main(m)) }

// bookServer serves the test books on 127.0.0.1.
func bookServer(t *testing.T) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.FileServer(http.Dir("../../testdata")))
	t.Cleanup(s.Close)
	return s
}

type sparkModel struct {
	ID, Status, Error string
	Params            map[string]any
	Progress          struct {
		Phase    string
		Fraction float64
	}
	Stats struct {
		CorpusWords int64
		VocabSize   int
	}
}

func getModel(t *testing.T, base, id string) sparkModel {
	t.Helper()
	var got struct{ Model sparkModel }
	if code, _ := call(t, "GET", base+"/models/"+id, "", &got); code != 200 {
		t.Fatalf("GET model: %d", code)
	}
	return got.Model
}

// words exports a model as word2vec text and returns its words in order.
func exportedWords(t *testing.T, base, id string) []string {
	t.Helper()
	resp, err := http.Get(base + "/models/" + id + "/export?format=text")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("export: %d %s", resp.StatusCode, b)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")[1:]
	words := make([]string, len(lines))
	for i, l := range lines {
		words[i], _, _ = strings.Cut(l, " ")
	}
	return words
}

// TestSparkEngineThroughAPI trains Pride and Prejudice from a local URL
// with "engine": "spark": it ends ready, darcy's neighbours are the
// book's people, and its vocabulary is the native engine's (same min
// count and tokenizer) in the same order.
func TestSparkEngineThroughAPI(t *testing.T) {
	url := sparktest.URL(t)
	books := bookServer(t)
	p := startProc(t, binary(t), "serve", "--threads", "1", "--data-dir", t.TempDir(), "--allow-private-urls", "--spark", url)
	book := books.URL + "/pride-and-prejudice_1342-0.txt"
	var sm, nm struct{ ID string }
	if code, _ := call(t, "POST", p.base+"/models", `{"name": "pp spark", "urls": ["`+book+`"], "params": {"engine": "spark", "partitions": 2}}`, &sm); code != 201 {
		t.Fatalf("create spark model: %d", code)
	}
	if code, _ := call(t, "POST", p.base+"/models", `{"name": "pp native", "urls": ["`+book+`"], "params": {"epochs": 1}}`, &nm); code != 201 {
		t.Fatalf("create native model: %d", code)
	}
	var phases []string
	eventually(t, 3*time.Minute, 200*time.Millisecond, func() (bool, string) {
		m := getModel(t, p.base, sm.ID)
		if len(phases) == 0 || phases[len(phases)-1] != m.Progress.Phase {
			phases = append(phases, m.Progress.Phase)
		}
		return m.Status == "ready" || m.Status == "failed", m.Status + " " + m.Error
	})
	got := getModel(t, p.base, sm.ID)
	if got.Status != "ready" {
		t.Fatalf("spark model %s: %s\n%s", got.Status, got.Error, p.logs.String())
	}
	t.Logf("phases seen: %v; stats %+v", phases, got.Stats)
	if !slices.Contains(phases, "training") {
		t.Errorf("phases %v never showed training", phases)
	}
	if got.Params["engine"] != "spark" || got.Stats.VocabSize < 2000 || got.Stats.CorpusWords < 120000 {
		t.Errorf("model %+v", got)
	}
	waitModel(t, p.base, nm.ID, "ready")
	sw, nw := exportedWords(t, p.base, sm.ID), exportedWords(t, p.base, nm.ID)
	if !slices.Equal(sw, nw) {
		t.Errorf("the spark model's vocabulary (%d words) differs from the native one's (%d)", len(sw), len(nw))
	}
	var q struct {
		Query struct{ Results [][2]any }
	}
	if code, _ := call(t, "POST", p.base+"/queries", `{"model": "`+sm.ID+`", "word": "darcy"}`, &q); code != 201 {
		t.Fatalf("query: %d", code)
	}
	var names []string
	for _, r := range q.Query.Results {
		names = append(names, r[1].(string))
	}
	t.Logf("darcy: %v", names)
	people := []string{"bingley", "wickham", "collins", "elizabeth", "jane", "bennet", "lizzy", "lydia", "gardiner"}
	if !slices.ContainsFunc(names, func(w string) bool { return slices.Contains(people, w) }) {
		t.Errorf("darcy's neighbours %v name none of the book's people", names)
	}
}

// TestSparkEngineRefusals: what Spark cannot train is a 400 naming the
// field; a server without --spark refuses the engine; storage URLs need
// their scheme allowed.
func TestSparkEngineRefusals(t *testing.T) {
	bin := binary(t)
	plain := startProc(t, bin, "serve", "--threads", "1", "--data-dir", t.TempDir())
	// An address nothing listens on: refusals never reach Spark.
	withSpark := startProc(t, bin, "serve", "--threads", "1", "--data-dir", t.TempDir(), "--spark", "sc://127.0.0.1:1", "--spark-schemes", "s3a,hdfs")
	body := func(params, url string) string {
		return `{"name": "m", "urls": ["` + url + `"], "params": ` + params + `}`
	}
	cases := []struct {
		base, params, url, field, says string
	}{
		{plain.base, `{"engine": "spark"}`, "http://example.com/a.txt", "engine", "no spark engine"},
		{plain.base, `{"engine": "flink"}`, "http://example.com/a.txt", "engine", "unknown engine"},
		{plain.base, `{"partitions": 4}`, "http://example.com/a.txt", "partitions", "Spark engine"},
		{plain.base, `{"engine": "spark"}`, "s3a://bucket/a.txt", "urls", "not an http or https URL"},
		{withSpark.base, `{"engine": "spark", "model": "cbow"}`, "http://example.com/a.txt", "model", "skip-gram only"},
		{withSpark.base, `{"engine": "spark", "loss": "ns"}`, "http://example.com/a.txt", "loss", "hierarchical softmax"},
		{withSpark.base, `{"engine": "spark", "negative": 5}`, "http://example.com/a.txt", "negative", "negative sampling"},
		{withSpark.base, `{"engine": "spark", "sample": 0.001}`, "http://example.com/a.txt", "sample", "subsampling"},
		{withSpark.base, `{"engine": "spark", "maxVocab": 100}`, "http://example.com/a.txt", "maxVocab", "vocabulary cap"},
		{withSpark.base, `{"engine": "spark", "partitions": 0}`, "http://example.com/a.txt", "partitions", "above 0"},
		{withSpark.base, `{"engine": "spark", "partitions": 100000}`, "http://example.com/a.txt", "partitions", "partitions"},
		{withSpark.base, `{"engine": "spark", "maxSentenceLength": -1}`, "http://example.com/a.txt", "maxSentenceLength", ""},
		{withSpark.base, `{"engine": "spark", "seed": 18446744073709551615}`, "http://example.com/a.txt", "seed", "largest seed"},
		{withSpark.base, `{"engine": "spark", "dim": 5000}`, "http://example.com/a.txt", "dim", "limit"},
		{withSpark.base, `{"engine": "spark"}`, "gs://bucket/a.txt", "urls", "s3a, hdfs"},
		{withSpark.base, `{"engine": "spark"}`, "file:///etc/passwd", "urls", "not an http"},
		{withSpark.base, `{}`, "s3a://bucket/a.txt", "urls", "not an http"},
	}
	for _, c := range cases {
		var e struct {
			Errors []struct {
				Status         int
				Details, Field string
			}
		}
		code, _ := call(t, "POST", c.base+"/models", body(c.params, c.url), &e)
		if code != 400 || len(e.Errors) != 1 || e.Errors[0].Field != c.field || !strings.Contains(e.Errors[0].Details, c.says) {
			t.Errorf("%s %s: %d %+v, want 400 on %s saying %q", c.params, c.url, code, e.Errors, c.field, c.says)
		}
	}
	// Accepted: the storage scheme the operator allowed.
	var m struct{ ID string }
	if code, _ := call(t, "POST", withSpark.base+"/models", body(`{"engine": "spark"}`, "s3a://bucket/corpus/"), &m); code != 201 {
		t.Fatalf("s3a model: %d", code)
	}
}

// TestSparkUnreachable: a model on a Spark that is down ends failed, with
// words and without the server's Spark address.
func TestSparkUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	books := bookServer(t)
	p := startProc(t, binary(t), "serve", "--threads", "1", "--data-dir", t.TempDir(), "--allow-private-urls", "--spark", "sc://"+addr, "--spark-retry", "2s")
	var m struct{ ID string }
	if code, _ := call(t, "POST", p.base+"/models", `{"name": "down", "urls": ["`+books.URL+`/alice-in-wonderland_11-0.txt"], "params": {"engine": "spark"}}`, &m); code != 201 {
		t.Fatalf("create: %d", code)
	}
	got := waitEnd(t, p.base, m.ID, 3*time.Minute, p.logs)
	_, port, _ := net.SplitHostPort(addr)
	if got.Status != "failed" || !strings.Contains(got.Error, "Spark Connect server cannot be reached") || strings.Contains(got.Error, port) {
		t.Fatalf("model %+v", got)
	}
	if code, _ := call(t, "GET", p.base+"/healthz", "", nil); code != 200 {
		t.Fatalf("healthz %d", code)
	}
}

// TestSparkCancelByDelete: deleting a model while Spark fits it stops
// the fit, and the worker is free for the next model.
func TestSparkCancelByDelete(t *testing.T) {
	url := sparktest.URL(t)
	books := bookServer(t)
	p := startProc(t, binary(t), "serve", "--threads", "1", "--data-dir", t.TempDir(), "--allow-private-urls", "--spark", url)
	var m struct{ ID string }
	if code, _ := call(t, "POST", p.base+"/models", `{"name": "long", "urls": ["`+books.URL+`/pride-and-prejudice_1342-0.txt"], "params": {"engine": "spark", "epochs": 50}}`, &m); code != 201 {
		t.Fatalf("create: %d", code)
	}
	eventually(t, 2*time.Minute, 100*time.Millisecond, func() (bool, string) {
		got := getModel(t, p.base, m.ID)
		return got.Progress.Phase == "training", got.Status + " " + got.Progress.Phase
	})
	time.Sleep(time.Second)
	if code, _ := call(t, "DELETE", p.base+"/models/"+m.ID, "", nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	eventually(t, time.Minute, 100*time.Millisecond, func() (bool, string) {
		return strings.Contains(p.logs.String(), "lease lost"), "no lease-lost line in the log"
	})
	// The worker takes the next model at once: a fit still running on
	// Spark's two cores would not stop it, but the worker itself is free.
	var next struct{ ID string }
	if code, _ := call(t, "POST", p.base+"/models", `{"name": "next", "urls": ["`+books.URL+`/alice-in-wonderland_11-0.txt"], "params": {"engine": "spark", "dim": 20}}`, &next); code != 201 {
		t.Fatalf("create: %d", code)
	}
	waitModel(t, p.base, next.ID, "ready")
}

// TestSparkWorkerKilledMidFit: kill -9 of the worker while Spark fits;
// the restarted server takes the job over, releases the dead attempt's
// session (its fit stops) and the model ends ready.
func TestSparkWorkerKilledMidFit(t *testing.T) {
	url := sparktest.URL(t)
	books := bookServer(t)
	bin := binary(t)
	dir := t.TempDir()
	args := []string{"serve", "--threads", "1", "--data-dir", dir, "--allow-private-urls", "--spark", url, "--lease", "2s"}
	p := startProc(t, bin, args...)
	var m struct{ ID string }
	// 5 epochs on two partitions: long enough to kill it inside the fit.
	if code, _ := call(t, "POST", p.base+"/models", `{"name": "killed", "urls": ["`+books.URL+`/pride-and-prejudice_1342-0.txt"], "params": {"engine": "spark", "epochs": 5, "dim": 50}}`, &m); code != 201 {
		t.Fatalf("create: %d", code)
	}
	eventually(t, 2*time.Minute, 100*time.Millisecond, func() (bool, string) {
		got := getModel(t, p.base, m.ID)
		return got.Progress.Phase == "training" && got.Progress.Fraction > 0, got.Status + " " + got.Progress.Phase
	})
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	p = startProc(t, bin, args...)
	got := waitEnd(t, p.base, m.ID, 4*time.Minute, p.logs)
	if got.Status != "ready" {
		t.Fatalf("after the take-over: %+v\n%s", got, p.logs.String())
	}
	if !strings.Contains(p.logs.String(), "attempt=2") {
		t.Errorf("the job was not taken over as attempt 2:\n%s", p.logs.String())
	}
}

// TestTrainCommandSpark: `ophicleide train --engine spark` has the same
// inputs and output as the native trainer; flags Spark cannot honour are
// usage errors naming the flag.
func TestTrainCommandSpark(t *testing.T) {
	url := sparktest.URL(t)
	bin := binary(t)
	out := filepath.Join(t.TempDir(), "pp.bin")
	cmd := exec.Command(bin, "train", "--engine", "spark", "--spark", url, "--input", "../../testdata/pride-and-prejudice_1342-0.txt",
		"--output", out, "--dim", "50", "--quiet")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("train: %v\n%s", err, b)
	}
	sim := exec.Command(bin, "similar", "--model", out, "darcy")
	b, err := sim.CombinedOutput()
	if err != nil {
		t.Fatalf("similar: %v\n%s", err, b)
	}
	t.Logf("similar darcy:\n%s", b)
	for _, c := range []struct {
		args []string
		says string
	}{
		{[]string{"--loss", "ns"}, "--loss"},
		{[]string{"--model", "cbow"}, "--model"},
		{[]string{"--negative", "5"}, "--negative"},
		{[]string{"--threads", "2"}, "--threads"},
		{[]string{"--minn", "3", "--maxn", "6"}, "subwords"},
		{[]string{}, ""},
	} {
		args := append([]string{"train", "--engine", "spark", "--input", "x.txt", "--output", filepath.Join(t.TempDir(), "x")}, c.args...)
		if c.says != "" {
			args = append(args, "--spark", url)
		}
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "OPH_SPARK_URL=")
		b, err := cmd.CombinedOutput()
		want := c.says
		if want == "" {
			want = "--spark"
		}
		if err == nil || !strings.Contains(string(b), want) {
			t.Errorf("train %v: %v %s, want a usage error naming %s", c.args, err, b, want)
		}
	}
}
