package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeSchemas writes, for every apiVersion/kind the renders use, the JSON
// schema kubeconform looks for (<kind><-group>-<version>.json), generated
// from the Kubernetes OpenAPI document as kubeconform's own
// openapi2jsonschema does for its strict schemas: the kind's definition
// with the definitions it references, objects closed to unknown fields,
// and int-or-string and quantity values accepting numbers as well.
func writeSchemas(dir string, renders []render) error {
	path, err := swaggerPath()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var swagger struct {
		Definitions map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal(data, &swagger); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defs := swagger.Definitions
	defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}}
	defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] = map[string]any{"oneOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "number"}}}
	for _, d := range defs {
		strict(d)
	}
	byGVK := map[string]string{} // apiVersion/kind -> definition name
	for name, d := range defs {
		gvks, _ := d["x-kubernetes-group-version-kind"].([]any)
		for _, g := range gvks {
			m := g.(map[string]any)
			apiVersion := m["version"].(string)
			if grp := m["group"].(string); grp != "" {
				apiVersion = grp + "/" + apiVersion
			}
			byGVK[apiVersion+"/"+m["kind"].(string)] = name
		}
	}

	seen := map[string]bool{}
	for _, r := range renders {
		for _, o := range r.objects {
			apiVersion, _ := o["apiVersion"].(string)
			kind, _ := o["kind"].(string)
			key := apiVersion + "/" + kind
			if seen[key] {
				continue
			}
			seen[key] = true
			var schema map[string]any
			if own, ok := openshiftSchemas[key]; ok {
				if err := json.Unmarshal([]byte(own), &schema); err != nil {
					return fmt.Errorf("schema of %s: %w", key, err)
				}
			} else if def, ok := byGVK[key]; ok {
				schema = map[string]any{"$ref": "#/definitions/" + def, "definitions": closure(defs, def)}
			} else {
				return fmt.Errorf("%s: %s %s has no schema in Kubernetes %s", r.name, apiVersion, kind, kubernetesVersion)
			}
			out, err := json.Marshal(schema)
			if err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(dir, schemaFile(apiVersion, kind)), out, 0o644); err != nil {
				return err
			}
		}
	}
	return nil
}

// schemaFile is kubeconform's file name for a kind: "deployment-apps-v1.json",
// "service-v1.json", "ingress-networking-v1.json".
func schemaFile(apiVersion, kind string) string {
	parts := strings.Split(apiVersion, "/")
	suffix := "-" + strings.ToLower(strings.Split(parts[0], ".")[0])
	if len(parts) > 1 {
		suffix += "-" + strings.ToLower(parts[1])
	}
	return strings.ToLower(kind) + suffix + ".json"
}

// strict closes every object schema that lists its properties to unknown
// ones (unless Kubernetes keeps unknown fields there), in place.
func strict(v any) {
	switch x := v.(type) {
	case map[string]any:
		if x["format"] == "int-or-string" {
			delete(x, "type")
			delete(x, "format")
			x["oneOf"] = []any{map[string]any{"type": "string"}, map[string]any{"type": "integer"}}
		}
		if _, ok := x["properties"]; ok {
			if _, set := x["additionalProperties"]; !set && x["x-kubernetes-preserve-unknown-fields"] != true {
				x["additionalProperties"] = false
			}
		}
		for _, e := range x {
			strict(e)
		}
	case []any:
		for _, e := range x {
			strict(e)
		}
	}
}

// closure returns the definitions reachable from root by $ref.
func closure(defs map[string]map[string]any, root string) map[string]any {
	out := map[string]any{}
	var visit func(v any)
	visit = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				name := strings.TrimPrefix(ref, "#/definitions/")
				if _, done := out[name]; !done {
					out[name] = defs[name]
					visit(defs[name])
				}
			}
			for _, e := range x {
				visit(e)
			}
		case []any:
			for _, e := range x {
				visit(e)
			}
		}
	}
	out[root] = defs[root]
	visit(defs[root])
	return out
}

// openshiftSchemas are OpenShift kinds that Kubernetes' document lacks,
// written here from OpenShift's API reference: the fields our manifests
// may use, closed to others.
var openshiftSchemas = map[string]string{
	"route.openshift.io/v1/Route": `{
  "type": "object", "required": ["apiVersion", "kind", "metadata", "spec"], "additionalProperties": false,
  "properties": {
    "apiVersion": {"const": "route.openshift.io/v1"}, "kind": {"const": "Route"},
    "metadata": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string", "minLength": 1}, "labels": {"type": "object", "additionalProperties": {"type": "string"}}, "annotations": {"type": "object", "additionalProperties": {"type": "string"}}, "namespace": {"type": "string"}}, "additionalProperties": false},
    "spec": {"type": "object", "required": ["to"], "additionalProperties": false, "properties": {
      "host": {"type": "string"}, "path": {"type": "string"}, "subdomain": {"type": "string"},
      "to": {"type": "object", "required": ["kind", "name"], "additionalProperties": false, "properties": {"kind": {"enum": ["Service"]}, "name": {"type": "string", "minLength": 1}, "weight": {"type": "integer", "minimum": 0, "maximum": 256}}},
      "port": {"type": "object", "required": ["targetPort"], "additionalProperties": false, "properties": {"targetPort": {"oneOf": [{"type": "string"}, {"type": "integer"}]}}},
      "tls": {"type": "object", "required": ["termination"], "additionalProperties": false, "properties": {"termination": {"enum": ["edge", "passthrough", "reencrypt"]}, "insecureEdgeTerminationPolicy": {"enum": ["Allow", "Disable", "Redirect", ""]}, "certificate": {"type": "string"}, "key": {"type": "string"}, "caCertificate": {"type": "string"}}},
      "wildcardPolicy": {"enum": ["None", "Subdomain"]}
    }}
  }
}`,
	"template.openshift.io/v1/Template": `{
  "type": "object", "required": ["apiVersion", "kind", "metadata", "objects"], "additionalProperties": false,
  "properties": {
    "apiVersion": {"const": "template.openshift.io/v1"}, "kind": {"const": "Template"},
    "metadata": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}, "annotations": {"type": "object", "additionalProperties": {"type": "string"}}, "labels": {"type": "object", "additionalProperties": {"type": "string"}}}, "additionalProperties": false},
    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    "message": {"type": "string"},
    "parameters": {"type": "array", "items": {"type": "object", "required": ["name"], "additionalProperties": false, "properties": {
      "name": {"type": "string", "pattern": "^[A-Z0-9_]+$"}, "displayName": {"type": "string"}, "description": {"type": "string"},
      "value": {"type": "string"}, "generate": {"enum": ["expression"]}, "from": {"type": "string"}, "required": {"type": "boolean"}}}},
    "objects": {"type": "array", "items": {"type": "object", "required": ["apiVersion", "kind"]}}
  }
}`,
}
