package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// facts is what the binary reads and serves, as it describes itself.
type facts struct {
	env   map[string]bool            // environment variables read
	flags map[string]map[string]bool // role -> flag names
	paths map[string]map[string]bool // role -> HTTP paths served
}

// leftOut are variables the binary reads that the manifests deliberately
// do not set, with the reason.
var leftOut = map[string]string{
	"MONGO":                    "an alias of OPH_MONGO_URL, which the manifests set",
	"OPHICLEIDE_DATA_DIR":      "an alias of OPH_DATA_DIR",
	"OPHICLEIDE_TRAINING_ADDR": "an alias of OPH_TRAINING_ADDR",
	"OPHICLEIDE_TRAINING_PORT": "an alias of OPH_TRAINING_PORT",
	"OPHICLEIDE_WEB_PORT":      "an alias of OPH_WEB_PORT",
	"OPH_WEB_PORT":             "the web containers get --addr 0.0.0.0:8080 (the port alone would bind 127.0.0.1)",
	"OPHICLEIDE_SERVER":        "read by the client commands, not by a server role",
	"OPHICLEIDE_TOKEN":         "read by the client commands, not by a server role",
	"OPH_KEYS_FILE":            "the default, /etc/ophicleide/keys, is where the keys Secret is mounted",
	"OPH_PUBLIC_READ":          "off: every caller needs a key (set it for a public read-only demo)",
	"OPH_NO_AUTH":              "never: the api, read-api, worker and serve pods have the keys Secret mounted",
	"OPH_METRICS_AUTH":         "off: Prometheus scrapes /metrics without a key (inside the cluster)",
	"OPH_CORS_ORIGINS":         "CORS stays off: the page comes from the same origin as its API",
	"MONGO_SECRET_DIR":         "the default, /etc/mongo-secret, is where the Secret is mounted",
	"MONGO_USERNAME_FILE":      "the Secret's files are read from /etc/mongo-secret",
	"MONGO_PASSWORD_FILE":      "the Secret's files are read from /etc/mongo-secret",
	"OPH_DATA_DIR":             "set only where the embedded store is used (dev); production uses MongoDB",
	"OPH_MAX_JOB_MEMORY":       "the default, auto, reads the container's memory limit (cgroup), which the manifests set",
	"OPH_ALLOWED_ORIGINS":      "the page comes from the same origin as its API (the web role); no other site's pages may write",
	"OPH_PUBLIC_HOSTS":         "only used with a loopback --addr; the containers listen on 0.0.0.0",
	"OPH_SPARK_URL":            "set only where a Spark is configured (chart spark.*, the overlay's settings or components/spark, the Template's SPARK_URL); unset, the api refuses \"spark\" models",
	"OPH_MAX_IMPORT_SIZE":      "the default, 10 GiB, holds a 3M x 300 word2vec text file; imports stream, so it bounds disk and time, not memory",
	"OPH_TMP_DIR":              "with MongoDB a worker spills a corpus too big for its memory limit to /tmp, an emptyDir in every pod (its size counts in the pod's ephemeral storage)",
	"OPH_VECTOR_CACHE_DIR":     "not set: api replicas read vectors from GridFS on a model's first query; set it on an emptyDir or a local volume to keep copies on the replica's disk",
	"OPH_VECTOR_CACHE_SIZE":    "only with OPH_VECTOR_CACHE_DIR (default 16 GiB)",
	"OPH_SPARK_SCHEMES":        "empty by default (Spark reads no URL itself); set with a Spark that has the connectors (chart spark.schemes, Template SPARK_SCHEMES)",
}

// externalSecrets are Secrets a render refers to but expects to exist
// already (the chart's store.mongodb.auth.existingSecret and
// auth.existingSecret and spark.urlSecret; the production overlay's keys,
// which the operator creates: deploy/README.md).
var externalSecrets = map[string]bool{"corp-mongo": true, "corp-keys": true, "ophicleide-keys": true, "corp-spark": true}

// secretDir is where the binary reads MongoDB credentials by default.
const secretDir = "/etc/mongo-secret"

// defaultKeysFile is where the binary reads the API keys when neither
// --keys nor OPH_KEYS_FILE says otherwise. This check does not depend on
// `describe` for it: it reads the container's own args and env.
const defaultKeysFile = "/etc/ophicleide/keys"

// binaryFacts asks the binary what it reads and serves: `ophicleide
// describe --json`, run from the repository's source.
func binaryFacts(root string) (*facts, error) {
	cmd := exec.Command("go", "run", "./cmd/ophicleide", "describe", "--json")
	cmd.Dir = root
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go run ./cmd/ophicleide describe --json: %w", err)
	}
	var d struct {
		Env   []string
		Roles map[string]struct {
			Flags []struct{ Name string }
			Paths map[string][]string
		}
	}
	if err := json.Unmarshal(out, &d); err != nil {
		return nil, fmt.Errorf("ophicleide describe --json: %w", err)
	}
	f := &facts{env: map[string]bool{}, flags: map[string]map[string]bool{}, paths: map[string]map[string]bool{}}
	for _, name := range d.Env {
		f.env[name] = true
	}
	for role, r := range d.Roles {
		f.flags[role], f.paths[role] = map[string]bool{}, map[string]bool{}
		for _, fl := range r.Flags {
			f.flags[role][fl.Name] = true
		}
		for path := range r.Paths {
			f.paths[role][path] = true
		}
	}
	for _, role := range []string{"serve", "api", "worker", "read-api", "web"} {
		if len(f.flags[role]) == 0 || len(f.paths[role]) == 0 {
			return nil, fmt.Errorf("ophicleide describe --json: no flags or no paths for the %s role", role)
		}
	}
	if len(f.env) == 0 {
		return nil, fmt.Errorf("ophicleide describe --json: no environment variables")
	}
	return f, nil
}

// checker runs the cross-checks of one render.
type checker struct {
	render   render
	bin      *facts
	checks   int
	problems []string
	envSet   map[string]bool
	spark    sparkFacts
}

func (c *checker) check(ok bool, format string, args ...any) {
	c.checks++
	if !ok {
		c.problems = append(c.problems, c.render.name+": "+fmt.Sprintf(format, args...))
	}
}

func (c *checker) find(kind, name string) object {
	for _, o := range c.render.objects {
		if o["kind"] == kind && nameOf(o) == name {
			return o
		}
	}
	return nil
}

func nameOf(o object) string { return str(get(o, "metadata", "name")) }

// get walks nested maps.
func get(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func str(v any) string { s, _ := v.(string); return s }

func list(v any) []any { l, _ := v.([]any); return l }

func (c *checker) run() {
	c.envSet = map[string]bool{}
	c.spark = sparkFacts{}
	for _, o := range c.render.objects {
		switch o["kind"] {
		case "Deployment", "StatefulSet":
			c.workload(o)
		case "Service":
			c.service(o)
		case "HorizontalPodAutoscaler":
			ref := get(o, "spec", "scaleTargetRef")
			c.check(c.find(str(get(ref, "kind")), str(get(ref, "name"))) != nil, "HPA %s scales %v, which does not exist", nameOf(o), ref)
		case "Ingress":
			for _, rule := range list(get(o, "spec", "rules")) {
				for _, p := range list(get(rule, "http", "paths")) {
					svc := get(p, "backend", "service")
					c.servicePort(str(get(svc, "name")), get(svc, "port", "name"), "Ingress "+nameOf(o))
				}
			}
		case "Route":
			c.check(str(get(o, "spec", "to", "kind")) == "Service", "Route %s does not point at a Service", nameOf(o))
			c.servicePort(str(get(o, "spec", "to", "name")), get(o, "spec", "port", "targetPort"), "Route "+nameOf(o))
		}
	}
	c.sparkWiring()
	// Every variable set is one the binary reads; every one it reads is
	// set somewhere or deliberately left out.
	for name := range c.envSet {
		c.check(c.bin.env[name], "environment variable %s is set but the binary does not read it", name)
	}
	if c.render.name == "kustomize/production" || c.render.name == "helm/defaults" {
		for name := range c.bin.env {
			_, out := leftOut[name]
			c.check(c.envSet[name] || out, "the binary reads %s, which is neither set nor in the left-out list", name)
		}
	}
}

// servicePort checks that service exists and has a port named (or
// numbered) port.
func (c *checker) servicePort(service string, port any, from string) {
	svc := c.find("Service", service)
	c.check(svc != nil, "%s points at Service %q, which does not exist", from, service)
	if svc == nil {
		return
	}
	found := false
	for _, p := range list(get(svc, "spec", "ports")) {
		if get(p, "name") == port || fmt.Sprint(get(p, "port")) == fmt.Sprint(port) || fmt.Sprint(get(p, "targetPort")) == fmt.Sprint(port) {
			found = true
		}
	}
	c.check(found, "%s uses port %v of Service %s, which has no such port", from, port, service)
}

func (c *checker) service(o object) {
	sel, _ := get(o, "spec", "selector").(map[string]any)
	c.check(len(sel) > 0, "Service %s has no selector", nameOf(o))
	var pods []object
	for _, w := range c.render.objects {
		if w["kind"] != "Deployment" && w["kind"] != "StatefulSet" {
			continue
		}
		labels, _ := get(w, "spec", "template", "metadata", "labels").(map[string]any)
		if subset(sel, labels) {
			pods = append(pods, w)
		}
	}
	c.check(len(pods) > 0, "Service %s selects no pods (selector %v)", nameOf(o), sel)
	for _, p := range list(get(o, "spec", "ports")) {
		target := get(p, "targetPort")
		ok := len(pods) > 0
		for _, w := range pods {
			ok = ok && containerPort(w, target)
		}
		c.check(ok, "Service %s targets port %v, which its pods do not declare", nameOf(o), target)
	}
}

func containerPort(w object, port any) bool {
	for _, ct := range list(get(w, "spec", "template", "spec", "containers")) {
		for _, p := range list(get(ct, "ports")) {
			if get(p, "name") == port || fmt.Sprint(get(p, "containerPort")) == fmt.Sprint(port) {
				return true
			}
		}
	}
	return false
}

func subset(sel, labels map[string]any) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func (c *checker) workload(o object) {
	id := fmt.Sprintf("%s %s", o["kind"], nameOf(o))
	sel, _ := get(o, "spec", "selector", "matchLabels").(map[string]any)
	labels, _ := get(o, "spec", "template", "metadata", "labels").(map[string]any)
	c.check(len(sel) > 0 && subset(sel, labels), "%s: selector %v does not match its pod labels %v", id, sel, labels)
	pod, _ := get(o, "spec", "template", "spec").(map[string]any)
	c.check(get(pod, "securityContext", "runAsNonRoot") == true, "%s: the pod may run as root (securityContext.runAsNonRoot)", id)
	grace, _ := get(pod, "terminationGracePeriodSeconds").(float64)
	c.check(grace >= 25, "%s: terminationGracePeriodSeconds %v is shorter than the binary's 20 s shutdown", id, grace)
	volumes := map[string]object{}
	for _, v := range list(get(pod, "volumes")) {
		volumes[str(get(v, "name"))] = v.(object)
	}
	for _, t := range list(get(o, "spec", "volumeClaimTemplates")) { // StatefulSet
		volumes[str(get(t, "metadata", "name"))] = object{"persistentVolumeClaim": t}
	}
	for _, ctv := range list(get(pod, "containers")) {
		ct := ctv.(object)
		cid := id + " container " + str(ct["name"])
		for _, k := range []string{"requests", "limits"} {
			for _, r := range []string{"cpu", "memory"} {
				c.check(get(ct, "resources", k, r) != nil, "%s: no resources.%s.%s", cid, k, r)
			}
		}
		c.check(get(ct, "securityContext", "allowPrivilegeEscalation") == false, "%s: privilege escalation allowed", cid)
		c.check(get(ct, "securityContext", "readOnlyRootFilesystem") == true, "%s: root filesystem writable", cid)
		c.check(slices.Contains(list(get(ct, "securityContext", "capabilities", "drop")), any("ALL")), "%s: capabilities not dropped", cid)
		mounts := map[string]string{} // path -> volume
		for _, m := range list(get(ct, "volumeMounts")) {
			mounts[str(get(m, "mountPath"))] = str(get(m, "name"))
			c.check(volumes[str(get(m, "name"))] != nil, "%s: mounts volume %q, which the pod does not have", cid, get(m, "name"))
		}
		for _, probe := range []string{"livenessProbe", "readinessProbe"} {
			p := get(ct, probe)
			c.check(p != nil, "%s: no %s", cid, probe)
			if port := get(p, "httpGet", "port"); port != nil {
				c.check(containerPort(o, port), "%s: %s on port %v, which the container does not declare", cid, probe, port)
			}
			if port := get(p, "tcpSocket", "port"); port != nil {
				c.check(containerPort(o, port), "%s: %s on port %v, which the container does not declare", cid, probe, port)
			}
		}
		if sparkServer(ct) {
			c.sparkServer(o, cid, ct, mounts, volumes)
			continue
		}
		if strings.Contains(str(ct["image"]), "mongo") {
			c.mongoContainer(cid, ct, mounts, volumes)
			continue
		}
		c.ourContainer(o, cid, ct, mounts, volumes)
	}
}

func (c *checker) mongoContainer(cid string, ct object, mounts map[string]string, volumes map[string]object) {
	for _, e := range list(ct["env"]) {
		if v := str(get(e, "value")); strings.HasSuffix(str(get(e, "name")), "_FILE") {
			dir := filepath.Dir(v)
			c.check(mounts[dir] != "" && get(volumes[mounts[dir]], "secret") != nil, "%s: %s reads %s, which is not in a mounted Secret", cid, get(e, "name"), v)
		}
	}
}

// ourContainer checks a container of the Ophicleide image against what
// the binary reads and serves.
func (c *checker) ourContainer(w object, cid string, ct object, mounts map[string]string, volumes map[string]object) {
	args := list(ct["args"])
	c.check(len(args) > 0, "%s: no role in args", cid)
	if len(args) == 0 {
		return
	}
	role := fmt.Sprint(args[0])
	flags, known := c.bin.flags[role]
	c.check(known, "%s: %q is not a server role of the binary", cid, role)
	for _, a := range args[1:] {
		if s := fmt.Sprint(a); strings.HasPrefix(s, "-") {
			name, _, _ := strings.Cut(strings.TrimLeft(s, "-"), "=")
			c.check(flags[name], "%s: the %s role has no flag --%s", cid, role, name)
		}
	}

	// envFrom first: a variable of the container's own env wins over a
	// ConfigMap's, as in the kubelet.
	env := map[string]string{}
	for _, ef := range list(ct["envFrom"]) {
		cm := c.find("ConfigMap", str(get(ef, "configMapRef", "name")))
		c.check(cm != nil, "%s: envFrom ConfigMap %v does not exist", cid, get(ef, "configMapRef", "name"))
		data, _ := get(cm, "data").(map[string]any)
		for k, v := range data {
			env[k] = fmt.Sprint(v)
		}
	}
	refs := map[string]string{} // variable -> "Secret NAME key KEY"
	for _, e := range list(ct["env"]) {
		n := str(get(e, "name"))
		env[n] = str(get(e, "value"))
		delete(refs, n)
		if ref := get(e, "valueFrom", "secretKeyRef"); ref != nil {
			refs[n] = c.secretKey(cid, n, str(get(ref, "name")), str(get(ref, "key")))
		}
	}
	for k := range env {
		c.envSet[k] = true
	}

	paths := c.bin.paths[role]
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		path := str(get(ct, probe, "httpGet", "path"))
		c.check(paths[path], "%s: %s path %q is not served by the %s role", cid, probe, path, role)
	}
	ann, _ := get(w, "spec", "template", "metadata", "annotations").(map[string]any)
	if ann["prometheus.io/scrape"] == "true" {
		c.check(paths[str(ann["prometheus.io/path"])], "%s: Prometheus scrapes %v, which the %s role does not serve", cid, ann["prometheus.io/path"], role)
		c.check(containerPort(w, ann["prometheus.io/port"]), "%s: Prometheus scrapes port %v, which the container does not declare", cid, ann["prometheus.io/port"])
	} else {
		c.check(false, "%s: no Prometheus scrape annotations", cid)
	}
	if role == "web" {
		return
	}
	c.check(env["REST_ADDR"] == "0.0.0.0" || slices.Contains(args, any("--addr")), "%s: listens on 127.0.0.1 only (set REST_ADDR=0.0.0.0)", cid)
	if mongoURL := env["OPH_MONGO_URL"] + env["MONGO"]; mongoURL != "" {
		vol := volumes[mounts[secretDir]]
		c.check(vol != nil && get(vol, "secret") != nil, "%s: uses MongoDB but has no Secret mounted at %s, where the binary reads the credentials", cid, secretDir)
		if name := str(get(vol, "secret", "secretName")); name != "" && !externalSecrets[name] {
			c.check(c.find("Secret", name) != nil, "%s: mounts Secret %q, which does not exist", cid, name)
		}
	} else {
		dir := env["OPH_DATA_DIR"]
		c.check(dir != "" && mounts[dir] != "" && get(volumes[mounts[dir]], "persistentVolumeClaim") != nil,
			"%s: the embedded store's directory %q is not on a PersistentVolumeClaim", cid, dir)
	}
	if role == "serve" || role == "api" {
		c.check(mounts["/tmp"] != "", "%s: uploads spool to /tmp, which is read-only", cid)
	}
	c.keys(cid, ct, args, env, volumes)
	if role == "api" || role == "worker" || role == "serve" || role == "read-api" {
		c.sparkClient(w, cid, role, args, env, refs)
	}
}

// secretKey checks that an env var's secretKeyRef names a Secret of the
// render (or one the operator creates) with that key, and returns the
// reference as text.
func (c *checker) secretKey(cid, env, name, key string) string {
	secret := c.find("Secret", name)
	c.check(secret != nil || externalSecrets[name], "%s: %s comes from Secret %q, which does not exist", cid, env, name)
	if secret != nil {
		c.check(get(secret, "data", key) != nil || get(secret, "stringData", key) != nil, "%s: %s comes from key %q of Secret %q, which has no such key", cid, env, key, name)
	}
	return fmt.Sprintf("Secret %s key %s", name, key)
}

// flagValue returns the value of --name (as "--name V" or "--name=V") in
// args, and whether the flag is there.
func flagValue(args []any, name string) (string, bool) {
	for i, a := range args {
		s := strings.TrimLeft(fmt.Sprint(a), "-")
		if s == name {
			if i+1 < len(args) {
				return fmt.Sprint(args[i+1]), true
			}
			return "", true
		}
		if v, ok := strings.CutPrefix(s, name+"="); ok {
			return v, true
		}
	}
	return "", false
}

// loopback reports whether a listen host is a loopback one.
func loopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "::1" || host == "[::1]"
}

// keys checks that a server container listening beyond loopback has its
// API keys file in a mounted Secret (a server without keys there refuses
// to start), or says --no-auth (OPH_NO_AUTH=true) explicitly. The file
// must come from a mounted directory, not a subPath mount: subPath mounts
// do not receive a rotated Secret.
func (c *checker) keys(cid string, ct object, args []any, env map[string]string, volumes map[string]object) {
	host, set := env["REST_ADDR"], env["REST_ADDR"] != ""
	if addr, ok := flagValue(args, "addr"); ok {
		host, set = addr, true
		if i := strings.LastIndex(addr, ":"); i >= 0 {
			host = addr[:i] // "" for ":8080": every interface
		}
	}
	if !set {
		host = "127.0.0.1" // the binary's default
	}
	if set && host == "" {
		host = "every interface"
	}
	if loopback(host) {
		return
	}
	if v, ok := flagValue(args, "no-auth"); (ok && v != "false") || env["OPH_NO_AUTH"] == "true" {
		return
	}
	file := defaultKeysFile
	if v := env["OPH_KEYS_FILE"]; v != "" {
		file = v
	}
	if v, ok := flagValue(args, "keys"); ok {
		file = v
	}
	dir, base := filepath.Dir(file), filepath.Base(file)
	var found object
	for _, m := range list(ct["volumeMounts"]) {
		path := str(get(m, "mountPath"))
		if path == file && get(volumes[str(get(m, "name"))], "secret") != nil {
			c.check(str(get(m, "subPath")) == "", "%s: the keys file %s is a subPath mount, which does not receive a rotated Secret: mount the Secret at %s", cid, file, dir)
			found = volumes[str(get(m, "name"))]
		}
		if path == dir {
			found = volumes[str(get(m, "name"))]
		}
	}
	c.check(found != nil && get(found, "secret") != nil, "%s: listens on %s without API keys: mount the keys Secret at %s (the file %s) or say --no-auth", cid, host, dir, base)
	if found == nil || get(found, "secret") == nil {
		return
	}
	name := str(get(found, "secret", "secretName"))
	secret := c.find("Secret", name)
	c.check(secret != nil || externalSecrets[name], "%s: mounts the keys Secret %q, which does not exist", cid, name)
	// The file name in the mounted directory: an item's path, or a key of
	// the Secret when it has no items.
	items := list(get(found, "secret", "items"))
	has := false
	for _, it := range items {
		has = has || str(get(it, "path")) == base
	}
	if len(items) == 0 {
		has = externalSecrets[name] || get(secret, "data", base) != nil || get(secret, "stringData", base) != nil
	}
	c.check(has, "%s: the keys Secret %q mounted at %s has no file %s", cid, name, dir, base)
	if secret != nil {
		for _, it := range items {
			if str(get(it, "path")) == base {
				k := str(get(it, "key"))
				c.check(get(secret, "data", k) != nil || get(secret, "stringData", k) != nil, "%s: the keys Secret %q has no key %q", cid, name, k)
			}
		}
	}
}
