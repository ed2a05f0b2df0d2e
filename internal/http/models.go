package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"

	"github.com/ophicleide/ophicleide"
)

type createModelRequest struct {
	Name     string        `json:"name"`
	URLs     []string      `json:"urls"`
	Callback string        `json:"callback"`
	Params   requestParams `json:"params"`
	uploads  []string      // names of uploaded files (multipart only)
}

// requestParams are the training parameters of a request. The domain's
// Params cannot tell a field left out (the default) from one given as 0,
// which the API refuses for the parameters that must be positive (as the
// OpenAPI document says): those are noted while decoding.
type requestParams struct {
	ophicleide.Params
	zero string // the first positive-only parameter given as 0
}

// positiveParams must be above 0 when given.
var positiveParams = []string{"dim", "window", "negative", "minCount", "epochs", "alpha", "partitions", "maxSentenceLength", "bucket"}

func (p *requestParams) UnmarshalJSON(b []byte) error {
	var fields map[string]json.RawMessage
	if json.Unmarshal(b, &fields) == nil {
		for _, k := range positiveParams {
			if v, ok := fields[k]; ok {
				if f, err := strconv.ParseFloat(string(v), 64); err == nil && f == 0 {
					p.zero = k
					break
				}
			}
		}
	}
	type plain ophicleide.Params // without this method
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	return dec.Decode((*plain)(&p.Params))
}

// request is req for the model service, with uploads (openUploads).
func (req createModelRequest) request(uploads map[string]io.Reader) ophicleide.ModelRequest {
	out := ophicleide.ModelRequest{Name: req.Name, URLs: req.URLs, Callback: req.Callback,
		Params: req.Params.Params, ZeroParam: req.Params.zero}
	for _, name := range req.uploads {
		out.Uploads = append(out.Uploads, ophicleide.Upload{Name: name, Text: uploads[name]})
	}
	return out
}

// createModel serves POST /models: JSON, or a multipart form with text
// files (upload.go).
func (s *Server) createModel(w http.ResponseWriter, r *http.Request) {
	var req createModelRequest
	var uploads map[string]io.Reader
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		form, err := parseModelForm(w, r, &req)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		defer form.RemoveAll()
		if uploads, err = openUploads(form, &req); err != nil {
			s.fail(w, r, err)
			return
		}
		defer closeAll(uploads)
	} else if err := decode(r, &req); err != nil {
		s.fail(w, r, err)
		return
	}
	m, err := s.models.Create(r.Context(), req.request(uploads))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/models/"+m.ID)
	s.json(w, http.StatusCreated, m)
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "model")
	if err == nil {
		var m *ophicleide.Model
		if m, err = s.models.FindModel(r.Context(), id); err == nil {
			s.json(w, http.StatusOK, map[string]any{"model": m})
			return
		}
	}
	s.fail(w, r, err)
}

func (s *Server) deleteModel(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "model")
	if err == nil {
		err = s.models.Delete(r.Context(), id)
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// DefaultMaxImportBytes limits POST /models/import when the service sets
// no limit (Limits.MaxImportBytes: serve's --max-import-size). Imports
// stream to the store (memory does not grow with the file), so the limit
// is about disk and time: 10 GiB holds a 3M x 300 word2vec text file with
// six decimals (~8.6 GB: 2.86 KB a row, measured on a generated
// 200k x 300 file), GoogleNews' binary file (3.6 GB) and fastText's
// published 2M-word .bin models (~7.2 GB).
const DefaultMaxImportBytes = 10 << 30

// importBody is the body of an import as the service reads it: its errors
// in words (over the limit, cut off or stalled), and its size when the
// request says it (Size, for the import's progress).
type importBody struct {
	r     io.Reader
	size  int64
	limit int64
}

func (b *importBody) Size() int64 { return b.size }

func (b *importBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == nil || err == io.EOF {
		return n, err
	}
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		return n, tooLargeImport(b.limit)
	}
	if oe := (*ophicleide.Error)(nil); errors.As(err, &oe) {
		return n, err
	}
	return n, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Err: err,
		Message: "the upload stopped before the end of the file (the connection was closed, or sent nothing for too long)"}
}

func tooLargeImport(limit int64) error {
	return ophicleide.Errorf(ophicleide.ETOOLARGE, "the vectors file is larger than this server's import limit of %s", sizeWords(limit))
}

// sizeWords writes n bytes as people read them (10 GiB, 512 MiB).
func sizeWords(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d bytes", n)
}

// importModel imports a word2vec file (text or binary, detected) or a
// fastText .bin model: multipart with a "file" part and a "name" field,
// or the raw file as the body with ?name=. The model is visible as
// importing while the body streams (the service's Import); the answer
// comes once it is ready: 201 with the model, as before imports showed
// progress. A body declared over the limit is refused before it is read.
func (s *Server) importModel(w http.ResponseWriter, r *http.Request) {
	limit := s.limits().MaxImportBytes
	if r.ContentLength > limit {
		s.fail(w, r, tooLargeImport(limit))
		return
	}
	body := &importBody{r: http.MaxBytesReader(w, r.Body, limit), size: max(r.ContentLength, -1), limit: limit}
	name := strings.TrimSpace(r.URL.Query().Get("name"))
	var src io.Reader = body
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		mr, err := multipartReader(r, body)
		if err != nil {
			s.fail(w, r, ophicleide.Errorf(ophicleide.EINVALID, "the multipart form cannot be read: %v", err))
			return
		}
		// Fields before the file part; the file is read as it streams.
		for src = nil; src == nil; {
			p, err := mr.NextPart()
			if err != nil {
				if oe := (*ophicleide.Error)(nil); errors.As(err, &oe) {
					s.fail(w, r, err)
					return
				}
				s.fail(w, r, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: "the form has no \"file\" part holding a word2vec vectors file"})
				return
			}
			switch p.FormName() {
			case "name":
				b, _ := io.ReadAll(io.LimitReader(p, 1000))
				name = strings.TrimSpace(string(b))
			case "file":
				// The part's progress is the body's: its size is close
				// to the request's.
				src = &importBody{r: p, size: body.size, limit: limit}
			}
		}
	}
	if name == "" {
		s.fail(w, r, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "name", Message: "name is required (a form field, or ?name= with a raw body)"})
		return
	}
	m, err := s.models.Import(r.Context(), name, src)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/models/"+m.ID)
	s.json(w, http.StatusCreated, m)
}

// multipartReader is r.MultipartReader over body instead of r.Body.
func multipartReader(r *http.Request, body io.Reader) (*multipart.Reader, error) {
	_, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, http.ErrMissingBoundary
	}
	return multipart.NewReader(body, boundary), nil
}
