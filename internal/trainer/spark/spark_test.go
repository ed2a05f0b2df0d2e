package spark

// Tests against a real Spark Connect server (sparktest: the one make
// test starts, or one started for this binary).

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/google/uuid"
	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/sparkconnect"
	"github.com/ophicleide/ophicleide/internal/sparkconnect/sparktest"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"github.com/ophicleide/ophicleide/internal/trainer/native"
)

func TestMain(m *testing.M) { os.Exit(sparktest.Main(m)) }

const book = "../../../testdata/pride-and-prejudice_1342-0.txt"

func realEngine(t *testing.T, schemes ...string) *Engine {
	t.Helper()
	e, err := New(Config{URL: sparktest.URL(t), Schemes: schemes, RetryFor: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

func fileSource(path string) corpus.Source {
	return corpus.Source{Name: filepath.Base(path), Open: func(context.Context) (io.ReadCloser, error) { return os.Open(path) }}
}

func unlimited() corpus.Limits { return corpus.Limits{MaxSourceBytes: -1, MaxTotalBytes: -1} }

// nativeWords trains the same inputs with the native engine (one epoch,
// as fast as possible) and returns its vocabulary in order.
func nativeWords(t *testing.T, p ophicleide.Params, src corpus.Source) []string {
	t.Helper()
	p.Engine, p.Partitions, p.MaxSentenceLength = "", 0, 0
	p.Epochs, p.Dim = 1, 10
	res, err := native.New(native.Config{Threads: 1}).Train(context.Background(), trainer.Job{Params: p,
		Inputs: trainer.Inputs{Sources: []corpus.Source{src}, Limits: unlimited()}})
	if err != nil {
		t.Fatal(err)
	}
	return res.Vectors.Words()
}

// TestTrainBook trains Pride and Prejudice on Spark, as the worker hands
// it over: sensible neighbours, and the native engine's vocabulary in the
// native engine's order.
func TestTrainBook(t *testing.T) {
	bookID := uuid.NewString() // session ids stay closed on the server: new ones each run
	e := realEngine(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var mu sync.Mutex
	var phases []string
	p := ophicleide.Params{Engine: "spark", Partitions: 2}
	res, err := e.Train(ctx, trainer.Job{ID: bookID, Attempt: 1, Params: p,
		Inputs: trainer.Inputs{Sources: []corpus.Source{fileSource(book)}, Limits: unlimited()},
		Progress: func(pr ophicleide.Progress) {
			mu.Lock()
			defer mu.Unlock()
			if len(phases) == 0 || phases[len(phases)-1] != pr.Phase {
				phases = append(phases, pr.Phase)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	// The test server ends answer streams after 1 s
	// (scripts/spark-connect.sh): a fit of seconds must have reattached.
	if n := e.conn.Reattaches(); n == 0 {
		t.Errorf("no reattach during a %.1f s fit: a Spark for these tests must run with spark.connect.execute.reattachable.senderMaxStreamDuration=1s", res.Stats.TrainingSeconds)
	} else {
		t.Logf("%d reattaches in %.1f s", n, res.Stats.TrainingSeconds)
	}
	if !slices.Equal(phases, []string{"fetching", "training"}) {
		t.Errorf("phases %v, want fetching then training", phases)
	}
	got := res.Vectors.Words()
	want := nativeWords(t, p, fileSource(book))
	if !slices.Equal(got, want) {
		t.Errorf("vocabulary differs from the native engine's: %d words against %d; first 10 %v / %v", len(got), len(want), got[:min(10, len(got))], want[:min(10, len(want))])
	}
	if res.Stats.CorpusWords < 120000 || res.Stats.VocabSize != len(got) || res.Vectors.Dim() != DefaultDim {
		t.Errorf("stats %+v, dim %d", res.Stats, res.Vectors.Dim())
	}
	nb, err := res.Vectors.Nearest("darcy", 10)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nb {
		names = append(names, n.Word)
	}
	t.Logf("darcy: %v", names)
	if !slices.ContainsFunc(names, func(w string) bool {
		return slices.Contains([]string{"bingley", "wickham", "collins", "elizabeth", "jane", "bennet", "lizzy"}, w)
	}) {
		t.Errorf("darcy's neighbours %v name none of the book's people", names)
	}
}

// TestPathsReadBySpark hands Spark a file:// path it reads and tokenises
// itself: the vocabulary is the native engine's on the same text (ASCII
// and curly apostrophes, no Gutenberg header: what the documented
// differences leave alike).
func TestPathsReadBySpark(t *testing.T) {
	raw, err := os.ReadFile(book)
	if err != nil {
		t.Fatal(err)
	}
	// The body only: Spark does not strip Project Gutenberg's header and licence.
	body := raw[bytes.Index(raw, []byte("Chapter 1")):bytes.Index(raw, []byte("*** END OF"))]
	path := filepath.Join(t.TempDir(), "body.txt")
	if err := os.WriteFile(path, body, 0o644); err != nil {
		t.Fatal(err)
	}
	e := realEngine(t, "file")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	pathsID := uuid.NewString()
	p := ophicleide.Params{Engine: "spark", Dim: 20}
	res, err := e.Train(ctx, trainer.Job{ID: pathsID, Attempt: 1, Params: p,
		Inputs: trainer.Inputs{Paths: []string{"file://" + path}, Limits: unlimited()}})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Vectors.Words()
	want := nativeWords(t, p, fileSource(path))
	gs, ws := slices.Sorted(slices.Values(got)), slices.Sorted(slices.Values(want))
	if !slices.Equal(gs, ws) {
		var only, missing []string
		for _, w := range gs {
			if _, ok := slices.BinarySearch(ws, w); !ok {
				only = append(only, w)
			}
		}
		for _, w := range ws {
			if _, ok := slices.BinarySearch(gs, w); !ok {
				missing = append(missing, w)
			}
		}
		t.Errorf("Spark's tokenizer gave %d words, ours %d: only Spark's %q, only ours %q", len(gs), len(ws), only, missing)
	}
	if res.Stats.CorpusWords < 120000 {
		t.Errorf("corpus words %d", res.Stats.CorpusWords)
	}
}

// TestTokenizerModes compares Spark SQL's tokens with internal/tokenize's
// on lines with apostrophes, digits, accents and punctuation, one line a
// sentence.
func TestTokenizerModes(t *testing.T) {
	lines := []string{
		"Don’t say Elizabeth's 'tis the dogs' 80's",
		"3.14 e-mail café ÉCOLE naïve",
		"Mr. Darcy—and   Bingley!  “Quoted”",
		"tab\tseparated\u00a0nbsp",
	}
	path := filepath.Join(t.TempDir(), "lines.txt")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e := realEngine(t, "file")
	for _, mode := range tokenize.Modes {
		var want []string
		for _, l := range lines {
			sc, err := tokenize.NewScanner(strings.NewReader(l), tokenize.Options{Mode: mode, KeepGutenberg: true})
			if err != nil {
				t.Fatal(err)
			}
			for sc.Scan() {
				for _, w := range sc.Sentence() {
					want = append(want, string(w))
				}
			}
		}
		got := sparkTokens(t, e, mode, path)
		if !slices.Equal(got, want) {
			t.Errorf("%s: Spark's tokens\n%q\nours\n%q", mode, got, want)
		}
	}
}

// A path Spark cannot read fails with words naming it.
func TestPathSparkCannotRead(t *testing.T) {
	missingID := uuid.NewString()
	e := realEngine(t, "file")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err := e.Train(ctx, trainer.Job{ID: missingID, Attempt: 1, Params: ophicleide.Params{Engine: "spark"},
		Inputs: trainer.Inputs{Paths: []string{"file:///nonexistent/ophicleide/corpus.txt"}, Limits: unlimited()}})
	if ophicleide.ErrorCode(err) != ophicleide.EINVALID || !strings.Contains(ophicleide.ErrorMessage(err), "Spark cannot read an input") ||
		!strings.Contains(ophicleide.ErrorMessage(err), "/nonexistent/ophicleide/corpus.txt") {
		t.Fatalf("err %v (%s)", err, ophicleide.ErrorMessage(err))
	}
}

// Cancelling a fit (a deleted model, a lost lease, shutdown) ends Train
// soon, and the session is released: its operation is gone from the server.
func TestCancelStopsFit(t *testing.T) {
	cancelID := uuid.NewString()
	e := realEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	training := make(chan struct{})
	var once sync.Once
	done := make(chan error, 1)
	go func() {
		_, err := e.Train(ctx, trainer.Job{ID: cancelID, Attempt: 1, Params: ophicleide.Params{Engine: "spark", Epochs: 50},
			Inputs: trainer.Inputs{Sources: []corpus.Source{fileSource(book)}, Limits: unlimited()},
			Progress: func(pr ophicleide.Progress) {
				if pr.Phase == "training" {
					once.Do(func() { close(training) })
				}
			}})
		done <- err
	}()
	select {
	case <-training:
	case err := <-done:
		t.Fatalf("Train ended before training: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("no training progress in 2 minutes")
	}
	time.Sleep(2 * time.Second) // well inside the fit (50 epochs take minutes)
	cancelled := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Train: %v, want context.Canceled", err)
		}
		t.Logf("Train returned %v after the cancel", time.Since(cancelled).Round(time.Millisecond))
	case <-time.After(45 * time.Second):
		t.Fatal("Train still running 45 s after its context was cancelled")
	}
	assertSessionGone(t, e, sessionID(cancelID, 1))
}

// A later attempt at a job releases the session an earlier, killed,
// worker left fitting on the server.
func TestLaterAttemptReleasesEarlierSession(t *testing.T) {
	takeoverID := uuid.NewString()
	e := realEngine(t)
	// Attempt 1: a fit left running, as by a worker killed mid-fit (its
	// context never ends, nothing releases its session).
	orphan, stop := context.WithCancel(context.Background())
	defer stop()
	training := make(chan struct{})
	var once sync.Once
	first := make(chan error, 1)
	e1 := realEngineNoClose(t, e.cfg)
	go func() {
		_, err := e1.Train(orphan, trainer.Job{ID: takeoverID, Attempt: 1, Params: ophicleide.Params{Engine: "spark", Epochs: 50},
			Inputs: trainer.Inputs{Sources: []corpus.Source{fileSource(book)}, Limits: unlimited()},
			Progress: func(pr ophicleide.Progress) {
				if pr.Phase == "training" {
					once.Do(func() { close(training) })
				}
			}})
		first <- err
	}()
	select {
	case <-training:
	case <-time.After(2 * time.Minute):
		t.Fatal("attempt 1 did not start training")
	}
	time.Sleep(2 * time.Second)
	// The killed worker's connection goes away with it.
	e1.conn.Close()
	// Attempt 2, on another worker, releases attempt 1's session first.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	if _, err := e.Train(ctx, trainer.Job{ID: takeoverID, Attempt: 2, Params: ophicleide.Params{Engine: "spark", Dim: 10},
		Inputs: trainer.Inputs{Sources: []corpus.Source{fileSource(book)}, Limits: unlimited()}}); err != nil {
		t.Fatal(err)
	}
	assertSessionGone(t, e, sessionID(takeoverID, 1))
}

func realEngineNoClose(t *testing.T, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// assertSessionGone checks that the server no longer has the session:
// using its id again is refused as a closed session.
func assertSessionGone(t *testing.T, e *Engine, id string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := e.conn.Session(id).Version(ctx)
	if err == nil || !strings.Contains(err.Error(), "SESSION_CLOSED") {
		t.Errorf("session %s after release: %v, want it refused as closed", id, err)
	}
}

// sparkTokens are the tokens Spark SQL makes of the file at path in
// mode, in order.
func sparkTokens(t *testing.T, e *Engine, mode tokenize.Mode, path string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	sess := e.conn.Session(uuid.NewString())
	defer sess.Close(context.Background())
	var out []string
	rel := sparkconnect.TextFiles([]string{"file://" + path}).Select(tokensExpr(mode) + " AS tokens")
	err := sess.Rows(ctx, rel, nil, func(rec arrow.Record) error {
		l := rec.Column(0).(*array.List)
		words := l.ListValues().(*array.String)
		for i := 0; i < l.Len(); i++ {
			s, e := l.ValueOffsets(i)
			for j := s; j < e; j++ {
				out = append(out, words.Value(int(j)))
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
