package http

import (
	"errors"
	"io"
	"net/http"
	"path"
	"strings"

	"github.com/ophicleide/ophicleide"
)

// maxEvaluateBody bounds a POST /models/{id}/evaluate body: the file and
// room for a multipart envelope.
const maxEvaluateBody = ophicleide.MaxEvaluateBytes + 64<<10

// evaluateModel scores a ready model on the caller's evaluation file: the
// raw body (text/plain), or the "file" part of a multipart form (its file
// name names the result). ?kind=analogy|similarity, else detected.
func (s *Server) evaluateModel(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxEvaluateBody)
	req := ophicleide.EvaluateRequest{ModelID: r.PathValue("id"), Kind: r.URL.Query().Get("kind"), Name: "upload", File: r.Body}
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		mr, err := r.MultipartReader()
		if err != nil {
			return ophicleide.Errorf(ophicleide.EINVALID, "the multipart form cannot be read: %v", err)
		}
		for req.File = nil; req.File == nil; {
			p, err := mr.NextPart()
			if err != nil {
				if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
					return tooLargeEvaluation()
				}
				return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: `the form has no "file" part holding an analogy or word-pair file`}
			}
			switch p.FormName() {
			case "kind":
				b, _ := io.ReadAll(io.LimitReader(p, 100))
				req.Kind = string(b)
			case "file":
				req.File = p
				if name := strings.TrimSpace(path.Base(strings.ReplaceAll(p.FileName(), "\\", "/"))); name != "" && name != "." && name != "/" {
					req.Name = name
				}
			}
		}
	}
	if len(req.Name) > 200 {
		req.Name = req.Name[:200]
	}
	e, err := s.queries.Evaluate(r.Context(), req)
	if err != nil {
		if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
			return tooLargeEvaluation()
		}
		return err
	}
	s.json(w, http.StatusOK, e)
	return nil
}

func tooLargeEvaluation() error {
	return ophicleide.Errorf(ophicleide.ETOOLARGE, "the evaluation file is larger than %d MiB", ophicleide.MaxEvaluateBytes>>20)
}
