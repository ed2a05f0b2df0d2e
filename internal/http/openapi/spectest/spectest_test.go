package spectest

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ophicleide/ophicleide"
)

func load(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := Load(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestLoad(t *testing.T) {
	doc := load(t)
	if doc.OpenAPI != "3.0.3" {
		t.Errorf("openapi = %q, want 3.0.3", doc.OpenAPI)
	}
	if len(doc.Servers) != 1 || doc.Servers[0].URL != "/" {
		t.Errorf("servers = %v, want one with URL /", doc.Servers)
	}
	if !strings.Contains(doc.Info.Description, "/api/") {
		t.Error("info.description does not say that the API is also served under /api/")
	}
}

// want lists every operation of the API with the statuses it must document.
var want = map[string][]int{
	"GET /":                           {200, 401, 429, 500, 503},
	"GET /models":                     {200, 401, 429, 500, 503},
	"POST /models":                    {201, 400, 401, 403, 413, 429, 500, 503},
	"GET /models/{id}":                {200, 401, 404, 429, 500, 503},
	"DELETE /models/{id}":             {204, 401, 403, 404, 429, 500, 503},
	"GET /models/{id}/similar":        {200, 400, 401, 404, 429, 500, 503},
	"GET /models/{id}/analogy":        {200, 400, 401, 404, 429, 500, 503},
	"GET /models/{id}/similarity":     {200, 400, 401, 404, 429, 500, 503},
	"GET /models/{id}/vectors/{word}": {200, 400, 401, 404, 429, 500, 503},
	"GET /models/{id}/words":          {200, 400, 401, 404, 429, 500, 503},
	"GET /models/{id}/export":         {200, 400, 401, 403, 404, 429, 500, 503},
	"GET /models/{id}/doesntmatch":    {200, 400, 401, 404, 429, 500, 503},
	"POST /models/{id}/vectors":       {200, 400, 401, 404, 413, 415, 429, 500, 503},
	"POST /models/{id}/search":        {200, 400, 401, 404, 413, 415, 429, 500, 503},
	"GET /models/{id}/map":            {200, 400, 401, 404, 429, 500, 503},
	"GET /compare":                    {200, 400, 401, 404, 429, 500, 503},
	"POST /models/{id}/evaluate":      {200, 400, 401, 403, 404, 413, 429, 500, 503},
	"POST /models/import":             {201, 400, 401, 403, 413, 429, 500, 503},
	"GET /queries":                    {200, 401, 429, 500, 503},
	"POST /queries":                   {201, 400, 401, 404, 413, 429, 500, 503},
	"GET /queries/{id}":               {200, 401, 404, 429, 500, 503},
	"GET /healthz":                    {200},
	"GET /readyz":                     {200, 503},
	"GET /metrics":                    {200, 401, 429},
	"GET /openapi.yaml":               {200, 429},
	"GET /limits":                     {200, 401, 429},
}

// open lists the operations that never need a key (security: []).
var open = map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /openapi.yaml": true}

// TestSecurity checks the two ways of sending a key, that the document
// allows none (an open server), and which operations declare that they
// never need one.
func TestSecurity(t *testing.T) {
	doc := load(t)
	bearer := doc.Components.SecuritySchemes["bearerKey"]
	if bearer == nil || bearer.Value.Type != "http" || bearer.Value.Scheme != "bearer" {
		t.Errorf("securitySchemes.bearerKey = %+v, want http bearer", bearer)
	}
	header := doc.Components.SecuritySchemes["apiKeyHeader"]
	if header == nil || header.Value.Type != "apiKey" || header.Value.In != "header" || header.Value.Name != "X-API-Key" {
		t.Errorf("securitySchemes.apiKeyHeader = %+v, want an apiKey header X-API-Key", header)
	}
	var none bool
	for _, req := range doc.Security {
		none = none || len(req) == 0
	}
	if len(doc.Security) != 3 || !none {
		t.Errorf("security = %v, want bearerKey, apiKeyHeader or none", doc.Security)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			isOpen := op.Security != nil && len(*op.Security) == 0
			if isOpen != open[key] {
				t.Errorf("%s: open (security: []) = %v, want %v", key, isOpen, open[key])
			}
			if r := op.Responses.Status(401); r != nil && r.Value.Headers["WWW-Authenticate"] == nil {
				t.Errorf("%s 401: no WWW-Authenticate header", key)
			}
			if r := op.Responses.Status(429); r != nil && r.Value.Headers["Retry-After"] == nil {
				t.Errorf("%s 429: no Retry-After header", key)
			}
		}
	}
}

func TestOperations(t *testing.T) {
	doc := load(t)
	seen := map[string]bool{}
	ids := map[string]string{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			key := method + " " + path
			seen[key] = true
			if _, ok := want[key]; !ok {
				t.Errorf("%s: not in this test's list of operations", key)
			}
			if op.OperationID == "" {
				t.Errorf("%s: no operationId", key)
			} else if other, dup := ids[op.OperationID]; dup {
				t.Errorf("%s: operationId %q also used by %s", key, op.OperationID, other)
			}
			ids[op.OperationID] = key
			if strings.TrimSpace(op.Summary) == "" {
				t.Errorf("%s: no summary", key)
			}
			if len(op.Tags) == 0 {
				t.Errorf("%s: no tags", key)
			}
			checkResponses(t, key, op)
		}
	}
	for key, codes := range want {
		if !seen[key] {
			t.Errorf("%s: missing", key)
			continue
		}
		method, path, _ := strings.Cut(key, " ")
		op := doc.Paths.Find(path).GetOperation(method)
		for _, code := range codes {
			if op.Responses.Status(code) == nil {
				t.Errorf("%s: status %d not documented", key, code)
			}
		}
	}
}

// checkResponses wants at least one success and one error response, and
// every JSON error response to have the Errors schema.
func checkResponses(t *testing.T, key string, op *openapi3.Operation) {
	t.Helper()
	var ok, bad int
	for code, ref := range op.Responses.Map() {
		status, err := strconv.Atoi(code)
		if err != nil {
			t.Errorf("%s: response %q is not a status code", key, code)
			continue
		}
		resp := ref.Value
		if resp.Description == nil || *resp.Description == "" {
			t.Errorf("%s %d: no description", key, status)
		}
		if status < 400 {
			ok++
			continue
		}
		bad++
		mt := resp.Content.Get("application/json")
		if mt == nil {
			if key == "GET /readyz" && status == http.StatusServiceUnavailable {
				continue // a probe answers in plain text
			}
			t.Errorf("%s %d: no application/json content", key, status)
			continue
		}
		if mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Errors" {
			t.Errorf("%s %d: schema is not #/components/schemas/Errors", key, status)
		}
	}
	if ok == 0 {
		t.Errorf("%s: no success response", key)
	}
	if bad == 0 {
		t.Errorf("%s: no error response documented", key)
	}
}

func TestSchemas(t *testing.T) {
	doc := load(t)
	for _, name := range []string{"Model", "Params", "Progress", "Stats", "Query", "Result", "Errors"} {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("components/schemas/%s missing", name)
		}
	}
	model := doc.Components.Schemas["Model"].Value
	for _, f := range []string{"id", "name", "status", "urls"} {
		if !slices.Contains(model.Required, f) {
			t.Errorf("Model: %s is not required", f)
		}
	}
	if ap := doc.Components.Schemas["Params"].Value.AdditionalProperties.Has; ap == nil || *ap {
		t.Error("Params: additionalProperties is not false")
	}
}

// TestDomainValues checks that values of the domain types, marshalled as
// the server does, match their schemas, and that values the API must
// refuse do not.
func TestDomainValues(t *testing.T) {
	doc := load(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	full := ophicleide.Model{
		ID: "0b5b7d6e-8c57-4a36-9d3f-5b2f3f0c9e41", Name: "austen", Status: ophicleide.StatusReady,
		URLs: []string{"https://www.gutenberg.org/files/1342/1342-0.txt"}, Uploads: []string{"alice.txt"},
		Callback: "https://example.com/hook",
		Params: ophicleide.Params{Model: "cbow", Loss: "ns", Dim: 100, Window: 5, Negative: 5, MinCount: 5,
			Sample: 1e-3, Epochs: 5, Alpha: 0.025, Seed: 1 << 63, MaxVocab: 30000, Tokenizer: "classic"},
		Progress: &ophicleide.Progress{Phase: "saving", Fraction: 1, WordsPerSecond: 250000, EtaSeconds: 0},
		Stats: &ophicleide.Stats{CorpusWords: 120000, VocabSize: 6000, TrainingSeconds: 1.5,
			Sources: []ophicleide.SourceStats{{URL: "upload:alice.txt", Bytes: 150000, Words: 27000}}},
		Created: now, Updated: now,
	}
	minimal := ophicleide.Model{ID: "0b5b7d6e-8c57-4a36-9d3f-5b2f3f0c9e41", Name: "m",
		Status: ophicleide.StatusQueued, URLs: []string{}}
	query := ophicleide.Query{ID: "7c1f2b0e-1d2a-4c3b-8e9f-0a1b2c3d4e5f", Word: "darcy",
		ModelID: full.ID, ModelName: full.Name, Created: now,
		Results: []ophicleide.Result{{Word: "bingley", Score: 0.81}, {Word: "wickham", Score: 1}}}
	errs := map[string]any{"errors": []map[string]any{{"status": 404, "title": "Not Found", "details": "no model abc"}}}

	valid := []struct {
		schema string
		value  any
	}{
		{"Model", full},
		{"Model", minimal},
		{"Query", query},
		{"Query", ophicleide.Query{ID: query.ID, ModelID: full.ID, Results: []ophicleide.Result{}}},
		{"Result", ophicleide.Result{Word: "x", Score: -0.5}},
		{"Params", ophicleide.Params{}},
		{"Params", ophicleide.Params{Loss: "hs", Epochs: 1, Sample: -1, Tokenizer: "classic"}},
		{"Errors", errs},
	}
	for _, c := range valid {
		if err := visit(t, doc, c.schema, c.value); err != nil {
			t.Errorf("%s %+v: %v", c.schema, c.value, err)
		}
	}

	invalid := []struct {
		schema string
		value  string
	}{
		{"Result", `{"word": "x", "score": 1}`},
		// ["x", 1] passes: OpenAPI 3.0 has no tuple schema (prefixItems),
		// so the order score-then-word is only in the description.
		{"Result", `[1, "x", 2]`},
		{"Model", `{"id": "x", "name": "m", "status": "done", "urls": []}`},
		{"Model", `{"id": "0b5b7d6e-8c57-4a36-9d3f-5b2f3f0c9e41", "name": "m", "status": "ready"}`},
		{"Params", `{"dim": 0}`},
		{"Params", `{"sample": 1}`},
		{"Params", `{"alpha": 0}`},
		{"Params", `{"model": "glove"}`},
		{"Params", `{"unknown": 1}`},
		{"Errors", `{"error": "x"}`},
	}
	for _, c := range invalid {
		var v any
		if err := json.Unmarshal([]byte(c.value), &v); err != nil {
			t.Fatal(err)
		}
		if err := doc.Components.Schemas[c.schema].Value.VisitJSON(v); err == nil {
			t.Errorf("%s %s: valid, want invalid", c.schema, c.value)
		}
	}
}

// visit marshals v as the server would and validates it against a schema.
func visit(t *testing.T, doc *openapi3.T, schema string, v any) error {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var generic any
	if err := json.Unmarshal(b, &generic); err != nil {
		t.Fatal(err)
	}
	return doc.Components.Schemas[schema].Value.VisitJSON(generic)
}

// TestPathsListed counts the paths, so that a path added to the document
// without its operations in want is noticed.
func TestPathsListed(t *testing.T) {
	doc := load(t)
	var paths []string
	for p := range doc.Paths.Map() {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if len(paths) != 23 {
		t.Errorf("%d paths, want 23: %v", len(paths), paths)
	}
}
