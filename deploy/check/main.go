// Command check renders every way of deploying Ophicleide (the kustomize
// overlays, the Helm chart with several sets of values, the OpenShift
// Template) and validates the result offline, without a cluster:
//
//   - helm lint --strict on the chart;
//   - every object against the Kubernetes OpenAPI schemas (kubeconform, in
//     strict mode: unknown fields are errors), the JSON schemas generated
//     from api/openapi-spec/swagger.json of the k8s.io/kubernetes module
//     (from the Go module proxy); OpenShift's Route and Template against
//     small schemas of our own (theirs are not in that document);
//   - what a schema cannot see (crosscheck.go): selectors match pod labels,
//     Services, Ingresses, Routes and autoscalers point at what exists,
//     every environment variable the binary reads is set or deliberately
//     left out and every one set is read, probe and metrics paths and
//     ports exist in the role the container runs, the MongoDB Secret is
//     mounted where the binary reads it, every api, read-api, worker and
//     serve container that listens beyond loopback has the API keys
//     Secret mounted where the binary reads them (or says --no-auth), and
//     each container is non-root with a read-only root filesystem and
//     resources; a Spark Connect server (spark.go) is started in the
//     foreground from a pinned image, probed on its gRPC port, fits its
//     limits and its UID rule, is reached through its Service by the
//     OPH_SPARK_URL of every api and worker and by nothing else (its
//     NetworkPolicy), and OPH_SPARK_SCHEMES comes only with a Spark;
//   - the kustomize overlays also with components/spark, and chart values
//     the chart must refuse.
//
// It ends with one summary line and exits 1 on any problem.
//
//	go run . -root ../..        (make deploy-check)
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/yannh/kubeconform/pkg/resource"
	"github.com/yannh/kubeconform/pkg/validator"
	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kubernetesVersion is the Kubernetes release whose schemas validate.
const kubernetesVersion = "v1.37.2"

// object is one rendered Kubernetes object.
type object = map[string]any

// render is one way of deploying: a name and its objects.
type render struct {
	name    string
	objects []object
}

func main() {
	root := flag.String("root", "../..", "repository root")
	flag.Parse()
	if err := run(*root); err != nil {
		fmt.Fprintln(os.Stderr, "deploy-check: FAILED:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	deploy := filepath.Join(root, "deploy")
	var renders []render
	for _, overlay := range []string{"dev", "production", "openshift"} {
		objs, err := kustomize(filepath.Join(deploy, "kustomize", "overlays", overlay))
		if err != nil {
			return fmt.Errorf("kustomize %s: %w", overlay, err)
		}
		renders = append(renders, render{"kustomize/" + overlay, objs})
	}
	for _, k := range withComponents {
		objs, err := kustomizeWith(filepath.Join(deploy, "kustomize"), k.overlay, k.components)
		if err != nil {
			return fmt.Errorf("kustomize %s: %w", k.name, err)
		}
		renders = append(renders, render{"kustomize/" + k.name, objs})
	}

	chart := filepath.Join(deploy, "helm", "ophicleide")
	lint := action.NewLint()
	lint.Strict = true
	if res := lint.Run([]string{chart}, nil); len(res.Errors) > 0 {
		return fmt.Errorf("helm lint --strict: %v", res.Errors)
	}
	for _, v := range chartValues {
		objs, err := helmTemplate(chart, v.values)
		if err != nil {
			return fmt.Errorf("helm template (%s): %w", v.name, err)
		}
		renders = append(renders, render{"helm/" + v.name, objs})
	}
	for _, v := range badChartValues {
		_, err := helmTemplate(chart, v.values)
		if err == nil || !strings.Contains(err.Error(), v.want) {
			return fmt.Errorf("helm template (%s): got error %v, want one saying %q", v.name, err, v.want)
		}
	}

	objs, err := processTemplate(filepath.Join(deploy, "openshift", "template.yaml"), map[string]string{
		"MONGODB_URL": "mongodb://mongodb:27017/ophicleide", "MONGODB_USERNAME": "oph", "MONGODB_PASSWORD": "secret",
	})
	if err != nil {
		return fmt.Errorf("openshift template: %w", err)
	}
	renders = append(renders, render{"openshift/template", objs})

	schemas, err := os.MkdirTemp("", "ophicleide-schemas-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(schemas)
	if err := writeSchemas(schemas, renders); err != nil {
		return err
	}
	v, err := validator.New([]string{filepath.Join(schemas, "{{ .ResourceKind }}{{ .KindSuffix }}.json")},
		validator.Opts{Strict: true, KubernetesVersion: kubernetesVersion})
	if err != nil {
		return err
	}

	bin, err := binaryFacts(root)
	if err != nil {
		return err
	}
	problems, nChecks := checkDockerfile(filepath.Join(deploy, "Dockerfile"), bin)
	nObjects := 0
	for _, r := range renders {
		for _, o := range r.objects {
			nObjects++
			raw, _ := json.Marshal(o)
			res := v.ValidateResource(resource.Resource{Path: r.name, Bytes: raw})
			if res.Status != validator.Valid {
				problems = append(problems, fmt.Sprintf("%s: %s %s: %v %v", r.name, o["kind"], name(o), res.Err, res.ValidationErrors))
			}
		}
		c := &checker{render: r, bin: bin}
		c.run()
		nChecks += c.checks
		problems = append(problems, c.problems...)
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, "  "+p)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%d problems in %d objects of %d renders", len(problems), nObjects, len(renders))
	}
	fmt.Printf("deploy-check: OK: %d renders (3 kustomize overlays, %d with components, %d chart value sets, 1 OpenShift template), %d objects valid against Kubernetes %s schemas (strict), %d cross-checks, helm lint --strict clean, %d chart values refused\n",
		len(renders), len(withComponents), len(chartValues), nObjects, kubernetesVersion, nChecks, len(badChartValues))
	return nil
}

// checkDockerfile checks the runtime image: a numeric non-root user in
// group 0 (OpenShift's random UID), a static build, and environment
// variables the binary reads.
func checkDockerfile(path string, bin *facts) (problems []string, checks int) {
	data, err := os.ReadFile(path)
	if err != nil {
		return []string{err.Error()}, 1
	}
	text := string(data)
	check := func(ok bool, format string, args ...any) {
		checks++
		if !ok {
			problems = append(problems, "Dockerfile: "+fmt.Sprintf(format, args...))
		}
	}
	check(strings.Contains(text, "CGO_ENABLED=0"), "the binary is not built static (CGO_ENABLED=0)")
	stages := strings.Split(text, "\nFROM ")
	final := stages[len(stages)-1]
	user := regexp.MustCompile(`(?m)^USER (\d+):0\s*$`).FindStringSubmatch(final)
	check(user != nil && user[1] != "0", "the runtime stage does not run as a numeric non-root user in group 0")
	for _, m := range regexp.MustCompile(`(?m)^ENV (.*)$`).FindAllStringSubmatch(final, -1) {
		for _, kv := range strings.Fields(m[1]) {
			k, _, _ := strings.Cut(kv, "=")
			check(bin.env[k], "ENV %s is not read by the binary", k)
		}
	}
	return problems, checks
}

// chartValues are the value sets the chart is rendered with: the
// defaults, and non-default ones that switch every conditional part.
var chartValues = []struct {
	name   string
	values map[string]any
}{
	{"defaults", nil},
	{"dev", map[string]any{"mode": "dev", "ingress": map[string]any{"enabled": false}}},
	{"openshift-external-mongodb", map[string]any{
		"ingress": map[string]any{"enabled": false},
		"route":   map[string]any{"enabled": true, "host": "ophicleide.apps.example.com"},
		"store": map[string]any{"mongodb": map[string]any{
			"url": "mongodb://db.example.com:27017/ophicleide", "deploy": false,
			"auth": map[string]any{"existingSecret": "corp-mongo"},
		}},
		"api":    map[string]any{"autoscaling": map[string]any{"enabled": false}, "replicas": 3},
		"worker": map[string]any{"replicas": 5},
		"auth":   map[string]any{"existingSecret": "corp-keys"},
		"spark":  map[string]any{"urlSecret": map[string]any{"name": "corp-spark", "key": "url"}, "schemes": "s3a"},
	}},
	{"bundled-mongodb-on-openshift", map[string]any{
		"route":   map[string]any{"enabled": true},
		"ingress": map[string]any{"className": "nginx", "tls": []any{map[string]any{"hosts": []any{"ophicleide.example.com"}, "secretName": "tls"}}},
		"store":   map[string]any{"mongodb": map[string]any{"runAsUser": nil}},
		"auth":    map[string]any{"keys": "alice admin sha256:2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b\nbob read s3cret-of-bob\n"},
		// The Spark Connect server under OpenShift's SCC, with confs and
		// a /tmp limit.
		"spark": map[string]any{"server": map[string]any{
			"enabled": true, "runAsUser": nil, "tmpSizeLimit": "20Gi", "driverMemory": "4g",
			"conf":      map[string]any{"spark.connect.session.connectML.mlCache.memoryControl.maxModelSize": "2g"},
			"resources": map[string]any{"requests": map[string]any{"cpu": "2", "memory": "4Gi"}, "limits": map[string]any{"cpu": "2", "memory": "6Gi"}},
		}},
	}},
	{"spark-server", map[string]any{
		"spark": map[string]any{"server": map[string]any{"enabled": true}, "schemes": "s3a,hdfs"},
	}},
	{"dev-external-spark", map[string]any{
		"mode": "dev", "ingress": map[string]any{"enabled": false},
		"spark": map[string]any{"url": "sc://spark-connect.spark.svc:15002/;use_ssl=true"},
	}},
}

// badChartValues are value sets the chart must refuse, with a word of the
// error it must give.
var badChartValues = []struct {
	name   string
	values map[string]any
	want   string
}{
	{"two Sparks", map[string]any{"spark": map[string]any{"url": "sc://a:15002", "server": map[string]any{"enabled": true}}}, "at most one"},
	{"schemes without a Spark", map[string]any{"spark": map[string]any{"schemes": "s3a"}}, "needs a Spark"},
	{"an http URL", map[string]any{"spark": map[string]any{"url": "http://spark:15002"}}, "sc://"},
}

// withComponents are overlays rendered with kustomize Components added,
// as `kustomize edit add component` in the overlay would.
var withComponents = []struct {
	name, overlay string
	components    []string
}{
	{"production+spark", "production", []string{"spark"}},
	{"openshift+spark", "openshift", []string{"spark", "spark-openshift"}},
}

// kustomizeWith renders overlay (under root/overlays) with components
// (under root/components): root's files are copied to an in-memory file
// system, where a kustomization next to the overlays names both.
func kustomizeWith(root, overlay string, components []string) ([]object, error) {
	fs := filesys.MakeFsInMemory()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		return fs.WriteFile(filepath.Join("/kustomize", rel), data)
	})
	if err != nil {
		return nil, err
	}
	k := "resources:\n  - ../overlays/" + overlay + "\ncomponents:\n"
	for _, c := range components {
		k += "  - ../components/" + c + "\n"
	}
	if err := fs.WriteFile("/kustomize/deploy-check/kustomization.yaml", []byte(k)); err != nil {
		return nil, err
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/kustomize/deploy-check")
	if err != nil {
		return nil, err
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	return splitYAML(out)
}

func kustomize(dir string) ([]object, error) {
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	m, err := k.Run(filesys.MakeFsOnDisk(), dir)
	if err != nil {
		return nil, err
	}
	out, err := m.AsYaml()
	if err != nil {
		return nil, err
	}
	return splitYAML(out)
}

func helmTemplate(dir string, values map[string]any) ([]object, error) {
	c, err := loader.Load(dir)
	if err != nil {
		return nil, err
	}
	vals, err := chartutil.ToRenderValues(c, values, chartutil.ReleaseOptions{Name: "oph", Namespace: "ophicleide", IsInstall: true}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	files, err := engine.Render(c, vals)
	if err != nil {
		return nil, err
	}
	var all []object
	for name, text := range files {
		if !strings.HasSuffix(name, ".yaml") {
			continue // NOTES.txt
		}
		objs, err := splitYAML([]byte(text))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		all = append(all, objs...)
	}
	return all, nil
}

// processTemplate does what `oc process` does with params (and the
// parameters' defaults): "${NAME}" inside strings becomes the value, and a
// string that is exactly "${{NAME}}" becomes the value parsed as JSON.
func processTemplate(path string, params map[string]string) ([]object, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var tmpl struct {
		Kind       string
		Parameters []struct {
			Name     string
			Value    string
			Required bool
			Generate string
		}
		Objects []object
	}
	if err := yaml.Unmarshal(data, &tmpl); err != nil {
		return nil, err
	}
	if tmpl.Kind != "Template" {
		return nil, fmt.Errorf("kind %q, want Template", tmpl.Kind)
	}
	vals := map[string]string{}
	for _, p := range tmpl.Parameters {
		vals[p.Name] = p.Value
		if p.Generate == "expression" && p.Value == "" {
			// oc process generates it from the parameter's "from"
			// expression; any value of that shape will do here.
			vals[p.Name] = "GeneratedByDeployCheck0123456789abcdefgh"
		}
		if v, ok := params[p.Name]; ok {
			vals[p.Name] = v
		}
		if p.Required && vals[p.Name] == "" {
			return nil, fmt.Errorf("required parameter %s has no value", p.Name)
		}
	}
	ref := regexp.MustCompile(`\$\{\{?([A-Z0-9_]+)\}?\}`)
	var unknown []string
	var subst func(v any) any
	subst = func(v any) any {
		switch x := v.(type) {
		case string:
			if m := regexp.MustCompile(`^\$\{\{([A-Z0-9_]+)\}\}$`).FindStringSubmatch(x); m != nil {
				var parsed any
				if err := json.Unmarshal([]byte(vals[m[1]]), &parsed); err != nil {
					unknown = append(unknown, m[1]+" (not JSON)")
				}
				return parsed
			}
			return ref.ReplaceAllStringFunc(x, func(s string) string {
				n := ref.FindStringSubmatch(s)[1]
				if _, ok := vals[n]; !ok {
					unknown = append(unknown, n)
				}
				return vals[n]
			})
		case map[string]any:
			for k, e := range x {
				x[k] = subst(e)
			}
		case []any:
			for i, e := range x {
				x[i] = subst(e)
			}
		}
		return v
	}
	// The template itself is validated too.
	var whole object
	yaml.Unmarshal(data, &whole)
	objs := []object{whole}
	for _, o := range tmpl.Objects {
		objs = append(objs, subst(o).(object))
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("undeclared or bad parameters: %v", unknown)
	}
	return objs, nil
}

// splitYAML parses a multi-document YAML stream into objects.
func splitYAML(data []byte) ([]object, error) {
	var out []object
	for _, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(string(data), -1) {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var o object
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			return nil, err
		}
		if o != nil {
			out = append(out, o)
		}
	}
	return out, nil
}

func name(o object) string {
	md, _ := o["metadata"].(map[string]any)
	n, _ := md["name"].(string)
	return n
}

// swaggerPath finds swagger.json of k8s.io/kubernetes in the module cache,
// downloading the module (from the Go module proxy) if needed.
func swaggerPath() (string, error) {
	out, err := exec.Command("go", "mod", "download", "-json", "k8s.io/kubernetes@"+kubernetesVersion).Output()
	if err != nil {
		return "", fmt.Errorf("go mod download k8s.io/kubernetes@%s: %w", kubernetesVersion, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download k8s.io/kubernetes: no directory in %s", bytes.TrimSpace(out))
	}
	return filepath.Join(m.Dir, "api", "openapi-spec", "swagger.json"), nil
}
