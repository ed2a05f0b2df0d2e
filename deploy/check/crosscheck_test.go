package main

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// TestKeysRule: the keys cross-check refuses a server container that
// listens beyond loopback without the keys Secret mounted where the
// binary reads it, or with the file mounted by subPath, and accepts the
// directory mount, an explicit --no-auth or OPH_NO_AUTH=true, and a
// loopback address.
func TestKeysRule(t *testing.T) {
	const secret = `{kind: Secret, metadata: {name: k}, stringData: {keys: "a admin x"}}`
	for _, tc := range []struct {
		name, container, volumes, want string
	}{
		{"directory mount", `{args: [api], env: [{name: REST_ADDR, value: 0.0.0.0}], volumeMounts: [{name: keys, mountPath: /etc/ophicleide}]}`,
			`[{name: keys, secret: {secretName: k, items: [{key: keys, path: keys}]}}]`, ""},
		{"directory mount, no items", `{args: [api, --addr, "0.0.0.0:8080"], volumeMounts: [{name: keys, mountPath: /etc/ophicleide}]}`,
			`[{name: keys, secret: {secretName: k}}]`, ""},
		{"nothing mounted", `{args: [worker], env: [{name: REST_ADDR, value: 0.0.0.0}]}`, `[]`, "without API keys"},
		{"subPath", `{args: [api], env: [{name: REST_ADDR, value: 0.0.0.0}], volumeMounts: [{name: keys, mountPath: /etc/ophicleide/keys, subPath: keys}]}`,
			`[{name: keys, secret: {secretName: k}}]`, "subPath"},
		{"wrong file name", `{args: [api], env: [{name: REST_ADDR, value: 0.0.0.0}], volumeMounts: [{name: keys, mountPath: /etc/ophicleide}]}`,
			`[{name: keys, secret: {secretName: k, items: [{key: keys, path: api-keys}]}}]`, "has no file keys"},
		{"missing Secret", `{args: [api], env: [{name: REST_ADDR, value: 0.0.0.0}], volumeMounts: [{name: keys, mountPath: /etc/ophicleide}]}`,
			`[{name: keys, secret: {secretName: nope, items: [{key: keys, path: keys}]}}]`, "does not exist"},
		{"another file by --keys", `{args: [read-api, --keys, /run/keys/file, --addr, ":8080"], volumeMounts: [{name: keys, mountPath: /etc/ophicleide}]}`,
			`[{name: keys, secret: {secretName: k}}]`, "without API keys"},
		{"--no-auth", `{args: [api, --no-auth], env: [{name: REST_ADDR, value: 0.0.0.0}]}`, `[]`, ""},
		{"OPH_NO_AUTH", `{args: [api], env: [{name: REST_ADDR, value: 0.0.0.0}, {name: OPH_NO_AUTH, value: "true"}]}`, `[]`, ""},
		{"loopback", `{args: [api]}`, `[]`, ""},
	} {
		var ct, sec object
		var vl []any
		if err := yaml.Unmarshal([]byte(tc.container), &ct); err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal([]byte(tc.volumes), &vl); err != nil {
			t.Fatal(err)
		}
		yaml.Unmarshal([]byte(secret), &sec)
		vols := map[string]object{}
		for _, v := range vl {
			vols[str(get(v, "name"))] = v.(object)
		}
		env := map[string]string{}
		for _, e := range list(ct["env"]) {
			env[str(get(e, "name"))] = str(get(e, "value"))
		}
		c := &checker{render: render{name: "test", objects: []object{sec}}}
		c.keys("container", ct, list(ct["args"]), env, vols)
		got := strings.Join(c.problems, "\n")
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: problems %q, want one about %q", tc.name, got, tc.want)
		}
	}
}
