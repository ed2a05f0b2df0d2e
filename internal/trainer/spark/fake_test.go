package spark

// Tests of the engine against sparkfake, a FAKE Spark Connect server, for
// what a real Spark cannot be made to do on demand: an old version, a
// chosen error class, a server path in an error, early-ended answer
// streams, a fit that blocks until interrupted. Train's real behaviour
// is tested against a real Spark in spark_test.go.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/sparkconnect/sparkfake"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"google.golang.org/grpc/codes"
)

func fakeEngine(t *testing.T, url string, schemes ...string) *Engine {
	t.Helper()
	e, err := New(Config{URL: url, Schemes: schemes, TempDir: t.TempDir(), RetryFor: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// fakeJob is a job over in-memory texts, one source each.
func fakeJob(id string, attempt int, p ophicleide.Params, texts ...string) trainer.Job {
	var srcs []corpus.Source
	for i, text := range texts {
		srcs = append(srcs, corpus.Source{Name: fmt.Sprintf("text%d", i), Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(strings.NewReader(text)), nil
		}})
	}
	return trainer.Job{ID: id, Attempt: attempt, Params: p,
		Inputs: trainer.Inputs{Sources: srcs, Limits: corpus.Limits{MaxSourceBytes: -1, MaxTotalBytes: -1}}}
}

func fakeContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// appError is err's *ophicleide.Error, which must be EINVALID.
func appError(t *testing.T, err error) *ophicleide.Error {
	t.Helper()
	var ae *ophicleide.Error
	if !errors.As(err, &ae) || ae.Code != ophicleide.EINVALID {
		t.Fatalf("Train = %v (%T), want an EINVALID *ophicleide.Error", err, err)
	}
	return ae
}

func fakeRequests(f *sparkfake.Server, method string) []sparkfake.Request {
	var out []sparkfake.Request
	for _, r := range f.Requests() {
		if r.Method == method {
			out = append(out, r)
		}
	}
	return out
}

const (
	text1 = "The cat sat on the mat.\n\nThe dog sat on the log."
	text2 = "A log, a cat."
)

func TestFakeTrain(t *testing.T) {
	// Answers in streams of two (reattaching), vectors three a batch.
	f := sparkfake.Start(t, sparkfake.Options{EndStreamAfter: 2, Progress: 3, BatchRows: 3})
	e := fakeEngine(t, f.URL)
	var progress []ophicleide.Progress
	job := fakeJob("m1", 1, ophicleide.Params{Dim: 4, MinCount: 1}, text1, text2)
	job.Progress = func(p ophicleide.Progress) { progress = append(progress, p) }
	res, err := e.Train(fakeContext(t), job)
	if err != nil {
		t.Fatal(err)
	}
	// By count; ties by first appearance across the inputs (cat before
	// sat before on before log before a); the fake returns them sorted.
	want := []string{"the", "cat", "sat", "on", "log", "a", "mat", "dog"}
	if got := res.Vectors.Words(); !reflect.DeepEqual(got, want) {
		t.Errorf("words %v, want %v", got, want)
	}
	if res.Vectors.Dim() != 4 {
		t.Errorf("dim %d", res.Vectors.Dim())
	}
	for _, w := range want {
		if v, err := res.Vectors.Vector(w); err != nil || !reflect.DeepEqual(v, sparkfake.Vector(w, 4)) {
			t.Errorf("vector of %s = %v, %v; want %v", w, v, err, sparkfake.Vector(w, 4))
		}
	}
	if res.Stats.CorpusWords != 16 || res.Stats.VocabSize != 8 || len(res.Stats.Sources) != 2 {
		t.Errorf("stats %+v", res.Stats)
	}
	if got := f.Uploaded(); len(got) != 3 || strings.Join(got[2], " ") != "a log a cat" {
		t.Errorf("uploaded sentences %q", got)
	}

	sess := sessionID("m1", 1)
	fits := 0
	for _, r := range fakeRequests(f, "ExecutePlan") {
		if r.Session != sess {
			t.Errorf("an execution in session %s, not %s", r.Session, sess)
		}
		if r.Kind == "fit" {
			fits++
			for k, v := range map[string]string{"inputCol": "tokens", "vectorSize": "4", "minCount": "1", "windowSize": "5", "maxIter": "1",
				"stepSize": "0.025", "seed": "1", "numPartitions": "1", "maxSentenceLength": "1000"} {
				if r.Params[k] != v {
					t.Errorf("fit param %s = %q, want %q", k, r.Params[k], v)
				}
			}
		}
	}
	var kinds []string
	for _, r := range fakeRequests(f, "ExecutePlan") {
		kinds = append(kinds, r.Kind)
	}
	if !reflect.DeepEqual(kinds, []string{"fit", "counts", "total", "vectors", "delete"}) {
		t.Errorf("executions %v", kinds)
	}
	if len(fakeRequests(f, "ReattachExecute")) == 0 {
		t.Error("no reattach, with streams of two answers")
	}
	if rs := fakeRequests(f, "ReleaseSession"); len(rs) != 1 || rs[0].Session != sess {
		t.Errorf("ReleaseSession requests %+v", rs)
	}
	if all := f.Requests(); all[len(all)-1].Method != "ReleaseSession" {
		t.Errorf("the last request is %s, not ReleaseSession", all[len(all)-1].Method)
	}
	training := false
	for _, p := range progress {
		if p.Phase == "training" && p.Fraction > 0 && p.Fraction < 1 {
			training = true
		}
	}
	if !training || progress[len(progress)-1].Fraction != 1 {
		t.Errorf("progress %+v: want the fit's stages, then 1", progress)
	}
}

func TestFakeNoWordOftenEnough(t *testing.T) {
	f := sparkfake.Start(t, sparkfake.Options{})
	// minCount 5 by default: "the" is seen 4 times.
	_, err := fakeEngine(t, f.URL).Train(fakeContext(t), fakeJob("m1", 1, ophicleide.Params{Dim: 4}, text1))
	if ae := appError(t, err); !strings.Contains(ae.Message, "minCount") {
		t.Errorf("message %q", ae.Message)
	}
}

func TestFakeSparkTooOld(t *testing.T) {
	f := sparkfake.Start(t, sparkfake.Options{Version: "3.5.1"})
	_, err := fakeEngine(t, f.URL).Train(fakeContext(t), fakeJob("m1", 1, ophicleide.Params{MinCount: 1}, text1))
	ae := appError(t, err)
	if !strings.Contains(ae.Message, "Spark 4.0 or later") || !strings.Contains(ae.Message, "3.5.1") {
		t.Errorf("message %q", ae.Message)
	}
	if rs := fakeRequests(f, "AddArtifacts"); len(rs) != 0 {
		t.Error("uploaded to a Spark too old")
	}
	if rs := fakeRequests(f, "ReleaseSession"); len(rs) != 1 {
		t.Errorf("ReleaseSession requests %+v", rs)
	}
}

func TestFakePathNotFound(t *testing.T) {
	const path = "s3a://bucket/missing.txt"
	f := sparkfake.Start(t, sparkfake.Options{Fail: map[string]error{
		"fit": sparkfake.Status(codes.Internal, "PATH_NOT_FOUND", "[PATH_NOT_FOUND] Path does not exist: "+path+". SQLSTATE: 42K03"),
	}})
	job := fakeJob("m1", 1, ophicleide.Params{MinCount: 1})
	job.Inputs.Paths = []string{path}
	_, err := fakeEngine(t, f.URL, "s3a").Train(fakeContext(t), job)
	ae := appError(t, err)
	if !strings.HasPrefix(ae.Message, "Spark cannot read an input: ") || !strings.Contains(ae.Message, path) {
		t.Errorf("message %q", ae.Message)
	}
	if rs := fakeRequests(f, "AddArtifacts"); len(rs) != 0 {
		t.Error("uploaded rows for a path Spark reads itself")
	}
}

func TestFakeUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	_, port, _ := net.SplitHostPort(addr)
	start := time.Now()
	_, err = fakeEngine(t, "sc://"+addr).Train(fakeContext(t), fakeJob("m1", 1, ophicleide.Params{MinCount: 1}, text1))
	ae := appError(t, err)
	if !strings.Contains(ae.Message, "Spark Connect server cannot be reached") {
		t.Errorf("message %q", ae.Message)
	}
	if strings.Contains(ae.Message, "127.0.0.1") || strings.Contains(ae.Message, port) {
		t.Errorf("message %q names the server's address", ae.Message)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Train took %s with RetryFor 300ms", d)
	}
}

func TestFakeServerPathsStayInTheLog(t *testing.T) {
	const secret = "/opt/spark/work/x"
	for _, err := range []error{
		sparkfake.Status(codes.Internal, "", "java.io.IOException: cannot write "+secret+"/blockmgr-1 on spark-0.cluster.local"),
		sparkfake.Status(codes.Internal, "INTERNAL_ERROR", "[INTERNAL_ERROR] failed at "+secret+" SQLSTATE: XX000"),
	} {
		f := sparkfake.Start(t, sparkfake.Options{Fail: map[string]error{"fit": err}})
		_, terr := fakeEngine(t, f.URL).Train(fakeContext(t), fakeJob("m1", 1, ophicleide.Params{MinCount: 1}, text1))
		ae := appError(t, terr)
		if strings.Contains(ae.Message, secret) || strings.Contains(ae.Message, "cluster.local") || !strings.Contains(ae.Message, "Spark could not train the model") {
			t.Errorf("message %q", ae.Message)
		}
	}
}

func TestFakeCancelInterruptsFit(t *testing.T) {
	f := sparkfake.Start(t, sparkfake.Options{BlockFit: true, Progress: 1})
	e := fakeEngine(t, f.URL)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := e.Train(ctx, fakeJob("m1", 1, ophicleide.Params{MinCount: 1}, text1))
		done <- err
	}()
	select {
	case <-f.Blocked():
	case err := <-done:
		t.Fatalf("Train ended before the fit blocked: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("the fit never blocked")
	}
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Train = %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Train did not return after its context was cancelled")
	}
	sess := sessionID("m1", 1)
	if in := fakeRequests(f, "Interrupt"); len(in) != 1 || in[0].Session != sess || in[0].OperationTag != "ophicleide-"+sess {
		t.Errorf("Interrupt requests %+v", in)
	}
	if rs := fakeRequests(f, "ReleaseSession"); len(rs) != 1 || rs[0].Session != sess {
		t.Errorf("ReleaseSession requests %+v", rs)
	}
}

// A context that ends while Train talks to Spark is the caller's end,
// not the model's failure.
func TestFakeCancelledIsNoModelFailure(t *testing.T) {
	f := sparkfake.Start(t, sparkfake.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := fakeEngine(t, f.URL).Train(ctx, fakeJob("m1", 1, ophicleide.Params{MinCount: 1}, text1))
	if !errors.Is(err, context.Canceled) || ophicleide.ErrorCode(err) == ophicleide.EINVALID {
		t.Errorf("Train with a cancelled context = %v (%s), want context.Canceled", err, ophicleide.ErrorCode(err))
	}
}

func TestFakeLaterAttemptReleasesEarlier(t *testing.T) {
	f := sparkfake.Start(t, sparkfake.Options{})
	if _, err := fakeEngine(t, f.URL).Train(fakeContext(t), fakeJob("m1", 3, ophicleide.Params{MinCount: 1}, text1)); err != nil {
		t.Fatal(err)
	}
	rs := f.Requests()
	if len(rs) < 3 || rs[0].Method != "ReleaseSession" || rs[0].Session != sessionID("m1", 1) ||
		rs[1].Method != "ReleaseSession" || rs[1].Session != sessionID("m1", 2) {
		t.Fatalf("first requests %+v, want the releases of attempts 1 and 2", rs[:min(len(rs), 3)])
	}
	for _, r := range rs[2:] {
		if r.Session != sessionID("m1", 3) {
			t.Errorf("%s in session %s, not attempt 3's", r.Method, r.Session)
		}
	}
}

func TestFakeValidateRefusals(t *testing.T) {
	f := sparkfake.Start(t, sparkfake.Options{})
	e := fakeEngine(t, f.URL)
	for _, c := range []struct {
		p     ophicleide.Params
		field string
	}{
		{ophicleide.Params{Model: "cbow"}, "model"},
		{ophicleide.Params{Loss: "ns"}, "loss"},
		{ophicleide.Params{Negative: 5}, "negative"},
		{ophicleide.Params{Sample: 1e-3}, "sample"},
		{ophicleide.Params{MaxVocab: 1000}, "maxVocab"},
		{ophicleide.Params{MinN: 3, MaxN: 6}, "minn"},
		{ophicleide.Params{MaxN: 6}, "maxn"},
		{ophicleide.Params{Bucket: 1000}, "bucket"},
		{ophicleide.Params{Seed: math.MaxInt64 + 1}, "seed"},
		{ophicleide.Params{Partitions: MaxPartitions + 1}, "partitions"},
	} {
		for _, err := range []error{e.Validate(c.p), func() error {
			_, err := e.Train(fakeContext(t), fakeJob("m1", 1, c.p, text1))
			return err
		}()} {
			var ae *ophicleide.Error
			if !errors.As(err, &ae) || ae.Code != ophicleide.EINVALID || ae.Field != c.field {
				t.Errorf("%+v: %v, want EINVALID naming the field %s", c.p, err, c.field)
			}
		}
	}
	for _, ok := range []ophicleide.Params{{}, {Model: "skipgram", Loss: "hs", Sample: -1, Seed: math.MaxInt64, Partitions: MaxPartitions}} {
		if err := e.Validate(ok); err != nil {
			t.Errorf("Validate(%+v) = %v", ok, err)
		}
	}
	if rs := f.Requests(); len(rs) != 0 {
		t.Errorf("refused jobs reached Spark: %+v", rs)
	}
}
