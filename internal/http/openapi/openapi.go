// Package openapi embeds the OpenAPI document of the REST API (served at
// /openapi.yaml, and under /api/ like the rest of the API). The document is
// the source of truth of the wire format: the HTTP adapter serves Spec as
// is, and tests validate real requests and responses against it (package
// spectest parses it; it is kept out of this package so that the server
// binary does not link the OpenAPI toolkit, whose initialisation alone
// took 13 ms of every start).
package openapi

import _ "embed"

// Spec is the OpenAPI 3.0.3 document, in YAML.
//
//go:embed openapi.yaml
var Spec []byte
