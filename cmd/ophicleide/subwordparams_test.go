package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSubwordParamsAPI: POST /models takes minn, maxn and bucket (a
// model trained with them records them, bucket made explicit), and
// refuses hostile values naming the field, before anything is stored.
func TestSubwordParamsAPI(t *testing.T) {
	base := startServer(t, "--allow-private-urls", "--threads", "1")
	src := books(t)
	for _, c := range []struct {
		params, want, field string
	}{
		{`{"minn": 3}`, "maxn", "minn"},
		{`{"minn": 7, "maxn": 6}`, "between 1 and maxn", "minn"},
		{`{"minn": 0, "maxn": 6}`, "between 1 and maxn", "minn"},
		{`{"minn": -1, "maxn": 6}`, "minn", "minn"},
		{`{"minn": 3, "maxn": 11}`, "maxn", "maxn"},
		{`{"minn": 3, "maxn": -2}`, "maxn", "maxn"},
		{`{"minn": 3, "maxn": 99999999999999999999}`, "maxn", "params.maxn"},
		{`{"minn": 3, "maxn": 6, "bucket": 0}`, "bucket must be above 0", "bucket"},
		{`{"minn": 3, "maxn": 6, "bucket": -5}`, "bucket", "bucket"},
		{`{"minn": 3, "maxn": 6, "bucket": 10000001}`, "bucket", "bucket"},
		{`{"minn": 3, "maxn": 6, "bucket": 1.5}`, "must be of type", "params.bucket"},
		{`{"minn": "3", "maxn": 6}`, "must be of type", "params.minn"},
		{`{"bucket": 1000}`, "maxn", "bucket"},
		{`{"engine": "spark", "minn": 3, "maxn": 6}`, "", ""}, // no Spark here: engine refused, or subwords
	} {
		var eb errorsBody
		code, _ := call(t, "POST", base+"/models", `{"name": "x", "urls": ["`+src.URL+`/austen.txt"], "params": `+c.params+`}`, &eb)
		if code != 400 || len(eb.Errors) != 1 || !strings.Contains(eb.Errors[0].Details, c.want) || (c.field != "" && eb.Errors[0].Field != c.field) {
			t.Errorf("params %s: %d %+v; want 400 with %q naming %q", c.params, code, eb, c.want, c.field)
		}
	}
	if ms := listModels(t, base); len(ms) != 0 {
		t.Fatalf("refused requests stored %d models", len(ms))
	}

	var m struct{ ID string }
	if code, _ := call(t, "POST", base+"/models", `{"name": "sub", "urls": ["`+src.URL+`/austen.txt"], "params": {"dim": 16, "epochs": 1, "minn": 3, "maxn": 5, "bucket": 20000}}`, &m); code != 201 {
		t.Fatalf("create with subwords: %d", code)
	}
	waitModel(t, base, m.ID, "ready")
	var got struct{ Model cliModel }
	call(t, "GET", base+"/models/"+m.ID, "", &got)
	for k, want := range map[string]any{"minn": 3.0, "maxn": 5.0, "bucket": 20000.0} {
		if got.Model.Params[k] != want {
			t.Errorf("params.%s = %v, want %v (all %v)", k, got.Model.Params[k], want, got.Model.Params)
		}
	}
	if code, _ := call(t, "POST", base+"/models", `{"name": "sub2", "urls": ["`+src.URL+`/austen.txt"], "params": {"dim": 8, "epochs": 1, "minn": 3, "maxn": 3, "maxVocab": 50}}`, &m); code != 201 {
		t.Fatalf("create with subwords, default bucket: %d", code)
	}
	waitModel(t, base, m.ID, "ready")
	call(t, "GET", base+"/models/"+m.ID, "", &got)
	if got.Model.Params["bucket"] != 2e6 {
		t.Errorf("effective bucket %v, want 2000000", got.Model.Params["bucket"])
	}
}

// TestSubwordTrainFlags: ophicleide train --minn --maxn --bucket trains,
// and refuses hostile values naming the flag.
func TestSubwordTrainFlags(t *testing.T) {
	out := filepath.Join(t.TempDir(), "v.txt")
	code, _, stderr := runCLI(t, "", "train", "--input", "../../testdata/alice-in-wonderland_11-0.txt", "--output", out, "--format", "text",
		"--threads", "1", "--epochs", "1", "--dim", "10", "--minn", "3", "--maxn", "6", "--bucket", "10000", "--quiet")
	if code != 0 {
		t.Fatalf("train --minn 3 --maxn 6: exit %d: %s", code, stderr)
	}
	if fi, err := os.Stat(out); err != nil || fi.Size() == 0 {
		t.Fatalf("no vectors written: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--minn", "3"}, "--minn"},
		{[]string{"--minn", "7", "--maxn", "6"}, "--minn"},
		{[]string{"--minn", "3", "--maxn", "11"}, "--maxn"},
		{[]string{"--minn", "3", "--maxn", "6", "--bucket", "-1"}, "--bucket"},
		{[]string{"--minn", "3", "--maxn", "6", "--bucket", "10000001"}, "--bucket"},
		{[]string{"--bucket", "5"}, "--bucket"},
		{[]string{"--minn", "3", "--maxn", "6", "--max-memory", "10MiB"}, "memory limit"},
	} {
		args := append([]string{"train", "--input", "../../testdata/alice-in-wonderland_11-0.txt", "--output", filepath.Join(t.TempDir(), "x"), "--quiet"}, c.args...)
		code, _, stderr := runCLI(t, "", args...)
		if code == 0 || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, %q; want an error with %q", c.args, code, stderr, c.want)
		}
	}
}

// TestSubwordModelsCreateFlags: models create sends --minn --maxn
// --bucket, and refuses --bucket 0 before sending.
func TestSubwordModelsCreateFlags(t *testing.T) {
	base := startServer(t, "--allow-private-urls", "--threads", "1")
	src := books(t)
	code, _, stderr := runCLI(t, "", "models", "create", "--server", base, "--name", "sub", "--url", src.URL+"/alice.txt",
		"--epochs", "1", "--dim", "8", "--minn", "2", "--maxn", "4", "--bucket", "5000", "--wait", "--poll", "20ms", "--quiet")
	if code != 0 {
		t.Fatalf("models create with subwords: exit %d: %s", code, stderr)
	}
	ms := listModels(t, base)
	if len(ms) != 1 {
		t.Fatalf("%d models", len(ms))
	}
	var got struct{ Model cliModel }
	call(t, "GET", base+"/models/"+ms[0].ID, "", &got)
	for k, want := range map[string]any{"minn": 2.0, "maxn": 4.0, "bucket": 5000.0} {
		if got.Model.Params[k] != want {
			t.Errorf("params.%s = %v, want %v", k, got.Model.Params[k], want)
		}
	}
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--minn", "3", "--maxn", "6", "--bucket", "0"}, 2, "--bucket must be above 0"},
		{[]string{"--minn", "9", "--maxn", "6"}, 1, "--minn: "},
		{[]string{"--maxn", "12", "--minn", "3"}, 1, "--maxn: "},
	} {
		args := append([]string{"models", "create", "--server", base, "--name", "refused", "--url", src.URL + "/alice.txt"}, c.args...)
		code, _, stderr := runCLI(t, "", args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%q: exit %d, %q; want %d and %q", c.args, code, stderr, c.code, c.want)
		}
	}
}
