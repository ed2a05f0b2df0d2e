package http

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"path"
	"strings"

	"github.com/ophicleide/ophicleide"
)

// MaxUploadBytes limits a multipart POST /models (all files together).
const MaxUploadBytes = 64 << 20

// maxURLs is the model service's bound on URLs, which a form must have
// room for.
const maxURLs = ophicleide.MaxURLs

// maxFormParts limits the parts of a multipart POST /models: room for
// maxURLs "urls" fields, the other fields and a few files. (Go's reader
// alone allows 1,000, each with its own headers.)
const maxFormParts = 120

// parseModelForm reads a multipart POST /models: the JSON fields as form
// fields (urls repeated or one per line, params as a JSON string) and text
// files in "files" parts. Large files are spooled to temporary files.
func parseModelForm(w http.ResponseWriter, r *http.Request, req *createModelRequest) (*multipart.Form, error) {
	body := http.MaxBytesReader(w, r.Body, MaxUploadBytes)
	var parts *partCounter
	if _, ps, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && ps["boundary"] != "" {
		parts = newPartCounter(body, ps["boundary"], maxFormParts)
		r.Body = struct {
			io.Reader
			io.Closer
		}{parts, body}
	} else {
		r.Body = body
	}
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		var mbe *http.MaxBytesError
		switch {
		case parts != nil && parts.over:
			return nil, ophicleide.Errorf(ophicleide.ETOOLARGE, "the form has more than %d parts", maxFormParts)
		case errors.As(err, &mbe):
			return nil, ophicleide.Errorf(ophicleide.ETOOLARGE, "the upload is larger than %d MiB", MaxUploadBytes>>20)
		case errors.Is(err, multipart.ErrMessageTooLarge):
			return nil, ophicleide.Errorf(ophicleide.ETOOLARGE, "the form has too many parts or too large headers")
		}
		return nil, ophicleide.Errorf(ophicleide.EINVALID, "the multipart form cannot be read: %s", strings.TrimPrefix(err.Error(), "multipart: "))
	}
	f := r.MultipartForm
	first := func(k string) string {
		if v := f.Value[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	req.Name, req.Callback = first("name"), first("callback")
	for _, v := range f.Value["urls"] {
		req.URLs = append(req.URLs, strings.Split(v, "\n")...)
	}
	if p := first("params"); strings.TrimSpace(p) != "" {
		dec := json.NewDecoder(strings.NewReader(p))
		dec.DisallowUnknownFields()
		err := dec.Decode(&req.Params)
		if err == nil {
			if _, err = dec.Token(); errors.Is(err, io.EOF) {
				err = nil
			} else {
				err = errors.New("more than one JSON value")
			}
		}
		if err != nil {
			f.RemoveAll()
			var e *ophicleide.Error
			errors.As(jsonError(err, "params", "params"), &e) // always an *ophicleide.Error
			return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: cmp.Or(e.Field, "params"),
				Message: "params must be a JSON object of training parameters: " + e.Message}
		}
	}
	return f, nil
}

// openUploads opens the "files" parts under unique, safe names and records
// the names in req.
func openUploads(f *multipart.Form, req *createModelRequest) (map[string]io.Reader, error) {
	uploads := map[string]io.Reader{}
	for i, fh := range f.File["files"] {
		name := safeName(strings.TrimSuffix(path.Base(strings.ReplaceAll(fh.Filename, "\\", "/")), path.Ext(fh.Filename)))
		if _, dup := uploads[name]; dup || name == "" {
			name = fmt.Sprintf("%s-%d", name, i)
		}
		file, err := fh.Open()
		if err != nil {
			closeAll(uploads)
			return nil, fmt.Errorf("opening upload %q: %w", fh.Filename, err)
		}
		uploads[name] = file
		req.uploads = append(req.uploads, name)
	}
	return uploads, nil
}

// partCounter passes a multipart body through and fails it once it holds
// more than max parts: it counts the delimiter lines ("--" boundary after
// a line end, or at the start), one more than the parts. Content cannot
// hold a delimiter line, so the count is exact for well-formed bodies.
type partCounter struct {
	r     io.Reader
	delim []byte // "\n--" + boundary
	tail  []byte // the last len(delim)-1 bytes seen, to find delimiters split by reads
	join  []byte // scratch
	n     int    // delimiters seen
	max   int
	over  bool // more than max parts: Read fails from then on
}

// errTooManyParts is what the multipart reader sees from a partCounter
// that tripped; parseModelForm reports it from the counter's over flag.
var errTooManyParts = errors.New("too many parts")

func newPartCounter(r io.Reader, boundary string, limit int) *partCounter {
	delim := []byte("\n--" + boundary)
	return &partCounter{r: r, delim: delim, tail: []byte("\n"), max: limit}
}

func (c *partCounter) Read(p []byte) (int, error) {
	if c.over {
		return 0, errTooManyParts
	}
	n, err := c.r.Read(p)
	if n > 0 {
		// A delimiter is longer than tail, so those found in tail +
		// p[:k] are exactly the ones that straddle the two.
		k := len(c.delim) - 1
		c.join = append(append(c.join[:0], c.tail...), p[:min(n, k)]...)
		c.n += bytes.Count(c.join, c.delim) + bytes.Count(p[:n], c.delim)
		c.join = append(c.join[:len(c.tail)], p[:n][max(0, n-k):]...)
		c.tail = append(c.tail[:0], c.join[max(0, len(c.join)-k):]...)
		if c.n > c.max+1 { // the closing delimiter is not a part
			c.over = true
			return 0, errTooManyParts
		}
	}
	return n, err
}

func closeAll(rs map[string]io.Reader) {
	for _, r := range rs {
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
	}
}
