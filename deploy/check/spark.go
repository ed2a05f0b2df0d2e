package main

// The Spark training engine's part of the cross-checks: a Spark Connect
// server in a render (its container, Service and NetworkPolicy), and the
// OPH_SPARK_URL / OPH_SPARK_SCHEMES of the api, worker and serve
// containers that use it or an endpoint outside the render.

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// sparkConnectClass is the main class of a Spark Connect server.
const sparkConnectClass = "org.apache.spark.sql.connect.service.SparkConnectServer"

// sparkDefaultPort is Spark Connect's port when the URL or the server's
// spark.connect.grpc.binding.port says none.
const sparkDefaultPort = 15002

// sparkFacts is what a render's workloads say about Spark.
type sparkFacts struct {
	servers []sparkServerFacts
	clients []sparkClientFacts
}

type sparkServerFacts struct {
	workload object
	id       string
	port     int // spark.connect.grpc.binding.port
}

type sparkClientFacts struct {
	workload object
	cid      string
	role     string
	url      string // a literal OPH_SPARK_URL or --spark
	ref      string // or the Secret key it comes from
	schemes  string
}

// sparkServer reports whether a container runs a Spark Connect server.
func sparkServer(ct object) bool {
	for _, a := range append(list(ct["command"]), list(ct["args"])...) {
		if fmt.Sprint(a) == sparkConnectClass {
			return true
		}
	}
	return false
}

// sparkConf returns the value of --conf key=value in args.
func sparkConf(args []any, key string) (string, bool) {
	for i, a := range args {
		if fmt.Sprint(a) == "--conf" && i+1 < len(args) {
			if v, ok := strings.CutPrefix(fmt.Sprint(args[i+1]), key+"="); ok {
				return v, true
			}
		}
	}
	return "", false
}

// sparkServer checks a Spark Connect server container: how it is started,
// its image, port, probes, memory, threads, writable directories and UID.
func (c *checker) sparkServer(w object, cid string, ct object, mounts map[string]string, volumes map[string]object) {
	args := append(list(ct["command"]), list(ct["args"])...)
	// Through spark-submit (the image's entrypoint in driver mode runs it),
	// in the foreground: spark-submit --class ... spark-internal.
	first := ""
	if len(args) > 0 {
		first = fmt.Sprint(args[0])
	}
	c.check(first == "driver" || strings.HasSuffix(first, "/spark-submit"), "%s: the server is not started by spark-submit in the foreground (args %q: the image's entrypoint with \"driver\", or /opt/spark/bin/spark-submit)", cid, first)
	c.check(slices.Contains(args, any("spark-internal")), "%s: spark-submit has no primary resource spark-internal", cid)
	c.check(!slices.ContainsFunc(args, func(a any) bool { return strings.Contains(fmt.Sprint(a), "start-connect-server.sh") }), "%s: sbin/start-connect-server.sh daemonizes: the container would exit", cid)
	if first == "driver" {
		// The entrypoint passes it as spark.driver.bindAddress.
		found := false
		for _, e := range list(ct["env"]) {
			found = found || get(e, "name") == "SPARK_DRIVER_BIND_ADDRESS"
		}
		c.check(found, "%s: the entrypoint's driver mode needs SPARK_DRIVER_BIND_ADDRESS (the pod's IP)", cid)
	}

	image := str(ct["image"])
	_, tag, _ := strings.Cut(image[strings.LastIndex(image, "/")+1:], ":")
	c.check(regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+`).MatchString(tag) || strings.Contains(image, "@sha256:"), "%s: image %q is not pinned to a Spark release", cid, image)

	port := sparkDefaultPort
	if v, ok := sparkConf(args, "spark.connect.grpc.binding.port"); ok {
		p, err := strconv.Atoi(v)
		c.check(err == nil && p > 0 && p < 65536, "%s: spark.connect.grpc.binding.port=%s is not a port", cid, v)
		if err == nil {
			port = p
		}
	}
	c.check(containerPort(w, port), "%s: Spark Connect listens on %d, which the container does not declare", cid, port)
	ui, _ := sparkConf(args, "spark.ui.enabled")
	c.check(ui == "false", "%s: the Spark UI is on (set spark.ui.enabled=false: nothing reaches it)", cid)
	for _, probe := range []string{"livenessProbe", "readinessProbe"} {
		p := get(ct, probe, "tcpSocket", "port")
		c.check(p != nil && portNumber(w, p) == port, "%s: %s is not a tcpSocket probe on the gRPC port %d (Spark Connect serves no gRPC health service)", cid, probe, port)
	}

	// Memory: the driver's heap plus Spark's own rule for the JVM's
	// overhead, max(384 MiB, 10%) (spark.driver.memoryOverhead), under
	// the limit; the request at least the heap.
	heap := int64(1 << 30) // spark-submit's default, 1g
	if v, ok := flagValue(args, "driver-memory"); ok {
		heap = jvmBytes(v)
		c.check(heap > 0, "%s: --driver-memory %q is not a JVM size", cid, v)
	}
	limit, request := quantityBytes(text(get(ct, "resources", "limits", "memory"))), quantityBytes(text(get(ct, "resources", "requests", "memory")))
	overhead := max(384<<20, heap/10)
	c.check(limit >= heap+overhead, "%s: memory limit %v leaves the %d MiB heap less than %d MiB for the JVM's own memory", cid, get(ct, "resources", "limits", "memory"), heap>>20, overhead>>20)
	c.check(request >= heap, "%s: memory request %v is below the %d MiB heap", cid, get(ct, "resources", "requests", "memory"), heap>>20)

	// Threads: local[N] beyond the CPU limit only queues for CPU.
	master, _ := flagValue(args, "master")
	if m := regexp.MustCompile(`^local(\[(\d+|\*)(,\d+)?\])?$`).FindStringSubmatch(master); m != nil {
		n := 1.0
		if m[2] == "*" {
			n = 0 // the JVM's processors: the CPU limit
		} else if m[2] != "" {
			n, _ = strconv.ParseFloat(m[2], 64)
		}
		cpu := cpuCores(text(get(ct, "resources", "limits", "cpu")))
		c.check(n <= math.Ceil(cpu), "%s: --master %s runs %v threads on a CPU limit of %v", cid, master, n, get(ct, "resources", "limits", "cpu"))
	} else {
		c.check(master != "", "%s: no --master", cid)
	}

	// Written: /tmp (java.io.tmpdir, spark.local.dir, the ML cache's
	// offloaded models) and the working directory.
	local, _ := sparkConf(args, "spark.local.dir")
	if local == "" {
		local = "/tmp"
	}
	work := str(ct["workingDir"])
	if work == "" {
		work = "/opt/spark/work-dir" // the image's WORKDIR
	}
	for _, dir := range []string{"/tmp", local, work} {
		c.check(mounts[dir] != "" && get(volumes[mounts[dir]], "emptyDir") != nil, "%s: Spark writes to %s, which is not an emptyDir on the read-only root", cid, dir)
	}

	// UID: the image's USER is the name "spark", so runAsNonRoot needs a
	// numeric one on Kubernetes; OpenShift's restricted SCC assigns one
	// from the project's range and refuses 185.
	uid := get(ct, "securityContext", "runAsUser")
	if uid == nil {
		uid = get(w, "spec", "template", "spec", "securityContext", "runAsUser")
	}
	if c.openshift() {
		c.check(uid == nil, "%s: sets runAsUser %v, which OpenShift's restricted SCC refuses (it assigns the UID)", cid, uid)
	} else {
		n, _ := uid.(float64)
		c.check(n > 0, "%s: no numeric non-root runAsUser: the image's user \"spark\" is a name, so runAsNonRoot cannot be verified (185 is the image's)", cid)
	}
	c.spark.servers = append(c.spark.servers, sparkServerFacts{workload: w, id: cid, port: port})
}

// sparkClient records an api, worker or serve container's Spark settings.
func (c *checker) sparkClient(w object, cid, role string, args []any, env map[string]string, refs map[string]string) {
	cl := sparkClientFacts{workload: w, cid: cid, role: role, url: env["OPH_SPARK_URL"], ref: refs["OPH_SPARK_URL"], schemes: env["OPH_SPARK_SCHEMES"]}
	if v, ok := flagValue(args, "spark"); ok {
		cl.url, cl.ref = v, ""
	}
	if v, ok := flagValue(args, "spark-schemes"); ok {
		cl.schemes = v
	}
	if cl.url != "" {
		_, _, err := parseSparkURL(cl.url)
		c.check(err == nil, "%s: OPH_SPARK_URL %q: %v", cid, cl.url, err)
	}
	if cl.schemes != "" {
		c.check(cl.url != "" || cl.ref != "", "%s: OPH_SPARK_SCHEMES is set without a Spark (OPH_SPARK_URL): the binary refuses to start", cid)
		for _, s := range strings.Split(cl.schemes, ",") {
			s = strings.TrimSpace(s)
			c.check(regexp.MustCompile(`^[a-z][a-z0-9+.-]*$`).MatchString(s), "%s: OPH_SPARK_SCHEMES: %q is not a URL scheme", cid, s)
			c.check(s != "http" && s != "https", "%s: OPH_SPARK_SCHEMES has %s, which Spark's file readers refuse (SPARK-50458); the workers fetch those", cid, s)
		}
	}
	c.spark.clients = append(c.spark.clients, cl)
}

// parseSparkURL reads sc://HOST[:PORT][/;key=value;...].
func parseSparkURL(u string) (host string, port int, err error) {
	rest, ok := strings.CutPrefix(u, "sc://")
	if !ok {
		return "", 0, fmt.Errorf("not a Spark Connect URL (sc://HOST:PORT)")
	}
	hostport, params, _ := strings.Cut(rest, "/")
	host, p, hasPort := strings.Cut(hostport, ":")
	if host == "" {
		return "", 0, fmt.Errorf("no host")
	}
	port = sparkDefaultPort
	if hasPort {
		port, err = strconv.Atoi(p)
		if err != nil || port <= 0 || port > 65535 {
			return "", 0, fmt.Errorf("port %q", p)
		}
	}
	if params != "" {
		if !strings.HasPrefix(params, ";") {
			return "", 0, fmt.Errorf("parameters must follow \"/;\" (sc://HOST:PORT/;token=...)")
		}
		for _, kv := range strings.Split(params[1:], ";") {
			if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
				return "", 0, fmt.Errorf("parameter %q is not key=value", kv)
			}
		}
	}
	return host, port, nil
}

// sparkWiring checks a render's Spark as a whole: every api, worker and
// serve container has the same Spark (the api accepts "spark" models only
// with one, and the workers must be able to train what it accepts); a
// URL naming a Service of the render reaches a Spark Connect server's
// port through it; a server in the render is the one they use, and a
// NetworkPolicy lets only them reach it.
func (c *checker) sparkWiring() {
	for i, cl := range c.spark.clients {
		if i > 0 {
			first := c.spark.clients[0]
			c.check(cl.url == first.url && cl.ref == first.ref && cl.schemes == first.schemes,
				"%s: its Spark (OPH_SPARK_URL %q%s, OPH_SPARK_SCHEMES %q) differs from %s's (%q%s, %q): the api accepts what the workers train",
				cl.cid, cl.url, via(cl.ref), cl.schemes, first.cid, first.url, via(first.ref), first.schemes)
		}
		if cl.url == "" {
			if len(c.spark.servers) > 0 {
				c.check(false, "%s: the render runs a Spark Connect server, but OPH_SPARK_URL does not point at it", cl.cid)
			}
			continue
		}
		host, port, err := parseSparkURL(cl.url)
		if err != nil {
			continue
		}
		svc := c.inRenderService(host)
		if svc == nil {
			c.check(len(c.spark.servers) == 0, "%s: the render runs a Spark Connect server, but OPH_SPARK_URL %q points elsewhere", cl.cid, cl.url)
			continue
		}
		c.check(c.sparkTarget(svc, port), "%s: OPH_SPARK_URL %q: Service %s has no port %d reaching a Spark Connect server's gRPC port", cl.cid, cl.url, nameOf(svc), port)
		// A token makes the client use TLS (internal/sparkconnect), which
		// a server of the render does not serve.
		c.check(!strings.Contains(cl.url, ";token=") && !strings.Contains(cl.url, ";use_ssl=true"), "%s: OPH_SPARK_URL %q asks for TLS (a token implies it), which the render's Spark Connect server does not serve", cl.cid, cl.url)
	}
	for _, s := range c.spark.servers {
		labels, _ := get(s.workload, "spec", "template", "metadata", "labels").(map[string]any)
		var policies []object
		for _, np := range c.render.objects {
			if np["kind"] == "NetworkPolicy" && matches(get(np, "spec", "podSelector"), labels) {
				policies = append(policies, np)
			}
		}
		c.check(len(policies) > 0, "%s: no NetworkPolicy selects the Spark Connect server: without a token it runs what anyone who reaches it sends", s.id)
		for _, np := range policies {
			c.sparkPolicy(np, s)
		}
	}
	for _, np := range c.render.objects {
		if np["kind"] == "NetworkPolicy" {
			selected := false
			for _, w := range c.render.objects {
				labels, _ := get(w, "spec", "template", "metadata", "labels").(map[string]any)
				selected = selected || ((w["kind"] == "Deployment" || w["kind"] == "StatefulSet") && matches(get(np, "spec", "podSelector"), labels))
			}
			c.check(selected, "NetworkPolicy %s selects no pods", nameOf(np))
		}
	}
}

func via(ref string) string {
	if ref == "" {
		return ""
	}
	return " from " + ref
}

// sparkPolicy checks a NetworkPolicy of a Spark Connect server: ingress
// only from pods (no open peer), on the gRPC port, and from every client
// of the server.
func (c *checker) sparkPolicy(np object, s sparkServerFacts) {
	id := "NetworkPolicy " + nameOf(np)
	c.check(slices.Contains(list(get(np, "spec", "policyTypes")), any("Ingress")), "%s: does not restrict ingress to the Spark Connect server", id)
	rules := list(get(np, "spec", "ingress"))
	for _, r := range rules {
		from := list(get(r, "from"))
		c.check(len(from) > 0, "%s: a rule with no \"from\" lets every pod reach the Spark Connect server", id)
		for _, peer := range from {
			c.check(get(peer, "ipBlock") == nil && get(peer, "namespaceSelector") == nil && get(peer, "podSelector") != nil, "%s: a peer other than this namespace's pods (%v) may reach the Spark Connect server", id, peer)
		}
		ports := list(get(r, "ports"))
		ok := len(ports) > 0
		for _, p := range ports {
			ok = ok && portNumber(s.workload, get(p, "port")) == s.port
		}
		c.check(ok, "%s: a rule opens ports %v, not only the gRPC port %d", id, ports, s.port)
	}
	for _, cl := range c.spark.clients {
		if cl.url == "" {
			continue
		}
		host, _, err := parseSparkURL(cl.url)
		if err != nil || c.inRenderService(host) == nil {
			continue
		}
		labels, _ := get(cl.workload, "spec", "template", "metadata", "labels").(map[string]any)
		allowed := false
		for _, r := range rules {
			for _, peer := range list(get(r, "from")) {
				allowed = allowed || (get(peer, "ipBlock") == nil && get(peer, "namespaceSelector") == nil && matches(get(peer, "podSelector"), labels))
			}
		}
		c.check(allowed, "%s: keeps %s out of the Spark Connect server it uses", id, cl.cid)
	}
}

// inRenderService returns the render's Service a URL's host names: NAME,
// NAME.NAMESPACE or NAME.NAMESPACE.svc[.cluster.local].
func (c *checker) inRenderService(host string) object {
	labels := strings.Split(host, ".")
	if len(labels) > 2 && labels[2] != "svc" {
		return nil
	}
	return c.find("Service", labels[0])
}

// sparkTarget reports whether port of svc reaches the gRPC port of a
// Spark Connect server the Service selects.
func (c *checker) sparkTarget(svc object, port int) bool {
	sel, _ := get(svc, "spec", "selector").(map[string]any)
	for _, p := range list(get(svc, "spec", "ports")) {
		if fmt.Sprint(get(p, "port")) != strconv.Itoa(port) {
			continue
		}
		target := get(p, "targetPort")
		if target == nil {
			target = get(p, "port")
		}
		for _, s := range c.spark.servers {
			labels, _ := get(s.workload, "spec", "template", "metadata", "labels").(map[string]any)
			if len(sel) > 0 && subset(sel, labels) && portNumber(s.workload, target) == s.port {
				return true
			}
		}
	}
	return false
}

// portNumber resolves a port (a number, or a container port's name) of a
// workload's containers; 0 when there is none.
func portNumber(w object, port any) int {
	if f, ok := port.(float64); ok {
		return int(f)
	}
	if n, err := strconv.Atoi(fmt.Sprint(port)); err == nil {
		return n
	}
	for _, ct := range list(get(w, "spec", "template", "spec", "containers")) {
		for _, p := range list(get(ct, "ports")) {
			if get(p, "name") == port {
				f, _ := get(p, "containerPort").(float64)
				return int(f)
			}
		}
	}
	return 0
}

// matches evaluates a label selector (matchLabels and matchExpressions);
// an empty selector matches every pod.
func matches(selector any, labels map[string]any) bool {
	ml, _ := get(selector, "matchLabels").(map[string]any)
	if !subset(ml, labels) {
		return false
	}
	for _, e := range list(get(selector, "matchExpressions")) {
		v, has := labels[str(get(e, "key"))]
		in := slices.Contains(list(get(e, "values")), v)
		switch get(e, "operator") {
		case "In":
			if !has || !in {
				return false
			}
		case "NotIn":
			if has && in {
				return false
			}
		case "Exists":
			if !has {
				return false
			}
		case "DoesNotExist":
			if has {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// openshift reports whether a render is for OpenShift (it has a Route).
func (c *checker) openshift() bool {
	for _, o := range c.render.objects {
		if o["kind"] == "Route" {
			return true
		}
	}
	return false
}

// text is a scalar as text ("" for none): quantities may be numbers.
func text(v any) string {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// jvmBytes reads a JVM memory size as spark-submit takes it: 2g, 1536m,
// 512k (binary units); 0 when it is not one.
func jvmBytes(s string) int64 {
	m := regexp.MustCompile(`^(\d+)([kKmMgGtT])?[bB]?$`).FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	shift := map[string]uint{"": 0, "k": 10, "m": 20, "g": 30, "t": 40}[strings.ToLower(m[2])]
	if m[2] == "" {
		shift = 20 // a bare number is MiB to spark-submit
	}
	return n << shift
}

// quantityBytes reads a Kubernetes memory quantity (3Gi, 512Mi, 2G,
// 1000000); 0 when it is not one.
func quantityBytes(s string) int64 {
	m := regexp.MustCompile(`^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$`).FindStringSubmatch(s)
	if m == nil {
		return 0
	}
	f, _ := strconv.ParseFloat(m[1], 64)
	mult := map[string]float64{"": 1, "Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m[2]]
	return int64(f * mult)
}

// cpuCores reads a Kubernetes CPU quantity ("2", "1500m"); 0 when it is
// not one.
func cpuCores(s string) float64 {
	if v, ok := strings.CutSuffix(s, "m"); ok {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return 0
		}
		return f / 1000
	}
	f, _ := strconv.ParseFloat(s, 64)
	return f
}
