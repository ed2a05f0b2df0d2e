// Package client talks to a running Ophicleide server over its REST API,
// for the client commands of cmd/ophicleide. Errors from the server come
// back as *ophicleide.Error with the server's message; a key the server
// needs but did not get, or does not know, is EUNAUTHORIZED (401), one
// whose role or ownership does not allow the call EFORBIDDEN (403), and a
// rate limit or quota ELIMITED (429, with the error's RetryAfter from the
// Retry-After header).
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ophicleide/ophicleide"
)

// Client is safe for concurrent use. A method that fails returns a nil
// result with its error.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// New returns a client of the server at base (e.g. http://127.0.0.1:8080)
// that sends no key.
func New(base string) *Client {
	return &Client{base: strings.TrimRight(base, "/"), http: &http.Client{Timeout: 5 * time.Minute}}
}

// WithToken returns a copy of c that sends token as the API key
// ("Authorization: Bearer TOKEN") on every request; "" sends none. The
// token is never part of an error or a message.
func (c *Client) WithToken(token string) *Client {
	cc := *c
	cc.token = token
	return &cc
}

// HasToken reports whether c sends a key.
func (c *Client) HasToken() bool { return c.token != "" }

// codes maps statuses back to the domain's error codes.
var codes = map[int]string{
	http.StatusBadRequest: ophicleide.EINVALID, http.StatusNotFound: ophicleide.ENOTFOUND,
	http.StatusConflict: ophicleide.ECONFLICT, http.StatusRequestEntityTooLarge: ophicleide.ETOOLARGE,
	http.StatusServiceUnavailable: ophicleide.EUNAVAILABLE, http.StatusInsufficientStorage: ophicleide.EFULL,
	http.StatusUnauthorized: ophicleide.EUNAUTHORIZED, http.StatusForbidden: ophicleide.EFORBIDDEN,
	http.StatusTooManyRequests: ophicleide.ELIMITED,
	// Requests the server refused for how they were sent (not JSON, a
	// Host it does not serve).
	http.StatusUnsupportedMediaType: ophicleide.EINVALID, http.StatusMisdirectedRequest: ophicleide.EINVALID,
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date; 0 when
// absent or unreadable.
func retryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return 0
	}
	if s, err := strconv.Atoi(h); err == nil {
		return time.Duration(max(s, 0)) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil && t.After(now) {
		return t.Sub(now).Round(time.Second)
	}
	return 0
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	ctype := ""
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body, ctype = bytes.NewReader(b), "application/json"
	}
	return c.send(ctx, method, path, ctype, body, out)
}

// send makes a request with body of type ctype ("" for none) and decodes
// the answer into out (JSON, or copied to an io.Writer; nil: ignored).
func (c *Client) send(ctx context.Context, method, path, ctype string, body io.Reader, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var fe *fileError
		if errors.As(err, &fe) {
			return fe
		}
		return &ophicleide.Error{Code: ophicleide.EUNAVAILABLE, Message: fmt.Sprintf("cannot reach the server at %s (is it running? set --server or OPHICLEIDE_SERVER)", c.base), Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		var eb struct {
			Errors []struct {
				Details string `json:"details"`
				Field   string `json:"field"`
			} `json:"errors"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		msg := strings.TrimSpace(string(b))
		field := ""
		if json.Unmarshal(b, &eb) == nil && len(eb.Errors) > 0 {
			msg, field = eb.Errors[0].Details, eb.Errors[0].Field
		}
		code, ok := codes[resp.StatusCode]
		if !ok {
			code = ophicleide.EINTERNAL
		}
		if msg == "" {
			msg = http.StatusText(resp.StatusCode)
		}
		e := &ophicleide.Error{Code: code, Message: fmt.Sprintf("%s (HTTP %d)", msg, resp.StatusCode), Field: field}
		if code == ophicleide.ELIMITED {
			e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
		return e
	}
	if out == nil {
		return nil
	}
	if w, ok := out.(io.Writer); ok {
		_, err := io.Copy(w, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// Models lists every model, newest first, reading page after page of
// the largest size the server gives.
func (c *Client) Models(ctx context.Context) ([]*ophicleide.Model, error) {
	var all []*ophicleide.Model
	p := ophicleide.Page{Limit: ophicleide.MaxPageLimit}
	for {
		page, err := c.ModelsPage(ctx, p)
		if err != nil {
			return nil, err
		}
		all = append(all, page.Models...)
		if page.Next == "" || len(page.Models) == 0 {
			return all, nil
		}
		p.After = page.Next
	}
}

// ModelsPage returns one page of the models, newest first; the next page
// is p with After set to the page's Next, until Next is "".
func (c *Client) ModelsPage(ctx context.Context, p ophicleide.Page) (*ophicleide.ModelPage, error) {
	var out ophicleide.ModelPage
	if err := c.do(ctx, http.MethodGet, "/models"+pageQuery(url.Values{}, p), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Queries returns one page of the stored queries, newest first, of the
// model modelID only unless it is "".
func (c *Client) Queries(ctx context.Context, modelID string, p ophicleide.Page) (*ophicleide.QueryPage, error) {
	v := url.Values{}
	if modelID != "" {
		v.Set("model", modelID)
	}
	var out ophicleide.QueryPage
	if err := c.do(ctx, http.MethodGet, "/queries"+pageQuery(v, p), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// pageQuery adds p to v and encodes it as a query string ("" or "?...").
func pageQuery(v url.Values, p ophicleide.Page) string {
	if p.Limit != 0 {
		v.Set("limit", strconv.Itoa(p.Limit))
	}
	if p.After != "" {
		v.Set("after", p.After)
	}
	if len(v) == 0 {
		return ""
	}
	return "?" + v.Encode()
}

// Model returns one model.
func (c *Client) Model(ctx context.Context, id string) (*ophicleide.Model, error) {
	var out struct{ Model *ophicleide.Model }
	if err := c.do(ctx, http.MethodGet, "/models/"+url.PathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return out.Model, nil
}

// CreateModel asks the server to train a model.
func (c *Client) CreateModel(ctx context.Context, name string, urls []string, p ophicleide.Params) (*ophicleide.Model, error) {
	var m ophicleide.Model
	in := map[string]any{"name": name, "urls": urls, "params": p}
	if err := c.do(ctx, http.MethodPost, "/models", in, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// ModelRequest is what CreateModelRequest sends: the page's training
// form.
type ModelRequest struct {
	Name     string
	URLs     []string
	Callback string
	// Params are the training parameters by their API names (dim,
	// minCount, ...), only those given; the server's defaults fill in the
	// rest.
	Params map[string]any
	// Files are paths of local text files to upload and train on; with
	// any, the request is a multipart form (as the page sends it),
	// streamed from the files.
	Files []string
}

// fileError is a local file of a ModelRequest that could not be read.
type fileError struct{ err error }

func (e *fileError) Error() string { return e.err.Error() }
func (e *fileError) Unwrap() error { return e.err }

// CreateModelRequest asks the server to train a model on req's URLs and
// files. A file that cannot be read fails the request before or while it
// is sent, with the file's *os.PathError.
func (c *Client) CreateModelRequest(ctx context.Context, req ModelRequest) (*ophicleide.Model, error) {
	var m ophicleide.Model
	if len(req.Files) == 0 {
		in := map[string]any{"name": req.Name, "urls": req.URLs}
		if req.URLs == nil {
			in["urls"] = []string{}
		}
		if len(req.Params) > 0 {
			in["params"] = req.Params
		}
		if req.Callback != "" {
			in["callback"] = req.Callback
		}
		if err := c.do(ctx, http.MethodPost, "/models", in, &m); err != nil {
			return nil, err
		}
		return &m, nil
	}
	for _, f := range req.Files { // fail before sending anything
		fi, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		if !fi.Mode().IsRegular() {
			return nil, &os.PathError{Op: "upload", Path: f, Err: errors.New("not a regular file")}
		}
	}
	params := []byte("{}")
	if len(req.Params) > 0 {
		var err error
		if params, err = json.Marshal(req.Params); err != nil {
			return nil, err
		}
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(writeForm(mw, req, params)) }()
	defer pr.Close()
	if err := c.send(ctx, http.MethodPost, "/models", mw.FormDataContentType(), pr, &m); err != nil {
		return nil, err
	}
	return &m, nil
}

// writeForm writes req as POST /models' multipart form: name, urls (one
// field each), callback, params (JSON) and the files in "files" parts.
func writeForm(mw *multipart.Writer, req ModelRequest, params []byte) error {
	fields := [][2]string{{"name", req.Name}}
	for _, u := range req.URLs {
		fields = append(fields, [2]string{"urls", u})
	}
	if req.Callback != "" {
		fields = append(fields, [2]string{"callback", req.Callback})
	}
	fields = append(fields, [2]string{"params", string(params)})
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			return err
		}
	}
	for _, path := range req.Files {
		if err := writeFile(mw, path); err != nil {
			return err
		}
	}
	return mw.Close()
}

func writeFile(mw *multipart.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return &fileError{err}
	}
	defer f.Close()
	w, err := mw.CreateFormFile("files", filepath.Base(path))
	if err != nil {
		return err
	}
	if _, err := io.Copy(w, f); err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return &fileError{err}
		}
		return err
	}
	return nil
}

// DeleteModel deletes a model.
func (c *Client) DeleteModel(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/models/"+url.PathEscape(id), nil, nil)
}

// Export writes the model's vectors in format (binary or text) to w.
func (c *Client) Export(ctx context.Context, id, format string, w io.Writer) error {
	return c.do(ctx, http.MethodGet, "/models/"+url.PathEscape(id)+"/export?format="+url.QueryEscape(format), nil, w)
}

// Query asks for the count nearest words to word in a model, stored as a
// query.
func (c *Client) Query(ctx context.Context, modelID, word string, count int) (*ophicleide.Query, error) {
	var out struct{ Query *ophicleide.Query }
	in := map[string]any{"model": modelID, "word": word, "count": count}
	if err := c.do(ctx, http.MethodPost, "/queries", in, &out); err != nil {
		return nil, err
	}
	return out.Query, nil
}

// MinIDPrefix is the shortest id prefix Resolve accepts (the short ids
// the model listings show are this long).
const MinIDPrefix = 8

// Resolve turns a model reference into an id: an id, a model's name when
// no other model has it, or a prefix of at least MinIDPrefix characters
// of one model's id. A name that several models have is an EINVALID
// error listing them (id, created time, status) so the user can pick
// one; nothing matching is ENOTFOUND.
func (c *Client) Resolve(ctx context.Context, ref string) (string, error) {
	ms, err := c.Models(ctx)
	if err != nil {
		return "", err
	}
	var named, prefixed []*ophicleide.Model
	for _, m := range ms {
		if m.ID == ref {
			return m.ID, nil
		}
		if m.Name == ref {
			named = append(named, m)
		}
		if len(ref) >= MinIDPrefix && strings.HasPrefix(m.ID, ref) {
			prefixed = append(prefixed, m)
		}
	}
	switch {
	case len(named) == 1:
		return named[0].ID, nil
	case len(named) > 1:
		return "", ophicleide.Errorf(ophicleide.EINVALID, "%d models are named %q; give one's id: %s", len(named), ref, candidates(named))
	case len(prefixed) == 1:
		return prefixed[0].ID, nil
	case len(prefixed) > 1:
		return "", ophicleide.Errorf(ophicleide.EINVALID, "%d models have ids starting %q; give more of the id: %s", len(prefixed), ref, candidates(prefixed))
	}
	return "", ophicleide.Errorf(ophicleide.ENOTFOUND, "no model with id or name %q", ref)
}

// candidates lists models for a choice: id, created time, status.
func candidates(ms []*ophicleide.Model) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s (created %s, %s)", m.ID, m.Created.UTC().Format("2006-01-02 15:04:05 UTC"), m.Status)
	}
	return b.String()
}

// Compare compares models a and b (ids): word's count neighbours in both
// when word is not "", and the moved words that moved most (count and
// moved 0: the server's defaults).
func (c *Client) Compare(ctx context.Context, a, b, word string, count, moved int) (*ophicleide.Comparison, error) {
	v := url.Values{"a": {a}, "b": {b}}
	if word != "" {
		v.Set("word", word)
	}
	if count > 0 {
		v.Set("count", strconv.Itoa(count))
	}
	if moved > 0 {
		v.Set("moved", strconv.Itoa(moved))
	}
	var out ophicleide.Comparison
	if err := c.do(ctx, http.MethodGet, "/compare?"+v.Encode(), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
