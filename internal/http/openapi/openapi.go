// Package openapi embeds the OpenAPI document of the REST API (served at
// /openapi.yaml, and under /api/ like the rest of the API). The document is
// the source of truth of the wire format: the HTTP adapter serves Spec as
// is, and tests validate real requests and responses against Load's result.
package openapi

import (
	"context"
	_ "embed"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
)

// Spec is the OpenAPI 3.0.3 document, in YAML.
//
//go:embed openapi.yaml
var Spec []byte

// Load parses and validates Spec. Each call returns a new document, which
// the caller may keep (kin-openapi documents are read-only once loaded).
func Load(ctx context.Context) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(Spec)
	if err != nil {
		return nil, fmt.Errorf("openapi: load: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapi: validate: %w", err)
	}
	return doc, nil
}
