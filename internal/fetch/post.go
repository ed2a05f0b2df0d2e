package fetch

import (
	"bytes"
	"context"
	"io"
	"net/http"
)

// Post sends body to rawURL (a webhook) with the same address checks,
// timeouts and redirect limits as Fetch, once: the caller decides about
// retries. A status other than 2xx is an *Error of Kind http-status.
func (f *Fetcher) Post(ctx context.Context, rawURL, contentType string, body []byte) error {
	u, perr := parseURL(rawURL)
	if perr != nil {
		return perr
	}
	actx, cancel := context.WithTimeout(ctx, f.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		return &Error{URL: rawURL, Kind: KindInvalidURL, Err: &invalidURLError{"not a valid URL: " + err.Error()}}
	}
	req.Header.Set("User-Agent", f.opts.UserAgent)
	req.Header.Set("Content-Type", contentType)
	resp, err := f.client.Do(req)
	if err != nil {
		return f.classify(ctx, actx, rawURL, err, false)
	}
	defer resp.Body.Close()
	_, _ = io.CopyN(io.Discard, resp.Body, 4<<10)
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return &Error{URL: rawURL, Kind: KindHTTPStatus, StatusCode: resp.StatusCode}
	}
	return nil
}
