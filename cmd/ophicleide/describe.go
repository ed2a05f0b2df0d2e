package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/http/openapi"
)

// description is what "ophicleide describe --json" prints: what each
// role reads and serves, for deploy/check to hold the manifests against.
type description struct {
	Version string `json:"version"`
	// Env is every environment variable a role or client command reads.
	Env   []string                 `json:"env"`
	Roles map[string]*commandFacts `json:"roles"`
	// Clients are the client commands (models, query MODEL WORD): their
	// common flags and the variables they read.
	Clients map[string]*commandFacts `json:"clients"`
}

// commandFacts describes one role or command.
type commandFacts struct {
	Flags []flagFacts `json:"flags"`
	Env   []string    `json:"env"` // the environment variables read
	// Paths are the HTTP paths the role routes, each with the methods it
	// allows (from the Allow header of the role's own handler).
	Paths map[string][]string `json:"paths,omitempty"`
}

type flagFacts struct {
	Name    string `json:"name"`
	Default string `json:"default"` // with an empty environment
	Usage   string `json:"usage"`
}

// runDescribe is the hidden "describe" command. Each role's flags and
// variables come from building its configuration with an empty
// environment that records what is read; its paths from asking the
// handler the role would serve (built over an embedded store in a
// temporary directory) about every path of the OpenAPI document.
func runDescribe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "describe", "--json")
	asJSON := fs.Bool("json", false, "print JSON (the only format)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if !*asJSON {
		return usagef("describe prints JSON only: give --json")
	}
	d, err := describe(ctx, e)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(d)
}

func describe(ctx context.Context, e *env) (*description, error) {
	d := &description{Version: version, Roles: map[string]*commandFacts{}, Clients: map[string]*commandFacts{}}
	all := &nameSet{}
	// scratch is an env with no environment that records what is read.
	scratch := func() *env {
		return &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard,
			lookupEnv: func(string) string { return "" }, envRead: &nameSet{}}
	}
	record := func(se *env, fs *flag.FlagSet) *commandFacts {
		cf := &commandFacts{Env: se.envRead.sorted()}
		for _, n := range cf.Env {
			all.add(n)
		}
		fs.VisitAll(func(f *flag.Flag) {
			cf.Flags = append(cf.Flags, flagFacts{Name: f.Name, Default: f.DefValue, Usage: f.Usage})
		})
		return cf
	}

	paths := openAPIPaths()
	if len(paths) == 0 {
		return nil, fmt.Errorf("no paths in the OpenAPI document")
	}
	dir, err := os.MkdirTemp("", "ophicleide-describe-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	store, err := bolt.Open(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer store.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, role := range serverRoles {
		se := scratch()
		fs, cfg := roleFlags(se, role)
		if _, err := parse(fs, nil); err != nil {
			return nil, err
		}
		if err := cfg.validate(); err != nil {
			return nil, fmt.Errorf("%s: %w", role, err)
		}
		proc, err := cfg.build(store, log)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", role, err)
		}
		proc.close()
		cf := record(se, fs)
		// The API is served at the root and under /api/.
		cf.Paths = routedPaths(proc.handler, append(slices.Clone(paths), prefixed("/api", paths)...))
		d.Roles[role] = cf
	}

	se := scratch()
	fs, cfg := webFlags(se)
	if err := fs.Parse(nil); err != nil {
		return nil, err
	}
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	h, err := cfg.handler(log)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	cf := record(se, fs)
	// Not under /api/: the web role proxies all of it to the training
	// server, and a probe there would be sent on.
	cf.Paths = routedPaths(h, paths)
	d.Roles["web"] = cf

	se = scratch()
	qfs, _ := queryClientFlags(se)
	d.Clients["query"] = record(se, qfs)
	se = scratch()
	mfs := newFlags(se, "models", "")
	clientFlags(se, mfs)
	d.Clients["models"] = record(se, mfs)

	d.Env = all.sorted()
	return d, nil
}

// openAPIPaths returns the paths of the OpenAPI document: the keys under
// "paths:", which the document writes at an indent of two spaces.
func openAPIPaths() []string {
	var out []string
	in := false
	for line := range strings.Lines(string(openapi.Spec)) {
		line = strings.TrimRight(line, "\r\n")
		if line != "" && line[0] != ' ' && line[0] != '#' {
			in = line == "paths:"
			continue
		}
		if m := pathKey.FindStringSubmatch(line); in && m != nil {
			out = append(out, m[1])
		}
	}
	return out
}

var pathKey = regexp.MustCompile(`^  (/\S*):\s*$`)

func prefixed(prefix string, paths []string) []string {
	out := make([]string, len(paths))
	for i, p := range paths {
		out[i] = prefix + p
	}
	return out
}

// routedPaths asks h which of paths it routes, and for which methods
// (HEAD, which a GET route also answers, left out). A request with a
// method no route has gets 405 and an Allow header from the router when a
// route matches the path for other methods, without running any handler,
// and 404 when none does. A catch-all route, which takes any method (the
// web role's page, at /), answers it instead: the path is then asked with
// GET, and the router's pattern, which it sets on the request, tells
// whether a route of its own matched (the web role's catch-all and its
// GET routes, health and metrics, change nothing).
func routedPaths(h http.Handler, paths []string) map[string][]string {
	out := map[string][]string{}
	probe := func(method, path string) (*httptest.ResponseRecorder, *http.Request) {
		r := httptest.NewRequest(method, pathParam.ReplaceAllString(path, "x"), nil)
		r.Host = "localhost"
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w, r
	}
	for _, p := range paths {
		w, r := probe("DESCRIBE", p)
		var methods []string
		switch {
		case w.Code == http.StatusMethodNotAllowed:
			for _, m := range strings.Split(w.Header().Get("Allow"), ",") {
				if m = strings.TrimSpace(m); m != "" && m != http.MethodHead {
					methods = append(methods, m)
				}
			}
		case w.Code != http.StatusNotFound && r.Pattern != "" && !strings.Contains(r.Pattern, " "):
			if _, r := probe(http.MethodGet, p); strings.HasPrefix(r.Pattern, "GET ") {
				methods = []string{http.MethodGet}
			}
		}
		if len(methods) > 0 {
			slices.Sort(methods)
			out[p] = methods
		}
	}
	return out
}

var pathParam = regexp.MustCompile(`\{[^}]*\}`)
