package http

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/vectors"
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

// MaxImportBytes limits POST /models/import.
const MaxImportBytes = 1 << 30

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
	if len(name) > maxNameLen {
		s.fail(w, r, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "name", Message: fmt.Sprintf("name is longer than %d characters", maxNameLen)})
		return
	}
	set, err := vectors.Read(bufio.NewReaderSize(src, 1<<20))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			s.fail(w, r, ophicleide.Errorf(ophicleide.ETOOLARGE, "the vectors file is larger than %d MiB", MaxImportBytes>>20))
			return
		}
		s.fail(w, r, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: "not a word2vec vectors file: " + err.Error()})
		return
	}
	now := time.Now().UTC()
	m := &ophicleide.Model{ID: uuid.NewString(), Name: name, Status: ophicleide.StatusReady, URLs: []string{},
		Params: ophicleide.Params{Dim: set.Dim()}, Stats: &ophicleide.Stats{VocabSize: set.Len()}, Created: now, Updated: now}
	if err := s.store.ImportModel(r.Context(), m, func(out io.Writer) error {
		bw := bufio.NewWriterSize(out, 1<<20)
		if err := vectors.WriteCompact(bw, set); err != nil {
			return err
		}
		return bw.Flush()
	}); err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/models/"+m.ID)
	s.json(w, http.StatusCreated, m)
}
