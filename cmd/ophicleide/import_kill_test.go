package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// TestKilledImportFails: `serve` killed (SIGKILL) while a body streams
// into POST /models/import leaves the model importing in its store; the
// next `serve` on the same data directory fails it at start with words
// (ophicleide.ImportInterrupted), leaves no partial file, and imports
// again.
func TestKilledImportFails(t *testing.T) {
	bin := binary(t)
	dir := t.TempDir()
	p := startProc(t, bin, "serve", "--data-dir", dir, "--workers", "0")

	pr, pw := io.Pipe()
	defer pw.CloseWithError(errors.New("test over"))
	go func() {
		resp, err := http.Post(p.base+"/models/import?name=killed", "application/octet-stream", pr)
		if err == nil {
			resp.Body.Close()
		}
	}()
	var rows strings.Builder
	fmt.Fprintf(&rows, "100000 10\n")
	for i := range 3000 { // more than the 64 KiB the format is told from
		fmt.Fprintf(&rows, "w%d 1 2 3 4 5 6 7 8 9 10\n", i)
	}
	if _, err := io.WriteString(pw, rows.String()); err != nil {
		t.Fatal(err)
	}
	models := func(base string) []ophicleide.Model {
		t.Helper()
		resp, err := http.Get(base + "/models")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct{ Models []ophicleide.Model }
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return body.Models
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		ms := models(p.base)
		if len(ms) == 1 && ms[0].Status == ophicleide.StatusImporting {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no model importing: %+v", ms)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.stop() // SIGKILL, mid-import

	p = startProc(t, bin, "serve", "--data-dir", dir, "--workers", "0")
	var ms []ophicleide.Model
	for deadline = time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if ms = models(p.base); len(ms) == 1 && ms[0].Status != ophicleide.StatusImporting || time.Now().After(deadline) {
			break
		}
	}
	if len(ms) != 1 || ms[0].Status != ophicleide.StatusFailed || ms[0].Error != ophicleide.ImportInterrupted || ms[0].Progress != nil {
		t.Fatalf("after a restart: %+v", ms)
	}
	if entries, _ := os.ReadDir(filepath.Join(dir, "vectors")); len(entries) != 0 {
		t.Errorf("files left in vectors/: %v", entries)
	}
	resp, err := http.Post(p.base+"/models/import?name=again", "application/octet-stream", strings.NewReader("2 2\na 1 2\nb 3 4\n"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("an import after the restart: %d", resp.StatusCode)
	}
}
