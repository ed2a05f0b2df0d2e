package main

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkQueriesWhileTraining measures PRODUCT's "serving while
// training" target: POST /queries at a fixed open-loop rate (200/s) on a
// 50k-word model of dimension 100, first on the idle server, then while a
// model trains in the same `serve` process; p99 while training must stay
// at most 2x the idle p99 of the same run. The real binary is started; the
// training corpus is ../shared/data's small corpus (1M words), served on
// 127.0.0.1, so this is a benchmark only (tests may not read ../shared).
//
//	go test ./cmd/ophicleide -run '^$' -bench QueriesWhileTraining -benchtime 1x
//
// Environment (all optional):
//
//	OPH_BENCH_BIN         the ophicleide binary to run (unset: built from
//	                      this tree; set it to compare configurations of
//	                      one build while the tree changes)
//	OPH_BENCH_THREADS     --threads for serve (unset: the binary's default)
//	OPH_BENCH_GOMAXPROCS  GOMAXPROCS of the server process only
//	OPH_BENCH_RATE        requests per second (200)
//	OPH_BENCH_SECONDS     seconds measured in each phase (10)
//	OPH_BENCH_VECTORS     a word2vec text file to import instead of the
//	                      synthetic 50k x 100 clustered vectors
//	OPH_BENCH_CORPUS      the training text (.gz or plain; default
//	                      ../shared/data/corpus/small.txt.gz)
//	OPH_BENCH_EPOCHS      epochs of the training model (100)
//
// Latency is measured from each request's scheduled send time, so a
// server (or client) stall is counted in every request it delays
// (no coordinated omission). send-lag is how late the client itself sent:
// when it is large the load generator, not the server, was starved.
func BenchmarkQueriesWhileTraining(b *testing.B) {
	bin := os.Getenv("OPH_BENCH_BIN")
	if bin == "" {
		bin = binary(b)
	}
	rate := envInt(b, "OPH_BENCH_RATE", 200)
	phase := time.Duration(envInt(b, "OPH_BENCH_SECONDS", 10)) * time.Second
	epochs := envInt(b, "OPH_BENCH_EPOCHS", 100)
	corpusPath := cmp.Or(os.Getenv("OPH_BENCH_CORPUS"), "../../../shared/data/corpus/small.txt.gz")
	text, err := readMaybeGzip(corpusPath)
	if err != nil {
		b.Skipf("training corpus: %v", err)
	}
	var model []byte
	if path := os.Getenv("OPH_BENCH_VECTORS"); path != "" {
		if model, err = os.ReadFile(path); err != nil {
			b.Fatal(err)
		}
	} else {
		model = clusteredVectorsText(50_000, 100, 500)
	}
	words := textVocabulary(model)
	if len(words) == 0 {
		b.Fatal("no words in the vectors file")
	}
	src := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(text)
	}))
	defer src.Close()

	args := []string{"serve", "--data-dir", b.TempDir(), "--allow-private-urls"}
	if epochs > 100 { // the server's default limit
		args = append(args, "--max-epochs", strconv.Itoa(epochs))
	}
	if t := os.Getenv("OPH_BENCH_THREADS"); t != "" {
		args = append(args, "--threads", t)
	}
	if g := os.Getenv("OPH_BENCH_GOMAXPROCS"); g != "" {
		b.Setenv("GOMAXPROCS", g) // read by the child at start; this process's runtime is already set
	}

	var idle, train []sample
	var wps, threads, idleOthers, trainOthers float64
	var idleTimeouts, trainTimeouts int
	for b.Loop() {
		p := startProc(b, bin, args...)
		threads = logThreads(p.logs.String())
		client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}}
		id := importVectors(b, client, p.base, model)

		bodies := make([][]byte, rate*int(phase/time.Second)+rate)
		rng := rand.New(rand.NewPCG(3, 4))
		for i := range bodies {
			bodies[i] = fmt.Appendf(nil, `{"model": %q, "word": %q, "count": 10}`, id, words[rng.IntN(len(words))])
		}
		// Warm up: the first query loads the model and starts building the
		// int8 images in the background; connections get opened.
		load(b, client, p.base, "warm-up", bodies, rate, 2*time.Second)

		cpu := startCPU(p.cmd.Process.Pid)
		s, n := load(b, client, p.base, "idle", bodies, rate, phase)
		idle, idleTimeouts = append(idle, s...), idleTimeouts+n
		idleOthers = cpu.others()

		body := fmt.Sprintf(`{"name": "busy", "urls": [%q], "params": {"epochs": %d}}`, src.URL+"/corpus.txt", epochs)
		resp, err := client.Post(p.base+"/models", "application/json", strings.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		var created struct{ ID string }
		json.NewDecoder(resp.Body).Decode(&created)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated || created.ID == "" {
			b.Fatalf("POST /models: %s", resp.Status)
		}
		eventually(b, 2*time.Minute, 50*time.Millisecond, func() (bool, string) {
			st := modelProgress(b, client, p.base, created.ID)
			if !st.training() && (st.Status == "ready" || st.Status == "failed") {
				b.Fatalf("training model: %+v, want status training, phase training", st)
			}
			return st.training(), fmt.Sprintf("training model: %+v, want status training, phase training", st)
		})
		time.Sleep(500 * time.Millisecond) // past the training goroutines' start
		cpu = startCPU(p.cmd.Process.Pid)
		s, n = load(b, client, p.base, "training", bodies, rate, phase)
		train, trainTimeouts = append(train, s...), trainTimeouts+n
		trainOthers = cpu.others()
		st := modelProgress(b, client, p.base, created.ID)
		if !st.training() {
			b.Fatalf("the model left the training phase during the measurement (%+v): raise OPH_BENCH_EPOCHS", st)
		}
		wps = st.Progress.WordsPerSecond
		client.CloseIdleConnections()
		p.stop()
	}
	ip50, ip99, imax, ilag, isvc := summary(idle)
	tp50, tp99, tmax, tlag, tsvc := summary(train)
	b.ReportMetric(ip50, "idle-p50-ms")
	b.ReportMetric(ip99, "idle-p99-ms")
	b.ReportMetric(imax, "idle-max-ms")
	b.ReportMetric(tp50, "train-p50-ms")
	b.ReportMetric(tp99, "train-p99-ms")
	b.ReportMetric(tmax, "train-max-ms")
	b.ReportMetric(tp99/ip99, "p99-ratio")
	b.ReportMetric(ilag, "idle-lag-p99-ms")
	b.ReportMetric(tlag, "train-lag-p99-ms")
	b.ReportMetric(isvc, "idle-svc-p99-ms")
	b.ReportMetric(tsvc, "train-svc-p99-ms")
	b.ReportMetric(idleOthers, "idle-others-cpu")
	b.ReportMetric(trainOthers, "train-others-cpu")
	b.ReportMetric(wps, "train-words/s")
	b.ReportMetric(float64(idleTimeouts), "idle-timeouts")
	b.ReportMetric(float64(trainTimeouts), "train-timeouts")
	b.ReportMetric(threads, "threads")
	if tp99 > 2*ip99 {
		b.Logf("p99 while training %.2f ms > 2x idle p99 %.2f ms", tp99, ip99)
	}
}

// sample is one request: latency from its scheduled send, and how late
// the client sent it.
type sample struct{ latency, lag time.Duration }

// load sends POST /queries at rate per second for d, each request on its
// own goroutine at its scheduled time, and returns one sample per request
// and how many timed out (their latency is counted as the client's
// timeout: a lower bound). Any other failure, or another status than 201,
// fails the benchmark after the phase.
func load(b *testing.B, client *http.Client, base, phase string, bodies [][]byte, rate int, d time.Duration) ([]sample, int) {
	n := int(d.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	out := make([]sample, n)
	var mu sync.Mutex
	var failures []string
	timeouts := 0
	var wg sync.WaitGroup
	start := time.Now().Add(interval)
	for i := range n {
		at := start.Add(time.Duration(i) * interval)
		time.Sleep(time.Until(at))
		wg.Go(func() {
			lag := time.Since(at)
			resp, err := client.Post(base+"/queries", "application/json", bytes.NewReader(bodies[i%len(bodies)]))
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated {
					err = fmt.Errorf("%s", resp.Status)
				}
			}
			out[i] = sample{time.Since(at), lag}
			if err != nil {
				mu.Lock()
				if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
					timeouts++
				} else {
					failures = append(failures, err.Error())
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(failures) > 0 {
		b.Fatalf("%s: %d of %d queries failed, first: %s", phase, len(failures), n, failures[0])
	}
	if timeouts > 0 {
		b.Logf("%s: %d of %d queries timed out after %v", phase, timeouts, n, client.Timeout)
	}
	return out, timeouts
}

// summary returns p50, p99 and max latency, p99 send lag and p99 of the
// latency from the actual send (svc: what a closed-loop client would see;
// for diagnosis only, it hides the client's own stalls), in ms.
func summary(s []sample) (p50, p99, maxMs, lag99, svc99 float64) {
	lat := make([]time.Duration, len(s))
	lag := make([]time.Duration, len(s))
	svc := make([]time.Duration, len(s))
	for i, x := range s {
		lat[i], lag[i], svc[i] = x.latency, x.lag, x.latency-x.lag
	}
	slices.Sort(lat)
	slices.Sort(lag)
	slices.Sort(svc)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	q := func(v []time.Duration, f float64) time.Duration {
		return v[min(len(v)-1, int(math.Ceil(f*float64(len(v))))-1)]
	}
	return ms(q(lat, 0.50)), ms(q(lat, 0.99)), ms(lat[len(lat)-1]), ms(q(lag, 0.99)), ms(q(svc, 0.99))
}

// cpuMark is the machine's busy CPU time and that of this process and the
// server at a moment (Linux /proc, in clock ticks of 1/100 s), to tell how
// much CPU other processes took during a phase: the figures of a phase in
// which others kept the cores busy are the machine's noise, not ours.
type cpuMark struct {
	at          time.Time
	pid         int
	busy, procs float64
}

func startCPU(pid int) cpuMark {
	busy, procs := cpuTicks(pid)
	return cpuMark{time.Now(), pid, busy, procs}
}

// others returns the cores other processes kept busy on average since
// the mark (0 where /proc cannot be read).
func (m cpuMark) others() float64 {
	busy, procs := cpuTicks(m.pid)
	return max(0, (busy-m.busy)-(procs-m.procs)) / 100 / time.Since(m.at).Seconds()
}

func cpuTicks(pid int) (busy, procs float64) {
	stat, _ := os.ReadFile("/proc/stat")
	line, _, _ := strings.Cut(string(stat), "\n")
	f := strings.Fields(line)
	for i := 1; i < len(f); i++ {
		v, _ := strconv.ParseFloat(f[i], 64)
		if i != 4 && i != 5 && i < 9 { // not idle, iowait, guest
			busy += v
		}
	}
	for _, p := range []string{"self", strconv.Itoa(pid)} {
		s, _ := os.ReadFile("/proc/" + p + "/stat")
		if _, rest, ok := strings.Cut(string(s), ") "); ok {
			if f := strings.Fields(rest); len(f) > 12 {
				u, _ := strconv.ParseFloat(f[11], 64) // utime, field 14
				k, _ := strconv.ParseFloat(f[12], 64) // stime, field 15
				procs += u + k
			}
		}
	}
	return busy, procs
}

type progressState struct {
	Status   string
	Progress struct {
		Phase          string
		Fraction       float64
		WordsPerSecond float64
	}
}

func (s progressState) training() bool {
	return s.Status == "training" && s.Progress.Phase == "training"
}

func modelProgress(b *testing.B, client *http.Client, base, id string) progressState {
	resp, err := client.Get(base + "/models/" + id)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct{ Model progressState }
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != http.StatusOK {
		b.Fatalf("GET /models/%s: %s %v", id, resp.Status, err)
	}
	return got.Model
}

func importVectors(b *testing.B, client *http.Client, base string, model []byte) string {
	resp, err := client.Post(base+"/models/import?name=bench50k", "application/octet-stream", bytes.NewReader(model))
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m struct {
		ID    string
		Model struct{ ID string }
	}
	json.Unmarshal(raw, &m)
	if m.ID == "" {
		m.ID = m.Model.ID
	}
	if resp.StatusCode != http.StatusCreated || m.ID == "" {
		b.Fatalf("POST /models/import: %s %s", resp.Status, raw)
	}
	return m.ID
}

// clusteredVectorsText is a word2vec text file of n words of dimension
// dim around k cluster centres (cosine ~0.6 within a cluster, ~0 across),
// cluster sizes skewed like a vocabulary's topics: neighbourhoods are
// denser than in uniform random vectors, as in trained models.
func clusteredVectorsText(n, dim, k int) []byte {
	rng := rand.New(rand.NewPCG(5, 6))
	centres := make([]float64, k*dim)
	for i := range centres {
		centres[i] = rng.NormFloat64()
	}
	zipf := rand.NewZipf(rng, 1.1, 1, uint64(k-1))
	out := fmt.Appendf(make([]byte, 0, n*dim*8), "%d %d\n", n, dim)
	for i := range n {
		c := int(zipf.Uint64())
		out = fmt.Appendf(out, "w%d", i)
		for j := range dim {
			v := 0.8*centres[c*dim+j] + 0.6*rng.NormFloat64()
			out = append(out, ' ')
			out = strconv.AppendFloat(out, v*0.1, 'f', 5, 32)
		}
		out = append(out, '\n')
	}
	return out
}

// textVocabulary returns the words of a word2vec text file.
func textVocabulary(model []byte) []string {
	lines := bytes.Split(model, []byte("\n"))
	var words []string
	for _, l := range lines[1:] {
		if w, _, ok := bytes.Cut(l, []byte(" ")); ok && len(w) > 0 {
			words = append(words, string(w))
		}
	}
	return words
}

func readMaybeGzip(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil || !strings.HasSuffix(path, ".gz") {
		return data, err
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

// logThreads reads the training threads serve logged at start.
func logThreads(logs string) float64 {
	m := regexp.MustCompile(`\bthreads=(\d+)`).FindStringSubmatch(logs)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return float64(n)
}
