package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bolt"
	"github.com/ophicleide/ophicleide/internal/mongo"
	"github.com/ophicleide/ophicleide/internal/mongo/mongotest"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// TestQueryRole: an api process with a worker trains a model; a read-api
// process on the same database answers queries, lists the queries of
// every replica, refuses writes with 405 naming the api role, and stops
// serving a model the api process deleted (no stale cache).
func TestQueryRole(t *testing.T) {
	db := mongotest.URL(t)
	src := books(t)
	api, stopAPI, _ := startRoleIn(t, "api", t.TempDir(), "--allow-private-urls", "--mongo", db, "--workers", "1")
	defer stopAPI()
	query, stopQuery, _ := startRoleIn(t, "read-api", t.TempDir(), "--mongo", db)
	defer stopQuery()

	var m struct{ ID string }
	if code, _ := call(t, "POST", api+"/models", `{"name": "austen", "urls": ["`+src.URL+`/austen.txt"], "params": {"epochs": 2}}`, &m); code != 201 {
		t.Fatalf("create: %d", code)
	}
	waitModel(t, query, m.ID, "ready") // the read-api role reads the model's state from the database

	for _, base := range []string{api, query} {
		var q struct{ Query struct{ ID string } }
		if code, _ := call(t, "POST", base+"/queries", `{"model": "`+m.ID+`", "word": "darcy"}`, &q); code != 201 {
			t.Fatalf("POST /queries on %s: %d", base, code)
		}
	}
	for _, base := range []string{api, query} {
		var list struct{ Queries []struct{ Word string } }
		if call(t, "GET", base+"/queries", "", &list); len(list.Queries) != 2 {
			t.Fatalf("GET /queries on %s lists %d queries, want both replicas' 2", base, len(list.Queries))
		}
	}

	var e struct{ Errors []struct{ Details string } }
	code, _ := call(t, "POST", query+"/models", `{"name": "x", "urls": ["`+src.URL+`/alice.txt"]}`, &e)
	if code != 405 || len(e.Errors) != 1 || !strings.Contains(e.Errors[0].Details, "api role") {
		t.Fatalf("POST /models on the read-api role: %d %+v", code, e)
	}
	if code, _ := call(t, "DELETE", query+"/models/"+m.ID, "", nil); code != 405 {
		t.Fatalf("DELETE on the read-api role: %d", code)
	}

	if code, _ := call(t, "DELETE", api+"/models/"+m.ID, "", nil); code != 204 {
		t.Fatalf("delete on the api role: %d", code)
	}
	if code, _ := call(t, "POST", query+"/queries", `{"model": "`+m.ID+`", "word": "darcy"}`, nil); code != 404 {
		t.Fatalf("read-api role after the model was deleted elsewhere: %d, want 404", code)
	}
}

// TestScaleOutMultiProcess: one database, two api processes and three
// worker processes of the real binary. 20 models are submitted through
// both api processes; the worker that takes the one whose download hangs
// is killed with SIGKILL mid-training. All 20 end ready, each completed
// exactly once (counted in the workers' logs), and both api processes
// answer queries.
func TestScaleOutMultiProcess(t *testing.T) {
	bin := binary(t)
	db := mongotest.URL(t)
	src := books(t)
	hsrc, hanging, _ := hangingBook(t)
	common := []string{"--mongo", db, "--allow-private-urls", "--threads", "1"}
	apis := []*proc{
		startProc(t, bin, append([]string{"api", "--workers", "0"}, common...)...),
		startProc(t, bin, append([]string{"api", "--workers", "0"}, common...)...),
	}
	var workers []*proc
	for range 3 {
		workers = append(workers, startProc(t, bin, append([]string{"worker", "--lease", "1s", "--poll", "100ms"}, common...)...))
	}

	const n = 20
	ids := make([]string, n)
	for i := range n {
		url := src.URL + "/alice.txt"
		if i == 0 {
			url = hsrc.URL + "/alice.txt"
		}
		var m struct{ ID string }
		body := fmt.Sprintf(`{"name": "alice-%d", "urls": [%q], "params": {"dim": 20, "minCount": 2, "epochs": 1}}`, i, url)
		if code, _ := call(t, "POST", apis[i%2].base+"/models", body, &m); code != 201 {
			t.Fatalf("create %d: %d", i, code)
		}
		ids[i] = m.ID
	}

	// Kill the worker that holds the hanging download, mid-training.
	<-hanging
	var victim *proc
	eventually(t, time.Minute, 10*time.Millisecond, func() (bool, string) {
		for _, w := range workers {
			if strings.Contains(w.logs.String(), "model="+ids[0]) {
				victim = w
			}
		}
		return victim != nil, "no worker logs model " + ids[0]
	})
	if err := victim.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}

	for i, id := range ids {
		waitModel(t, apis[(i+1)%2].base, id, "ready")
	}
	// A worker logs "model ready" after the store says so: give the last
	// lines time to come through the pipes.
	ready := regexp.MustCompile(`msg="model ready" .*err=<nil>`)
	modelOf := regexp.MustCompile(`model=(\S+)`)
	var completions map[string]int
	eventually(t, 10*time.Second, 20*time.Millisecond, func() (bool, string) {
		completions = map[string]int{}
		for _, w := range workers {
			for _, line := range strings.Split(w.logs.String(), "\n") {
				if ready.MatchString(line) {
					completions[modelOf.FindStringSubmatch(line)[1]]++
				}
			}
		}
		return len(completions) == n, fmt.Sprintf("models ready once or more: %v, want %d", completions, n)
	})
	for _, id := range ids {
		if completions[id] != 1 {
			t.Errorf("model %s completed %d times, want once; its log lines:", id, completions[id])
			for i, w := range workers {
				for _, line := range strings.Split(w.logs.String(), "\n") {
					if strings.Contains(line, id) {
						t.Logf("worker %d (victim %v): %s", i, w == victim, line)
					}
				}
			}
		}
	}
	// The hanging model was taken over after the kill: a second attempt,
	// by another worker.
	takeover := regexp.MustCompile(`msg="model ready" worker=\S+ model=` + ids[0] + ` attempt=2 .*err=<nil>`)
	for _, w := range workers {
		if w != victim && takeover.MatchString(w.logs.String()) {
			takeover = nil
			break
		}
	}
	if takeover != nil {
		t.Errorf("no other worker completed model %s as its second attempt", ids[0])
	}
	for _, a := range apis {
		var q struct {
			Query struct{ Results [][2]any }
		}
		if code, _ := call(t, "POST", a.base+"/queries", `{"model": "`+ids[0]+`", "word": "alice"}`, &q); code != 201 || len(q.Query.Results) == 0 {
			t.Fatalf("query through %s: %d %+v", a.base, code, q)
		}
	}
}

// BenchmarkReplicaQueries measures queries through an api replica on
// MongoDB (FerretDB here): a fresh process's first POST /queries against a
// stored 60k x 100 model (cold model cache: the vectors come from GridFS)
// and the next 200 (warm). The peer in the same run is the same model in
// the embedded store. Run with a few iterations:
//
//	go test ./cmd/ophicleide -run '^$' -bench ReplicaQueries -benchtime 3x
func BenchmarkReplicaQueries(b *testing.B) {
	bin := binary(b)
	set := randomVectors(b, 60_000, 100)
	now := time.Now().UTC()
	m := &ophicleide.Model{ID: "7d3c9a84-0b4e-4c1e-9a57-6c0de0b1a002", Name: "replica", Status: ophicleide.StatusReady,
		URLs: []string{}, Created: now, Updated: now}
	write := func(w io.Writer) error { return vectors.WriteCompact(w, set) }
	for _, st := range []struct {
		name string
		args func(b *testing.B) []string
	}{
		{"mongo", func(b *testing.B) []string {
			db := mongotest.URL(b)
			s, err := mongo.Open(b.Context(), mongo.Config{URL: db})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.ImportModel(b.Context(), m, write); err != nil {
				b.Fatal(err)
			}
			return []string{"--mongo", db}
		}},
		{"embedded", func(b *testing.B) []string {
			dir := b.TempDir()
			s, err := bolt.Open(b.Context(), dir)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			if err := s.ImportModel(b.Context(), m, write); err != nil {
				b.Fatal(err)
			}
			return []string{"--data-dir", dir}
		}},
	} {
		b.Run(st.name, func(b *testing.B) {
			args := append([]string{"api", "--workers", "0"}, st.args(b)...)
			body := `{"model": "` + m.ID + `", "word": "w17"}`
			var cold time.Duration
			var warm []time.Duration
			for b.Loop() {
				p := startProc(b, bin, args...)
				t0 := time.Now()
				postQuery(b, p, body)
				cold += time.Since(t0)
				for range 200 {
					t0 := time.Now()
					postQuery(b, p, body)
					warm = append(warm, time.Since(t0))
				}
				p.stop()
			}
			slices.Sort(warm)
			b.ReportMetric(float64(cold.Microseconds())/1000/float64(b.N), "cold-ms")
			b.ReportMetric(float64(warm[len(warm)/2].Microseconds())/1000, "warm-ms-p50")
			b.ReportMetric(float64(warm[len(warm)*99/100].Microseconds())/1000, "warm-ms-p99")
		})
	}
}

func postQuery(b *testing.B, p *proc, body string) {
	resp, err := http.Post(p.base+"/queries", "application/json", strings.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		b.Fatalf("POST /queries: %s", resp.Status)
	}
}

// TestMongoCredentialsNeverLogged: a password in the URL or in the secret
// files is not written to the log, even when the database cannot be
// reached; missing secret files are a clear error.
func TestMongoCredentialsNeverLogged(t *testing.T) {
	secrets := t.TempDir()
	os.WriteFile(filepath.Join(secrets, "username"), []byte("oph\n"), 0o600)
	os.WriteFile(filepath.Join(secrets, "password"), []byte("file-s3cret\n"), 0o600)
	for _, c := range []struct {
		args []string
		want string // in the log
	}{
		{[]string{"--mongo", "mongodb://oph:url-s3cret@127.0.0.1:1/ophicleide"}, "oph:xxxxx@127.0.0.1:1"},
		{[]string{"--mongo", "mongodb://127.0.0.1:1/ophicleide", "--mongo-secret-dir", secrets}, "does not answer"},
		{[]string{"--mongo", "127.0.0.1:1", "--mongo-secret-dir", t.TempDir()}, "reading the MongoDB username"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		logs := &syncBuffer{}
		e := &env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: logs}
		code := runEnv(ctx, append([]string{"api", "--addr", "127.0.0.1:0"}, c.args...), e)
		cancel()
		out := logs.String()
		if code == 0 {
			t.Fatalf("%v: started without a database", c.args)
		}
		if strings.Contains(out, "s3cret") {
			t.Fatalf("%v: a password reached the log:\n%s", c.args, out)
		}
		if !strings.Contains(out, c.want) {
			t.Fatalf("%v: log lacks %q:\n%s", c.args, c.want, out)
		}
	}
}
