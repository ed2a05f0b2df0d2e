package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	var out bytes.Buffer
	if code := runEnv(t.Context(), []string{"describe", "--json"}, &env{stdin: strings.NewReader(""), stdout: &out, stderr: &out}); code != 0 {
		t.Fatalf("describe: exit %d: %s", code, out.String())
	}
	var d description
	if err := json.Unmarshal(out.Bytes(), &d); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"REST_ADDR", "OPH_MONGO_URL", "MONGO_USERNAME_FILE", "OPH_TRAINING_PORT", "OPHICLEIDE_SERVER"} {
		if !slices.Contains(d.Env, want) {
			t.Errorf("env lacks %s: %v", want, d.Env)
		}
	}
	has := func(role, path string) bool { _, ok := d.Roles[role].Paths[path]; return ok }
	for _, role := range []string{"serve", "api", "read-api"} {
		if !has(role, "/models") || !has(role, "/api/queries/{id}") || !slices.Equal(d.Roles[role].Paths["/queries"], []string{"GET", "POST"}) {
			t.Errorf("%s paths: %v", role, d.Roles[role].Paths)
		}
	}
	for _, role := range []string{"worker", "web"} {
		if !has(role, "/healthz") || !has(role, "/readyz") || !has(role, "/metrics") || has(role, "/models") || len(d.Roles[role].Paths) != 3 {
			t.Errorf("%s paths: %v", role, d.Roles[role].Paths)
		}
	}
	flags := func(role string) (names []string) {
		for _, f := range d.Roles[role].Flags {
			names = append(names, f.Name)
		}
		return names
	}
	if f := flags("worker"); !slices.Contains(f, "max-dim") || !slices.Contains(f, "mongo") {
		t.Errorf("worker flags: %v", f)
	}
	if f := flags("web"); !slices.Equal(f, []string{"addr", "public-host", "training"}) {
		t.Errorf("web flags: %v", f)
	}
	var usage bytes.Buffer
	usage.Reset()
	runEnv(t.Context(), []string{"help"}, &env{stdout: &usage, stderr: &usage})
	if strings.Contains(usage.String(), "describe") {
		t.Errorf("describe is listed in the usage:\n%s", usage.String())
	}
}

// TestEnvironmentReadsAreRecorded: the environment is read only through
// env.getenv, so describe lists every variable.
func TestEnvironmentReadsAreRecorded(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	direct := regexp.MustCompile(`os\.(Getenv|LookupEnv|Environ)\(`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "environ.go" {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := direct.Find(src); m != nil {
			t.Errorf("%s calls %s: read the environment with env.getenv (environ.go)", f, m)
		}
	}
}
