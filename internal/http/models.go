package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
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

// MaxImportBytes limits POST /models/import. Imports stream to the store
// (memory does not grow with the file), so the limit is about disk and
// time: 8 GiB holds the largest set the readers accept in the binary
// format (vectors.MaxValues values).
const MaxImportBytes = 8 << 30

// importModel creates a ready model from a word2vec file (text or binary,
// detected): multipart with a "file" part and a "name" field, or the raw
// file as the body with ?name=.
func (s *Server) importModel(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, MaxImportBytes)
	name := strings.TrimSpace(r.URL.Query().Get("name"))
	var src io.Reader = r.Body
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		mr, err := r.MultipartReader()
		if err != nil {
			s.fail(w, r, ophicleide.Errorf(ophicleide.EINVALID, "the multipart form cannot be read: %v", err))
			return
		}
		// Fields before the file part; the file is read as it streams.
		for src = nil; src == nil; {
			p, err := mr.NextPart()
			if err != nil {
				s.fail(w, r, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: "the form has no \"file\" part holding a word2vec vectors file"})
				return
			}
			switch p.FormName() {
			case "name":
				b, _ := io.ReadAll(io.LimitReader(p, 1000))
				name = strings.TrimSpace(string(b))
			case "file":
				src = p
			}
		}
	}
	if name == "" {
		s.fail(w, r, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "name", Message: "name is required (a form field, or ?name= with a raw body)"})
		return
	}
	m, err := s.models.Import(r.Context(), name, src)
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			err = ophicleide.Errorf(ophicleide.ETOOLARGE, "the vectors file is larger than %d GiB", MaxImportBytes>>30)
		}
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/models/"+m.ID)
	s.json(w, http.StatusCreated, m)
}
