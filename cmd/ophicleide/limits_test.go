package main

import (
	"encoding/json"
	"net/http"
	"testing"
)

func TestJobMemoryLimit(t *testing.T) {
	if _, _, err := jobMemoryLimit("plenty", 0, 1); err == nil {
		t.Error("--max-job-memory plenty: no error")
	}
	n, from, err := jobMemoryLimit("auto", 1<<30, 2)
	if err != nil || n < 256<<20 || from == "" {
		t.Errorf("auto: %d %q %v", n, from, err)
	}
}

// TestLimitsPublished: GET /limits and GET / show the flags' limits, and
// bad limit flags stop the server at start.
func TestLimitsPublished(t *testing.T) {
	base := startServer(t, "--max-dim", "300", "--max-job-memory", "2GiB", "--max-url-mb", "8")
	var got struct {
		Limits struct {
			Params            struct{ MaxDim int }
			MaxJobMemoryBytes int64
			MaxURLBytes       int64
			MaxAttempts       int
		}
	}
	if code, _ := call(t, "GET", base+"/limits", "", &got); code != 200 {
		t.Fatalf("GET /limits: %d", code)
	}
	if l := got.Limits; l.Params.MaxDim != 300 || l.MaxJobMemoryBytes != 2<<30 || l.MaxURLBytes != 8<<20 || l.MaxAttempts != 3 {
		t.Fatalf("limits %+v", l)
	}
	var errs errorsBody
	if code, _ := call(t, "POST", base+"/models", `{"name": "wide", "urls": ["http://example.org/a.txt"], "params": {"dim": 301}}`, &errs); code != 400 || errs.Errors[0].Field != "dim" {
		t.Fatalf("dim over the limit: %d %+v", code, errs)
	}
	resp, err := http.Get(base + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var root struct {
		Info struct{ Limits json.RawMessage }
	}
	if json.NewDecoder(resp.Body).Decode(&root); len(root.Info.Limits) == 0 {
		t.Fatal("GET / has no limits in its info")
	}
	for _, bad := range [][]string{{"--max-dim", "0"}, {"--max-alpha", "-1"}, {"--max-job-memory", "lots"}, {"--max-attempts", "0"},
		{"--max-import-size", "lots"}, {"--max-import-size", "0"}, {"--count-limit", "-1"},
		{"--vector-cache-dir", t.TempDir(), "--vector-cache-size", "0"}, {"--vector-cache-dir", t.TempDir(), "--vector-cache-size", "-5GiB"}} {
		args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", t.TempDir()}, bad...)
		if code := run(t.Context(), args, nil, &syncBuffer{}, &syncBuffer{}); code == 0 {
			t.Errorf("%v: exit 0", bad)
		}
	}
}
