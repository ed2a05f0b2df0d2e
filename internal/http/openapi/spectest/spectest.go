// Package spectest parses the API's OpenAPI document for tests that
// validate requests and responses against it.
package spectest

import (
	"context"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/ophicleide/ophicleide/internal/http/openapi"
)

// Load parses and validates openapi.Spec. Each call returns a new
// document, which the caller may keep (kin-openapi documents are
// read-only once loaded).
func Load(ctx context.Context) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.Context = ctx
	doc, err := loader.LoadFromData(openapi.Spec)
	if err != nil {
		return nil, fmt.Errorf("openapi: load: %w", err)
	}
	if err := doc.Validate(ctx); err != nil {
		return nil, fmt.Errorf("openapi: validate: %w", err)
	}
	return doc, nil
}
