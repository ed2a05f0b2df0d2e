package main

import (
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// sparkRender is a render with a Spark Connect server (Deployment,
// Service, NetworkPolicy) and a worker that uses it, which the
// cross-checks accept as it is.
const sparkRender = `
- kind: Deployment
  metadata: {name: spark}
  spec:
    selector: {matchLabels: {app: spark}}
    template:
      metadata: {labels: {app: spark}}
      spec:
        terminationGracePeriodSeconds: 30
        securityContext: {runAsNonRoot: true, runAsUser: 185}
        containers:
          - name: spark
            image: apache/spark:4.1.2-scala2.13-java17-ubuntu
            args: [driver, --class, org.apache.spark.sql.connect.service.SparkConnectServer, --master, "local[2]",
              --driver-memory, 2g, --conf, spark.connect.grpc.binding.port=15002, --conf, spark.ui.enabled=false, spark-internal]
            env: [{name: SPARK_DRIVER_BIND_ADDRESS, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
            ports: [{name: grpc, containerPort: 15002}]
            livenessProbe: {tcpSocket: {port: grpc}}
            readinessProbe: {tcpSocket: {port: 15002}}
            resources: {requests: {cpu: "1", memory: 2Gi}, limits: {cpu: 2, memory: 3Gi}}
            securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
            volumeMounts: [{name: tmp, mountPath: /tmp}, {name: work, mountPath: /opt/spark/work-dir}]
        volumes: [{name: tmp, emptyDir: {}}, {name: work, emptyDir: {}}]
- kind: Service
  metadata: {name: spark}
  spec:
    selector: {app: spark}
    ports: [{name: grpc, port: 15002, targetPort: grpc}]
- kind: NetworkPolicy
  metadata: {name: spark}
  spec:
    podSelector: {matchLabels: {app: spark}}
    policyTypes: [Ingress]
    ingress:
      - from: [{podSelector: {matchExpressions: [{key: app, operator: In, values: [worker, api]}]}}]
        ports: [{protocol: TCP, port: grpc}]
- kind: Secret
  metadata: {name: keys}
  stringData: {keys: "a admin x"}
- kind: Deployment
  metadata: {name: worker}
  spec:
    selector: {matchLabels: {app: worker}}
    template:
      metadata:
        labels: {app: worker}
        annotations: {prometheus.io/scrape: "true", prometheus.io/port: "8080", prometheus.io/path: /metrics}
      spec:
        terminationGracePeriodSeconds: 30
        securityContext: {runAsNonRoot: true}
        containers:
          - name: worker
            image: ophicleide
            args: [worker]
            env:
              - {name: REST_ADDR, value: 0.0.0.0}
              - {name: OPH_DATA_DIR, value: /data}
              - {name: OPH_SPARK_URL, value: "sc://spark:15002"}
            ports: [{name: http, containerPort: 8080}]
            livenessProbe: {httpGet: {path: /healthz, port: http}}
            readinessProbe: {httpGet: {path: /readyz, port: http}}
            resources: {requests: {cpu: "1", memory: 256Mi}, limits: {cpu: "2", memory: 1Gi}}
            securityContext: {allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: {drop: [ALL]}}
            volumeMounts: [{name: keys, mountPath: /etc/ophicleide}, {name: data, mountPath: /data}]
        volumes: [{name: keys, secret: {secretName: keys}}, {name: data, persistentVolumeClaim: {claimName: data}}]
`

// TestSparkRules: the Spark cross-checks accept sparkRender and refuse
// each of its breakages: a server started wrongly, unpinned, on an
// undeclared port, probed by HTTP, short of memory or CPU, without a
// writable /tmp or a numeric UID; a URL at the wrong Service port or not
// at the render's server; schemes without a Spark or Spark cannot read;
// roles with different Sparks; no NetworkPolicy, one open to every pod or
// one that keeps the worker out.
func TestSparkRules(t *testing.T) {
	server := func(objs []object) object {
		return list(get(objs[0], "spec", "template", "spec", "containers"))[0].(object)
	}
	worker := func(objs []object) object {
		return list(get(objs[4], "spec", "template", "spec", "containers"))[0].(object)
	}
	setArg := func(ct object, from, to string) {
		args := list(ct["args"])
		for i, a := range args {
			if a == from {
				args[i] = to
			}
		}
	}
	setEnv := func(ct object, name, value string) {
		env := list(ct["env"])
		for _, e := range env {
			if get(e, "name") == name {
				e.(object)["value"] = value
				return
			}
		}
		ct["env"] = append(env, object{"name": name, "value": value})
	}
	for _, tc := range []struct {
		name    string
		breakIt func(objs []object) []object
		want    string
	}{
		{"as it is", func(o []object) []object { return o }, ""},
		{"sbin script", func(o []object) []object {
			server(o)["args"] = []any{"/opt/spark/sbin/start-connect-server.sh", "--class", sparkConnectClass, "spark-internal"}
			return o
		}, "spark-submit in the foreground"},
		{"no bind address", func(o []object) []object { server(o)["env"] = []any{}; return o }, "SPARK_DRIVER_BIND_ADDRESS"},
		{"latest image", func(o []object) []object { server(o)["image"] = "apache/spark:latest"; return o }, "not pinned"},
		{"other port", func(o []object) []object {
			setArg(server(o), "spark.connect.grpc.binding.port=15002", "spark.connect.grpc.binding.port=15003")
			return o
		}, "listens on 15003"},
		{"UI on", func(o []object) []object {
			setArg(server(o), "spark.ui.enabled=false", "spark.ui.enabled=true")
			return o
		}, "Spark UI"},
		{"HTTP probe", func(o []object) []object {
			server(o)["livenessProbe"] = object{"httpGet": object{"path": "/", "port": "grpc"}}
			return o
		}, "not a tcpSocket probe"},
		{"heap at the limit", func(o []object) []object { setArg(server(o), "2g", "3g"); return o }, "for the JVM's own memory"},
		{"heap above the request", func(o []object) []object { setArg(server(o), "2g", "2500m"); return o }, "below the"},
		{"threads beyond the CPU", func(o []object) []object { setArg(server(o), "local[2]", "local[8]"); return o }, "threads on a CPU limit"},
		{"no /tmp", func(o []object) []object { server(o)["volumeMounts"] = list(server(o)["volumeMounts"])[1:]; return o }, "writes to /tmp"},
		{"no UID", func(o []object) []object {
			delete(get(o[0], "spec", "template", "spec", "securityContext").(object), "runAsUser")
			return o
		}, "no numeric non-root runAsUser"},
		{"UID on OpenShift", func(o []object) []object {
			return append(o, object{"kind": "Route", "metadata": object{"name": "r"}})
		}, "restricted SCC refuses"},
		{"wrong Service port", func(o []object) []object { setEnv(worker(o), "OPH_SPARK_URL", "sc://spark:15003"); return o }, "has no port 15003"},
		{"default port", func(o []object) []object {
			setEnv(worker(o), "OPH_SPARK_URL", "sc://spark.ns.svc.cluster.local")
			return o
		}, ""},
		{"elsewhere", func(o []object) []object {
			setEnv(worker(o), "OPH_SPARK_URL", "sc://spark.example.com:15002")
			return o
		}, "points elsewhere"},
		{"not sc://", func(o []object) []object { setEnv(worker(o), "OPH_SPARK_URL", "http://spark:15002"); return o }, "not a Spark Connect URL"},
		{"no URL", func(o []object) []object { setEnv(worker(o), "OPH_SPARK_URL", ""); return o }, "does not point at it"},
		{"token to the render's server", func(o []object) []object { setEnv(worker(o), "OPH_SPARK_URL", "sc://spark:15002/;token=abc"); return o }, "asks for TLS"},
		{"schemes", func(o []object) []object { setEnv(worker(o), "OPH_SPARK_SCHEMES", "s3a,hdfs"); return o }, ""},
		{"https scheme", func(o []object) []object { setEnv(worker(o), "OPH_SPARK_SCHEMES", "s3a,https"); return o }, "SPARK-50458"},
		{"schemes without a Spark", func(o []object) []object {
			setEnv(worker(o), "OPH_SPARK_URL", "")
			setEnv(worker(o), "OPH_SPARK_SCHEMES", "s3a")
			return o[3:]
		}, "without a Spark"},
		{"api without the Spark", func(o []object) []object {
			api := yamlObject(t, yamlText(o[4]))
			api["metadata"].(object)["name"] = "api"
			ct := list(get(api, "spec", "template", "spec", "containers"))[0].(object)
			ct["args"] = []any{"api"}
			ct["volumeMounts"] = append(list(ct["volumeMounts"]), object{"name": "data", "mountPath": "/tmp"})
			setEnv(ct, "OPH_SPARK_URL", "sc://spark.example.com:15002")
			return append(o, api)
		}, "differs from"},
		{"URL from a Secret", func(o []object) []object {
			env := list(worker(o)["env"])
			env[2] = object{"name": "OPH_SPARK_URL", "valueFrom": object{"secretKeyRef": object{"name": "keys", "key": "url"}}}
			return o[3:]
		}, `no such key`},
		{"no NetworkPolicy", func(o []object) []object { return append(o[:2:2], o[3:]...) }, "no NetworkPolicy"},
		{"open to every pod", func(o []object) []object {
			get(o[2], "spec").(object)["ingress"] = []any{object{}}
			return o
		}, "every pod"},
		{"keeps the worker out", func(o []object) []object {
			get(o[2], "spec").(object)["ingress"] = []any{object{"from": []any{object{"podSelector": object{"matchLabels": object{"app": "api"}}}}, "ports": []any{object{"port": 15002}}}}
			return o
		}, "keeps deployment worker"},
	} {
		var objs []object
		if err := yaml.Unmarshal([]byte(sparkRender), &objs); err != nil {
			t.Fatal(err)
		}
		objs = tc.breakIt(objs)
		c := &checker{render: render{name: "test", objects: objs}, bin: testFacts()}
		c.run()
		got := strings.Join(c.problems, "\n")
		if (tc.want == "") != (got == "") || !strings.Contains(strings.ToLower(got), strings.ToLower(tc.want)) {
			t.Errorf("%s: problems %q, want one about %q", tc.name, got, tc.want)
		}
	}
}

// TestSparkURL: sc://HOST[:PORT][/;key=value...] and what is not.
func TestSparkURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		host string
		port int
	}{
		{"sc://spark:15002", "spark", 15002},
		{"sc://spark", "spark", 15002},
		{"sc://spark.ns.svc:443/;token=abc;use_ssl=true", "spark.ns.svc", 443},
		{"sc://:15002", "", 0},
		{"sc://spark:0", "", 0},
		{"sc://spark:15002;token=x", "", 0},
		{"sc://spark:15002/;token", "", 0},
		{"grpc://spark:15002", "", 0},
	} {
		host, port, err := parseSparkURL(tc.url)
		if host != tc.host || port != tc.port || (err == nil) != (tc.host != "") {
			t.Errorf("%s: %q %d %v, want %q %d", tc.url, host, port, err, tc.host, tc.port)
		}
	}
}

// TestSizes: JVM sizes, memory and CPU quantities as the checks read them.
func TestSizes(t *testing.T) {
	if jvmBytes("2g") != 2<<30 || jvmBytes("1536m") != 1536<<20 || jvmBytes("512") != 512<<20 || jvmBytes("2Gi") != 0 {
		t.Error("jvmBytes")
	}
	if quantityBytes("3Gi") != 3<<30 || quantityBytes("2G") != 2e9 || quantityBytes("1.5Gi") != 3<<29 || quantityBytes("lots") != 0 {
		t.Error("quantityBytes")
	}
	if cpuCores("1500m") != 1.5 || cpuCores("2") != 2 {
		t.Error("cpuCores")
	}
}

// testFacts is a binary that reads the variables sparkRender sets and
// serves the probe and metrics paths for every role.
func testFacts() *facts {
	f := &facts{env: map[string]bool{}, flags: map[string]map[string]bool{}, paths: map[string]map[string]bool{}}
	for _, e := range []string{"REST_ADDR", "OPH_DATA_DIR", "OPH_SPARK_URL", "OPH_SPARK_SCHEMES"} {
		f.env[e] = true
	}
	for _, role := range []string{"api", "worker", "serve"} {
		f.flags[role] = map[string]bool{"spark": true, "spark-schemes": true}
		f.paths[role] = map[string]bool{"/healthz": true, "/readyz": true, "/metrics": true}
	}
	return f
}

func yamlText(o object) string { b, _ := yaml.Marshal(o); return string(b) }

func yamlObject(t *testing.T, s string) object {
	var o object
	if err := yaml.Unmarshal([]byte(s), &o); err != nil {
		t.Fatal(err)
	}
	return o
}
