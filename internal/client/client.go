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
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
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

// Resolve turns a model id or a unique model name into an id.
func (c *Client) Resolve(ctx context.Context, idOrName string) (string, error) {
	ms, err := c.Models(ctx)
	if err != nil {
		return "", err
	}
	var found []string
	for _, m := range ms {
		if m.ID == idOrName {
			return m.ID, nil
		}
		if m.Name == idOrName {
			found = append(found, m.ID)
		}
	}
	switch len(found) {
	case 0:
		return "", ophicleide.Errorf(ophicleide.ENOTFOUND, "no model with id or name %q", idOrName)
	case 1:
		return found[0], nil
	}
	return "", ophicleide.Errorf(ophicleide.EINVALID, "%d models are named %q; give an id", len(found), idOrName)
}
