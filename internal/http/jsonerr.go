package http

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/ophicleide/ophicleide"
)

// jsonError turns an error of encoding/json into a 400 (or 413) whose
// message speaks JSON, never Go: encoding/json's own messages name Go
// types ("cannot unmarshal array into Go value of type
// http.createModelRequest"). what names the value read ("the request
// body", "params"); field, if not empty, prefixes the field names.
func jsonError(err error, what, field string) error {
	var mbe *http.MaxBytesError
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return ophicleide.Errorf(ophicleide.ETOOLARGE, "%s is larger than %d bytes", what, mbe.Limit)
	case errors.As(err, &se):
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field,
			Message: fmt.Sprintf("%s is not valid JSON: %s (at byte %d)", what, strings.TrimPrefix(se.Error(), "json: "), se.Offset)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field, Message: what + " is not valid JSON: it ends too soon"}
	case errors.Is(err, io.EOF):
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field, Message: what + " is empty; send a JSON object"}
	case errors.As(err, &te):
		name := te.Field
		if field != "" {
			name = strings.Trim(field+"."+name, ".")
		}
		want, got := jsonType(te.Type), jsonValue(te.Value)
		if name == "" {
			return &ophicleide.Error{Code: ophicleide.EINVALID, Message: fmt.Sprintf("%s must be a JSON %s (got %s)", what, want, got)}
		}
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: name,
			Message: fmt.Sprintf("field %q must be of type %s (got %s)", name, want, got)}
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: strings.TrimSuffix(field, "."),
			Message: fmt.Sprintf("%s has an unknown field %s", what, f)}
	}
	return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field, Message: what + " cannot be read as JSON", Err: err}
}

// jsonType names the JSON type that decodes into t.
func jsonType(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.String:
		return "string"
	case reflect.Slice, reflect.Array:
		if e := jsonType(t.Elem()); e != "value" {
			return "array of " + e + "s"
		}
		return "array"
	case reflect.Map, reflect.Struct:
		return "object"
	}
	return "value"
}

// jsonValue names what encoding/json found ("bool", "number 0.5", ...).
func jsonValue(v string) string {
	switch {
	case v == "bool":
		return "boolean"
	case v == "":
		return "another type"
	}
	return v
}
