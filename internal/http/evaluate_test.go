package http

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/ophicleide/ophicleide"
)

// TestEvaluateEndpoint: POST /models/{id}/evaluate over the real services
// and store, every answer checked against openapi.yaml (realAPI.do).
func TestEvaluateEndpoint(t *testing.T) {
	a := startAuthAPI(t, AuthConfig{})
	id := a.importAs(owner, "austen", "darcy", "bingley", "wickham", "jane", "lizzy", "collins")
	path := "/models/" + id + "/evaluate"
	eval := func(r reply) ophicleide.Evaluation {
		t.Helper()
		if r.status != http.StatusOK {
			t.Fatalf("status %d: %s", r.status, r.body)
		}
		var e ophicleide.Evaluation
		if err := json.Unmarshal(r.body, &e); err != nil {
			t.Fatal(err)
		}
		return e
	}

	// An imported model is evaluated on the bundled sets when imported.
	var m struct{ Model ophicleide.Model }
	json.Unmarshal(a.do("GET", "/models/"+id, "", nil).body, &m)
	if e := m.Model.Evaluation; e == nil || len(e.Analogies) != 1 || len(e.Similarities) != 4 || e.Similarities[0].Name != "wordsim353" {
		t.Errorf("imported model's evaluation: %+v", e)
	}

	pairs := "# a comment\nDarcy\tBingley\t8.5\ndarcy jane 3\nＷｉｃｋｈａｍ collins 1\nlizzy zzz 2\n"
	e := eval(a.do("POST", path, "text/plain", []byte(pairs)))
	if len(e.Analogies) != 0 || len(e.Similarities) != 1 {
		t.Fatalf("pairs: %+v", e)
	}
	// Case-folded, and the fullwidth Wickham as the tokenizer writes it (NFKC).
	if s := e.Similarities[0]; s.Name != "upload" || s.Pairs != 4 || s.Covered != 3 || s.Coverage != 0.75 {
		t.Errorf("pairs: %+v", s)
	}

	e = eval(a.do("POST", path+"?kind=analogy", "text/plain", []byte(": family\ndarcy bingley jane lizzy\nzz yy xx ww\n: gram1\nwickham collins darcy jane\n")))
	if len(e.Analogies) != 1 || e.Analogies[0].Questions != 3 || e.Analogies[0].Answered != 2 || e.Analogies[0].Name != "upload" {
		t.Errorf("analogies: %+v", e)
	}

	// Multipart: the file's name names the result; kind as a field.
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("kind", "similarity")
	fw, _ := mw.CreateFormFile("file", `C:\sets\my-pairs.txt`)
	fw.Write([]byte("darcy bingley 9\njane lizzy 8\ndarcy collins 1\n"))
	mw.Close()
	e = eval(a.do("POST", path, mw.FormDataContentType(), body.Bytes()))
	if len(e.Similarities) != 1 || e.Similarities[0].Name != "my-pairs.txt" || e.Similarities[0].Covered != 3 {
		t.Errorf("multipart: %+v", e)
	}

	// A file of words the model does not know: coverage 0, not an error.
	e = eval(a.do("POST", path, "text/plain", []byte("aa bb 1\ncc dd 2\nee ff 3\n")))
	if s := e.Similarities[0]; s.Covered != 0 || s.Coverage != 0 || s.Spearman != 0 {
		t.Errorf("unknown words: %+v", s)
	}
	e = eval(a.do("POST", path, "text/plain", []byte(": s\naa bb cc dd\n")))
	if g := e.Analogies[0]; g.Answered != 0 || g.Coverage != 0 || g.Accuracy != 0 {
		t.Errorf("unknown analogy words: %+v", g)
	}

	var noFile bytes.Buffer
	mw = multipart.NewWriter(&noFile)
	mw.WriteField("kind", "analogy")
	mw.Close()
	for _, c := range []struct {
		what, path, ctype string
		body              []byte
		status            int
		field             string
	}{
		{"empty", path, "text/plain", nil, 400, "file"},
		{"blank", path, "text/plain", []byte(" \n\t\n"), 400, "file"},
		{"binary junk", path, "application/octet-stream", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe"), 400, "file"},
		{"junk without NUL", path, "text/plain", []byte("\xff\xfe\xfd\n\x80\x81"), 400, "file"},
		{"the wrong kind", path + "?kind=similarity", "text/plain", []byte(": s\ndarcy bingley jane lizzy\n"), 400, "file"},
		{"pairs as analogies", path + "?kind=analogy", "text/plain", []byte("darcy bingley 9\n"), 400, "file"},
		{"unknown kind", path + "?kind=csv", "text/plain", []byte("darcy bingley 9\n"), 400, "kind"},
		{"a score that is not finite", path, "text/plain", []byte("darcy bingley 9\njane lizzy nan\n"), 400, "file"},
		{"a huge line", path, "text/plain", []byte(strings.Repeat("darcy ", 400_000)), 400, "file"},
		{"over 16 MiB", path, "text/plain", bytes.Repeat([]byte("darcy bingley 9\n"), 17<<20/16), 413, ""},
		{"a form without a file", path, mw.FormDataContentType(), noFile.Bytes(), 400, "file"},
		{"a broken form", path, "multipart/form-data", []byte("--x\r\n"), 400, ""},
		{"no such model", "/models/00000000-0000-4000-8000-000000000000/evaluate", "text/plain", []byte("darcy bingley 9\n"), 404, ""},
		{"a bad model id", "/models/..%2f..%2fetc/evaluate", "text/plain", []byte("darcy bingley 9\n"), 404, ""},
	} {
		r := a.do("POST", c.path, c.ctype, c.body)
		if r.status != c.status {
			t.Errorf("%s: status %d, want %d: %.300s", c.what, r.status, c.status, r.body)
			continue
		}
		if c.field != "" && !strings.Contains(string(r.body), `"field":"`+c.field+`"`) {
			t.Errorf("%s: %s does not name the field %s", c.what, r.body, c.field)
		}
	}
}

// TestEvaluateQueryRole: the read-api role does not serve it (405 naming the
// api role), as for the other write-role routes.
func TestEvaluateQueryRole(t *testing.T) {
	a := startAuthAPI(t, AuthConfig{})
	id := a.importAs(owner, "austen", "darcy", "bingley", "wickham")
	a.srv.ReadOnly()
	r := a.do("POST", "/models/"+id+"/evaluate", "text/plain", []byte("darcy bingley 1\n"))
	if r.status != http.StatusMethodNotAllowed || !strings.Contains(string(r.body), "api role") {
		t.Errorf("read-api role: %d %s", r.status, r.body)
	}
}
