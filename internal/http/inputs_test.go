package http

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// tinyVocabulary: an imported model (no tokenizer: unicode), with a
// case-sensitive pair as vectors trained elsewhere may have.
var tinyVocabulary = []string{"darcy", "alice", "bingley", "wickham", "king", "queen", "man", "woman", "Paris", "paris", "élisabeth", "don't"}

// TestQueryWordIsNormalised: "Darcy" and "ALICE" are asked as the
// tokenizer wrote them (lower case, NFKC) when the exact word is not in
// the vocabulary.
func TestQueryWordIsNormalised(t *testing.T) {
	a := startAPI(t, nil)
	id := a.importModel("tiny", tinyVocabulary...)
	query := func(word string) (reply, []string) {
		body, _ := json.Marshal(map[string]any{"model": id, "word": word, "count": 11})
		r := a.do("POST", "/queries", "application/json", body)
		var q struct{ Query struct{ Results [][2]any } }
		json.Unmarshal(r.body, &q)
		var words []string
		for _, res := range q.Query.Results {
			words = append(words, fmt.Sprint(res[1]))
		}
		return r, words
	}
	for _, w := range []string{"Darcy", "ALICE", " Bingley ", "Ｗｉｃｋｈａｍ", "ÉLISABETH", "Don’t"} {
		if r, _ := query(w); r.status != http.StatusCreated {
			t.Errorf("POST /queries %q: %d %s", w, r.status, r.body)
		}
	}
	// The exact word first: "Paris" is its own row, "PARIS" is "paris".
	if r, words := query("Paris"); r.status != http.StatusCreated || strings.Contains(strings.Join(words, " "), "Paris") || !strings.Contains(strings.Join(words, " "), "paris") {
		t.Errorf("Paris: %d %v", r.status, words)
	}
	if r, words := query("PARIS"); r.status != http.StatusCreated || !strings.Contains(strings.Join(words, " "), "Paris") || strings.Contains(strings.Join(words, " "), "paris") {
		t.Errorf("PARIS: %d %v", r.status, words)
	}
	r, _ := query("Mr")
	if details, field := r.errorDetails(); r.status != http.StatusBadRequest || field != "word" || !strings.Contains(details, `"Mr"`) {
		t.Errorf("unknown word: %d %s", r.status, r.body)
	}
	// The vectors endpoints.
	m := "/models/" + id
	for _, path := range []string{
		m + "/similar?word=Darcy",
		m + "/analogy?positive=KING,Woman&negative=Man",
		m + "/similarity?a=DARCY&b=Alice",
		m + "/vectors/Darcy",
		m + "/vectors/" + url.PathEscape("ＡＬＩＣＥ"),
	} {
		if r := a.do("GET", path, "", nil); r.status != http.StatusOK {
			t.Errorf("GET %s: %d %s", path, r.status, r.body)
		}
	}
	// The field at fault is the one holding the unknown word.
	for path, want := range map[string]string{
		m + "/similarity?a=Darcy&b=Mr":               "b",
		m + "/similarity?a=Mr&b=Darcy":               "a",
		m + "/analogy?positive=king&negative=Mr":     "negative",
		m + "/analogy?positive=Mr,king&negative=man": "positive",
	} {
		r := a.do("GET", path, "", nil)
		if _, field := r.errorDetails(); r.status != http.StatusBadRequest || field != want {
			t.Errorf("GET %s: %d %s; want 400 on field %s", path, r.status, r.body, want)
		}
	}
}

// TestAnalogySharedWordIsRefused: "king - king + woman" is no analogy;
// gensim would answer it, excluding the word it cancelled.
func TestAnalogySharedWordIsRefused(t *testing.T) {
	a := startAPI(t, nil)
	m := "/models/" + a.importModel("tiny", tinyVocabulary...)
	for _, q := range []string{"positive=king,woman&negative=king", "positive=king&negative=King", "positive=woman,queen&negative=man,QUEEN"} {
		r := a.do("GET", m+"/analogy?"+q, "", nil)
		details, field := r.errorDetails()
		if r.status != http.StatusBadRequest || field != "negative" || !strings.Contains(details, "both positive and negative") {
			t.Errorf("analogy %s: %d %s; want 400 naming negative", q, r.status, r.body)
		}
	}
}

// TestJSONArrayBodyMessage: decode errors say what JSON was expected,
// never a Go type ("cannot unmarshal array into Go value of type
// http.createModelRequest").
func TestJSONArrayBodyMessage(t *testing.T) {
	a := startAPI(t, nil)
	cases := []struct {
		path, body, want, field string
	}{
		{"/models", `[1,2]`, "the request body must be a JSON object", ""},
		{"/queries", `[]`, "the request body must be a JSON object", ""},
		{"/models", `"austen"`, "the request body must be a JSON object", ""},
		{"/models", `42`, "the request body must be a JSON object", ""},
		{"/models", `{"name": 5, "urls": []}`, `field "name" must be of type string (got number)`, "name"},
		{"/models", `{"name": "x", "urls": "http://example.org/"}`, `field "urls" must be of type array of strings (got string)`, "urls"},
		{"/models", `{"name": "x", "urls": [1]}`, `must be of type string (got number)`, "urls"},
		{"/models", `{"name": "x", "params": []}`, `field "params" must be of type object (got array)`, "params"},
		{"/models", `{"name": "x", "params": {"dim": "100"}}`, `field "params.dim" must be of type integer (got string)`, "params.dim"},
		{"/models", `{"name": "x", "params": {"sample": true}}`, `must be of type number (got boolean)`, "params.sample"},
		{"/models", `{"name": "x", "params": {"colour": 1}}`, `unknown field "colour"`, ""},
		{"/models", `{"name": "x"} {}`, "more than one JSON value", ""},
		{"/models", `{"name": "x"}]`, "more than one JSON value", ""},
		{"/models", `{"name": `, "not valid JSON", ""},
		{"/queries", `{"model": "m", "word": "w", "count": "5"}`, `field "count" must be of type integer (got string)`, "count"},
		{"/queries", `{"model": "m", "word": "w", "count": 1e99}`, `field "count" must be of type integer`, "count"},
		{"/queries", `{"model": ["m"], "word": "w"}`, `field "model" must be of type string (got array)`, "model"},
	}
	for _, c := range cases {
		r := a.do("POST", c.path, "application/json", []byte(c.body))
		details, field := r.errorDetails()
		if r.status != http.StatusBadRequest || !strings.Contains(details, c.want) || field != c.field {
			t.Errorf("POST %s %s: %d %s; want 400 with %q on field %q", c.path, c.body, r.status, r.body, c.want, c.field)
		}
		if goTypes(details) {
			t.Errorf("POST %s %s: %q names Go types", c.path, c.body, details)
		}
	}
	// The multipart form's params field too.
	for _, p := range []string{`[1]`, `{"dim": "x"}`, `{"dim": 1} 2`, `{"x": 1}`, `{`} {
		ctype, body := multipartBody(t, "name", "x", "urls", "http://example.org/a.txt", "params", p)
		r := a.do("POST", "/models", ctype, body)
		details, field := r.errorDetails()
		if r.status != http.StatusBadRequest || !strings.HasPrefix(field, "params") || goTypes(details) {
			t.Errorf("form params %s: %d %s", p, r.status, r.body)
		}
	}
}

// goTypes reports whether a message names Go types or packages.
func goTypes(msg string) bool {
	for _, s := range []string{"Go value", "Go struct", "http.", "ophicleide.", "createModelRequest", "requestParams", "*int", "[]string", "float64", "json:"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// TestTooManyMultipartParts: each part costs headers and a map entry; Go's
// reader allows 1,000 of them. POST /models takes at most maxFormParts.
func TestTooManyMultipartParts(t *testing.T) {
	a := startAPI(t, nil)
	form := func(urls int) (string, []byte) {
		fields := []string{"name", "x"}
		for i := range urls {
			fields = append(fields, "urls", fmt.Sprintf("http://example.org/%d.txt", i))
		}
		return multipartBody(t, fields...)
	}
	for _, n := range []int{maxFormParts, maxFormParts + 50, 1200, 5000} {
		ctype, body := form(n)
		r := a.do("POST", "/models", ctype, body)
		details, _ := r.errorDetails()
		if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(details, fmt.Sprintf("more than %d parts", maxFormParts)) {
			t.Errorf("%d parts: %d %s; want 413", n+1, r.status, r.body)
		}
	}
	// maxURLs URLs and a file fit.
	ctype, body := form(maxURLs)
	if r := a.do("POST", "/models", ctype, body); r.status != http.StatusCreated {
		t.Errorf("%d URLs: %d %s", maxURLs, r.status, r.body)
	}
	ctype, body = multipartBody(t, "name", "x", "@files", "It is a truth universally acknowledged.")
	if r := a.do("POST", "/models", ctype, body); r.status != http.StatusCreated {
		t.Errorf("a file: %d %s", r.status, r.body)
	}
}

// TestPartCounter counts delimiters split across reads of every size.
func TestPartCounter(t *testing.T) {
	ctype, body := multipartBody(t, "a", "1", "b", "2\n--x", "@files", "three")
	boundary := ctype[strings.Index(ctype, "boundary=")+len("boundary="):]
	for size := 1; size <= len(body); size++ {
		c := newPartCounter(&chunked{b: body, n: size}, boundary, 100)
		buf := make([]byte, size)
		for {
			if _, err := c.Read(buf); err != nil {
				break
			}
		}
		if c.n != 4 {
			t.Fatalf("reads of %d bytes: %d delimiters, want 4", size, c.n)
		}
	}
	c := newPartCounter(&chunked{b: body, n: 7}, boundary, 2)
	buf := make([]byte, 7)
	var err error
	for err == nil {
		_, err = c.Read(buf)
	}
	if err != errTooManyParts || !c.over {
		t.Fatalf("3 parts with a limit of 2: %v", err)
	}
}

// chunked returns b at most n bytes per Read.
type chunked struct {
	b []byte
	n int
}

func (c *chunked) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), c.n)], c.b)
	c.b = c.b[k:]
	return k, nil
}
