package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"strings"

	"github.com/ophicleide/ophicleide"
)

// MaxUploadBytes limits a multipart POST /models (all files together).
const MaxUploadBytes = 64 << 20

// parseModelForm reads a multipart POST /models: the JSON fields as form
// fields (urls repeated or one per line, params as a JSON string) and text
// files in "files" parts. Large files are spooled to temporary files.
func parseModelForm(w http.ResponseWriter, r *http.Request, req *createModelRequest) (*multipart.Form, error) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxUploadBytes)
	if err := r.ParseMultipartForm(8 << 20); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, ophicleide.Errorf(ophicleide.ETOOLARGE, "the upload is larger than %d MiB", MaxUploadBytes>>20)
		}
		return nil, ophicleide.Errorf(ophicleide.EINVALID, "the multipart form cannot be read: %v", err)
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
		if err := dec.Decode(&req.Params); err != nil {
			f.RemoveAll()
			return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "params", Message: fmt.Sprintf("params must be a JSON object of training parameters: %v", err)}
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

func closeAll(rs map[string]io.Reader) {
	for _, r := range rs {
		if c, ok := r.(io.Closer); ok {
			c.Close()
		}
	}
}
