package http

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
)

// The request decoders never panic and answer a value or a 4xx
// *ophicleide.Error whose message names no Go type. `make fuzz` runs
// these; the seeds are the hostile cases of issue 10.

// want4xx fails unless err is nil or a client error.
func want4xx(t *testing.T, input []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *ophicleide.Error
	if !errors.As(err, &e) {
		t.Fatalf("%q: %T %v, want an *ophicleide.Error", input, err, err)
	}
	if st := errorStatus[e.Code]; st < 400 || st > 499 {
		t.Fatalf("%q: code %q (status %d): %v", input, e.Code, st, err)
	}
	if e.Message == "" || goTypes(e.Message) {
		t.Fatalf("%q: message %q", input, e.Message)
	}
}

var jsonSeeds = []string{
	`{"name": "austen", "urls": ["https://example.org/a.txt"], "callback": "not implemented"}`,
	`{"name": "x", "urls": ["http://example.org/a"], "params": {"dim": 50, "model": "cbow", "tokenizer": "classic", "sample": 1e-3}}`,
	`[1,2]`, `[]`, `"x"`, `null`, `42`, `true`, ``, ` `, `{`, `{"name": `, `{} {}`, `{}]`,
	`{"name": 5}`, `{"urls": "http://x"}`, `{"urls": [1]}`, `{"params": []}`, `{"params": {"dim": "1"}}`,
	`{"params": {"dim": 0.5}}`, `{"params": {"dim": 1e400}}`, `{"params": {"dim": -1}}`, `{"params": {"dim": 0}}`,
	`{"params": {"colour": 1}}`, `{"colour": "red"}`, `{"name": "\ud800"}`, `{"name": "x", "urls": ["ftp://x", "http://", "http://[::1"]}`,
	`{"params": null}`, `{"params": {"dim": 99999999999}}`, `{"name": "` + strings.Repeat("n", 300) + `"}`,
}

func FuzzDecodeCreateModel(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(jsonSeeds[0]), "text/plain")
	f.Add([]byte(jsonSeeds[0]), "")
	f.Add([]byte(jsonSeeds[0]), "application/json; charset=utf-8")
	f.Add([]byte(jsonSeeds[0]), "application/vnd.x+json")
	f.Add([]byte(jsonSeeds[0]), "application/json; charset")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		r := httptest.NewRequest("POST", "/models", bytes.NewReader(body))
		r.Header.Set("Content-Type", ctype)
		var req createModelRequest
		err := decode(r, &req)
		if err == nil {
			var m *ophicleide.Model
			if m, err = newModel(req); err == nil && (m == nil || m.ID == "") {
				t.Fatalf("%q: no model and no error", body)
			}
		}
		want4xx(t, body, err)
	})
}

const fuzzBoundary = "fuzzBoundary42"

// fuzzForm is a multipart body with fuzzBoundary (see multipartBody).
func fuzzForm(fields ...string) []byte {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.SetBoundary(fuzzBoundary)
	for i := 0; i+1 < len(fields); i += 2 {
		if name, ok := strings.CutPrefix(fields[i], "@"); ok {
			w, _ := mw.CreateFormFile(name, `..\..\etc/pass wd.txt`)
			w.Write([]byte(fields[i+1]))
		} else {
			mw.WriteField(fields[i], fields[i+1])
		}
	}
	mw.Close()
	return buf.Bytes()
}

func FuzzCreateModelMultipart(f *testing.F) {
	f.Add(fuzzForm("name", "x", "urls", "http://example.org/a.txt\nhttp://example.org/b.txt"))
	f.Add(fuzzForm("name", "x", "@files", "It is a truth universally acknowledged.", "@files", "two"))
	f.Add(fuzzForm("name", "x", "urls", "http://example.org/a", "params", `{"dim": 20}`))
	for _, p := range []string{`[1]`, `{"dim": "x"}`, `{"dim": 1} 2`, `{"x": 1}`, `{`, `null`, `{"dim": 0}`} {
		f.Add(fuzzForm("name", "x", "urls", "http://example.org/a", "params", p))
	}
	many := []string{"name", "x"}
	for range maxFormParts + 5 {
		many = append(many, "urls", "http://example.org/a")
	}
	f.Add(fuzzForm(many...))
	f.Add([]byte("--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nx")) // unterminated
	f.Add([]byte("--" + fuzzBoundary + "\r\nContent-Disposition: form-data; name=\"files\"; filename=\"\"\r\n\r\n\r\n--" + fuzzBoundary + "--\r\n"))
	f.Add([]byte("--" + fuzzBoundary + "--\r\n"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, body []byte) {
		r := httptest.NewRequest("POST", "/models", bytes.NewReader(body))
		r.Header.Set("Content-Type", "multipart/form-data; boundary="+fuzzBoundary)
		var req createModelRequest
		form, err := parseModelForm(httptest.NewRecorder(), r, &req)
		if err == nil {
			defer form.RemoveAll()
			var uploads map[string]io.Reader
			if uploads, err = openUploads(form, &req); err != nil {
				t.Fatalf("%q: opening uploads: %v", body, err)
			}
			defer closeAll(uploads)
			for _, name := range req.uploads {
				if name == "" || strings.ContainsAny(name, `/\.`) {
					t.Fatalf("%q: unsafe upload name %q", body, name)
				}
			}
			_, err = newModel(req)
		}
		want4xx(t, body, err)
	})
}

// fuzzServer is the real handler over a real store holding one ready
// model; it returns the handler and the model's id.
func fuzzServer(f *testing.F) (http.Handler, string) {
	store, err := bolt.Open(context.Background(), f.TempDir())
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { store.Close() })
	srv := newRealServer(store, 16<<20, slog.New(slog.DiscardHandler))
	var b strings.Builder
	fmt.Fprintf(&b, "%d 3\n", len(tinyVocabulary))
	for i, w := range tinyVocabulary {
		fmt.Fprintf(&b, "%s %d %d 1\n", w, i%3+1, i%5)
	}
	rec := httptest.NewRecorder()
	r := httptest.NewRequest("POST", "/models/import?name=tiny", strings.NewReader(b.String()))
	r.Header.Set("Content-Type", "application/octet-stream")
	srv.ServeHTTP(rec, r)
	var m struct{ ID string }
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &m) != nil {
		f.Fatalf("import: %d %s", rec.Code, rec.Body)
	}
	return srv, m.ID
}

func FuzzCreateQuery(f *testing.F) {
	srv, id := fuzzServer(f)
	for _, s := range []string{
		`{"model": "MODEL", "word": "darcy"}`, `{"model": "MODEL", "word": "Darcy", "count": 3}`,
		`{"model": "MODEL", "word": "ＡＬＩＣＥ"}`, `{"model": "MODEL", "word": "Paris", "count": 100}`,
		`{"model": "MODEL", "word": "mr"}`, `{"model": "MODEL", "word": ""}`, `{"model": "MODEL", "word": "x", "count": 0}`,
		`{"model": "MODEL", "word": "x", "count": 101}`, `{"model": "MODEL", "word": "x", "count": "5"}`,
		`{"model": "MODEL", "word": "x", "count": 1e99}`, `{"model": "not-a-uuid", "word": "x"}`,
		`{"model": "6ba7b810-9dad-11d1-80b4-00c04fd430c8", "word": "x"}`, `{"model": ["MODEL"], "word": "x"}`,
		`{"word": "x"}`, `[1,2]`, `{`, ``, `{"model": "MODEL", "word": "darcy"} {}`, `{"model": "MODEL", "word": "\u0000"}`,
		`{"model": "MODEL", "word": "` + strings.Repeat("é", 2000) + `"}`,
	} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`{"model": "MODEL", "word": "darcy"}`), "text/plain")
	f.Add([]byte(`{"model": "MODEL", "word": "darcy"}`), "")
	f.Fuzz(func(t *testing.T, body []byte, ctype string) {
		body = bytes.ReplaceAll(body, []byte("MODEL"), []byte(id))
		r := httptest.NewRequest("POST", "/queries", bytes.NewReader(body))
		if ctype != "" {
			r.Header.Set("Content-Type", ctype)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, r)
		if rec.Code == http.StatusCreated {
			var q struct{ Query *ophicleide.Query }
			if err := json.Unmarshal(rec.Body.Bytes(), &q); err != nil || q.Query == nil || q.Query.ModelID != id {
				t.Fatalf("%q: 201 with %s", body, rec.Body)
			}
			return
		}
		var eb struct{ Errors []apiError }
		if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || len(eb.Errors) != 1 {
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
		}
		if rec.Code < 400 || rec.Code > 499 || eb.Errors[0].Status != rec.Code || goTypes(eb.Errors[0].Details) {
			t.Fatalf("%q: %d %s", body, rec.Code, rec.Body)
		}
	})
}
