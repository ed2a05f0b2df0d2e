package main

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkAuthOverhead measures what access control costs a query
// (issue 12): POST /queries at a fixed open-loop rate (200/s) on a
// 50k-word model of dimension 100, against two `serve` processes of the
// same binary started side by side: one open (loopback, no keys: no
// authentication and, on loopback, no rate limit) and one with a keys
// file (--keys; every query carries Authorization: Bearer, is looked up,
// and passes the per-key rate limit, set high enough never to refuse).
// Same load, same run: the phases alternate open, keys, keys, open, ...
// so drift of the machine falls on both; the figures are the p50 and
// p99 of each, and their differences.
//
//	go test ./cmd/ophicleide -run '^$' -bench AuthOverhead -benchtime 1x
//
// Environment (all optional), as BenchmarkQueriesWhileTraining:
// OPH_BENCH_BIN, OPH_BENCH_RATE (200), OPH_BENCH_SECONDS (measured per
// server, 20, in 4 phases each), OPH_BENCH_VECTORS. Latency counts from
// each request's scheduled send (no coordinated omission).
func BenchmarkAuthOverhead(b *testing.B) {
	bin := os.Getenv("OPH_BENCH_BIN")
	if bin == "" {
		bin = binary(b)
	}
	rate := envInt(b, "OPH_BENCH_RATE", 200)
	total := time.Duration(envInt(b, "OPH_BENCH_SECONDS", 20)) * time.Second
	const phases = 4 // per server
	phase := total / phases
	var model []byte
	if path := os.Getenv("OPH_BENCH_VECTORS"); path != "" {
		var err error
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
	const secret = "bench-secret-0123456789abcdef"
	keys := filepath.Join(b.TempDir(), "keys")
	if err := os.WriteFile(keys, []byte("# BenchmarkAuthOverhead\nbench write "+secret+"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	// A rate the load never reaches: the limiter runs but never refuses.
	never := strconv.Itoa(100 * rate)

	type server struct {
		name   string
		args   []string
		secret string
		proc   *proc
		client *http.Client
		base   string
		bodies [][]byte
		got    []sample
		tmo    int
	}
	servers := []*server{
		{name: "open", args: []string{"serve", "--workers", "0"}},
		{name: "keys", args: []string{"serve", "--workers", "0", "--keys", keys, "--rate", never, "--rate-burst", never}, secret: secret},
	}
	for b.Loop() {
		for _, s := range servers {
			p := startProc(b, bin, append(s.args, "--data-dir", b.TempDir())...)
			s.proc, s.base = p, p.base
			s.client = &http.Client{Timeout: 10 * time.Second, Transport: &withKey{secret: s.secret,
				base: &http.Transport{MaxIdleConnsPerHost: 512, DisableCompression: true}}}
			id := importVectors(b, s.client, s.base, model)
			s.bodies = make([][]byte, rate*int(phase/time.Second)+rate)
			rng := rand.New(rand.NewPCG(3, 4)) // the same words for both
			for i := range s.bodies {
				s.bodies[i] = fmt.Appendf(nil, `{"model": %q, "word": %q, "count": 10}`, id, words[rng.IntN(len(words))])
			}
		}
		// The keys server refuses a query without the key: it is on.
		resp, err := http.Post(servers[1].base+"/queries", "application/json", bytes.NewReader(servers[1].bodies[0]))
		if err != nil {
			b.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			b.Fatalf("POST /queries without a key to the server with --keys: %s, want 401", resp.Status)
		}
		// Warm up both: the model loads, connections open.
		for _, s := range servers {
			load(b, s.client, s.base, s.name+" warm-up", s.bodies, rate, 2*time.Second)
		}
		for i := range phases {
			order := servers
			if i%2 == 1 {
				order = []*server{servers[1], servers[0]}
			}
			for _, s := range order {
				got, n := load(b, s.client, s.base, s.name, s.bodies, rate, phase)
				s.got, s.tmo = append(s.got, got...), s.tmo+n
			}
		}
		for _, s := range servers {
			s.client.CloseIdleConnections()
			s.proc.stop()
		}
	}
	op50, op99, omax, olag, _ := summary(servers[0].got)
	kp50, kp99, kmax, klag, _ := summary(servers[1].got)
	b.ReportMetric(op50, "open-p50-ms")
	b.ReportMetric(op99, "open-p99-ms")
	b.ReportMetric(omax, "open-max-ms")
	b.ReportMetric(kp50, "keys-p50-ms")
	b.ReportMetric(kp99, "keys-p99-ms")
	b.ReportMetric(kmax, "keys-max-ms")
	b.ReportMetric(kp50-op50, "p50-overhead-ms")
	b.ReportMetric(kp99-op99, "p99-overhead-ms")
	b.ReportMetric(max(olag, klag), "lag-p99-ms")
	b.ReportMetric(float64(servers[0].tmo+servers[1].tmo), "timeouts")
}

// withKey sends every request with the key, if any, as
// `Authorization: Bearer`; both servers' requests are cloned alike, so
// the client's work is the same.
type withKey struct {
	secret string
	base   http.RoundTripper
}

func (t *withKey) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if t.secret != "" {
		r.Header.Set("Authorization", "Bearer "+t.secret)
	}
	return t.base.RoundTrip(r)
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (t *withKey) CloseIdleConnections() {
	if c, ok := t.base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
