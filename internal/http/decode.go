package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/ophicleide/ophicleide"
)

// maxJSONBody limits a JSON request body.
const maxJSONBody = 1 << 20

// decode reads a JSON body strictly: a JSON content type, one object,
// known fields only. Its errors never name Go types.
func decode(r *http.Request, v any) error {
	if err := requireJSON(r); err != nil {
		return err
	}
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxJSONBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, "the request body", "")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return ophicleide.Errorf(ophicleide.ETOOLARGE, "the request body is larger than %d bytes", maxJSONBody)
		}
		return ophicleide.Errorf(ophicleide.EINVALID, "the request body holds more than one JSON value")
	}
	return nil
}

// pathID returns the {id} of the path; ids that are not UUIDs cannot
// exist, so they are a plain 404.
func pathID(r *http.Request, what string) (string, error) {
	id := r.PathValue("id")
	if _, err := uuid.Parse(id); err != nil {
		return "", ophicleide.Errorf(ophicleide.ENOTFOUND, "%s %q not found", what, id)
	}
	return id, nil
}

// countParam reads ?count= (default ophicleide.DefaultCount, 1 to
// ophicleide.MaxCount).
func countParam(r *http.Request) (int, error) {
	v := r.URL.Query().Get("count")
	if v == "" {
		return ophicleide.DefaultCount, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > ophicleide.MaxCount {
		return 0, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "count", Message: fmt.Sprintf("count must be a whole number between 1 and %d", ophicleide.MaxCount)}
	}
	return n, nil
}

// required reads a query parameter that must not be blank.
func required(r *http.Request, name string) (string, error) {
	v := strings.TrimSpace(r.URL.Query().Get(name))
	if v == "" {
		return "", &ophicleide.Error{Code: ophicleide.EINVALID, Field: name, Message: fmt.Sprintf("the query parameter %q is required", name)}
	}
	return v, nil
}

// splitList reads a comma-separated list, blanks left out.
func splitList(v string) []string {
	out := []string{}
	for _, w := range strings.Split(v, ",") {
		if w = strings.TrimSpace(w); w != "" {
			out = append(out, w)
		}
	}
	return out
}
