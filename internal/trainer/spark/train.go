package spark

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/sparkconnect"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Train implements trainer.Engine: upload or read the sentences, fit,
// read the vectors and counts back, release the session.
func (e *Engine) Train(ctx context.Context, job trainer.Job) (*trainer.Result, error) {
	if err := Validate(job.Params); err != nil {
		return nil, err
	}
	set := settingsOf(job.Params)
	attempt := max(job.Attempt, 1)
	id := job.ID
	if id == "" {
		id = "offline-" + time.Now().UTC().Format(time.RFC3339Nano)
	}
	log := e.log.With("model", job.ID, "attempt", attempt)
	sess := e.conn.Session(sessionID(id, attempt))
	defer func() {
		// Frees the model, the uploaded rows and anything still running.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := sess.Close(cctx); err != nil {
			log.Warn("spark: releasing the session", "session", sess.ID(), "err", err)
		}
	}()
	// A worker killed during an earlier attempt left its session (and
	// perhaps a running fit) on the server: release it first.
	for a := 1; a < attempt; a++ {
		old := e.conn.Session(sessionID(id, a))
		if err := old.Close(ctx); err != nil {
			log.Warn("spark: releasing an earlier attempt's session", "session", old.ID(), "err", err)
		}
	}
	var version string
	if err := e.retry(ctx, "version", func() (err error) {
		version, err = sess.Version(ctx)
		return err
	}); err != nil {
		return nil, failure(err)
	}
	if err := checkVersion(version); err != nil {
		return nil, err
	}
	log.Info("spark: training", "session", sess.ID(), "spark", version, "endpoint", e.conn.Endpoint().String())

	p := progress{job: job}
	p.report("fetching", 0, 0)
	data, local, err := e.dataset(ctx, sess, job, set)
	if err != nil {
		return nil, failure(err)
	}
	start := time.Now()
	p.start = start
	p.stages = expectedStages(set.epochs)
	p.words = local.words * int64(set.epochs)
	p.report("training", 0, 0)
	ref, warning, err := sess.Fit(ctx, Estimator, set.params(), data, p.fit)
	if err != nil {
		return nil, failure(err)
	}
	if warning != "" {
		log.Info("spark: fit warning", "warning", warning)
	}
	counts, total, err := e.counts(ctx, sess, data, set.minCount)
	if err != nil {
		return nil, failure(err)
	}
	vs, err := readVectors(ctx, sess, ref, set.dim, counts, local.first)
	if err != nil {
		return nil, failure(err)
	}
	if err := sess.Delete(ctx, ref); err != nil {
		log.Warn("spark: deleting the model", "err", err)
	}
	p.report("training", 1, 0)
	secs := time.Since(start).Seconds()
	var wps float64
	if secs > 0 {
		wps = float64(total) * float64(set.epochs) / secs
	}
	// The effective parameters: Spark MLlib's Word2Vec is skip-gram with
	// hierarchical softmax and no subsampling (sample -1 in our terms).
	eff := ophicleide.Params{Engine: "spark", Model: "skipgram", Loss: "hs", Dim: set.dim, Window: set.window,
		MinCount: set.minCount, Sample: -1, Epochs: set.epochs, Alpha: set.alpha, Seed: uint64(set.seed),
		Tokenizer: string(cmp.Or(set.tokenizer, tokenize.Unicode)), Partitions: set.partitions, MaxSentenceLength: set.maxSentence}
	return &trainer.Result{Vectors: vs, Stats: ophicleide.Stats{
		CorpusWords: total, VocabSize: vs.Len(), TrainingSeconds: secs, WordsPerSecond: wps, Sources: local.sources,
	}, Params: eff}, nil
}

// localInputs describes the inputs the worker read.
type localInputs struct {
	sources []ophicleide.SourceStats // and the paths, with no figures
	words   int64                    // tokens read here
	// first is each word's first position in the inputs read here: ties
	// of frequency are broken by it, as the native engine does.
	first map[string]int
}

// dataset is the relation of the job's sentences (column tokens): the
// worker's inputs tokenised here and uploaded, then the paths Spark
// reads itself.
func (e *Engine) dataset(ctx context.Context, sess *sparkconnect.Session, job trainer.Job, set settings) (sparkconnect.Relation, localInputs, error) {
	var (
		rel  sparkconnect.Relation
		have bool
		in   = localInputs{first: map[string]int{}}
	)
	if len(job.Inputs.Sources) > 0 {
		rows, err := sparkconnect.NewRowsFile(e.cfg.TempDir)
		if err != nil {
			return rel, in, fmt.Errorf("spark: a temporary file for the sentences: %w", err)
		}
		defer rows.Close()
		src := job.Inputs.Sentences(ctx, tokenize.Options{Mode: set.tokenizer})
		for src.Scan() {
			sent := src.Sentence()
			for _, w := range sent {
				if _, ok := in.first[string(w)]; !ok {
					in.first[string(w)] = len(in.first)
				}
			}
			in.words += int64(len(sent))
			if err := rows.Add(sent); err != nil {
				src.Close()
				return rel, in, err
			}
		}
		err = src.Err()
		src.Close()
		if err != nil {
			return rel, in, err
		}
		in.sources = trainer.SourceStats(src.Stats())
		if rows.Rows() > 0 {
			r, size, err := rows.Finish()
			if err != nil {
				return rel, in, err
			}
			if err := e.retry(ctx, "upload", func() (err error) {
				rel, err = sess.UploadRows(ctx, r, size)
				return err
			}); err != nil {
				return rel, in, err
			}
			have = true
		}
	}
	if len(job.Inputs.Paths) > 0 {
		read := sparkconnect.TextFiles(job.Inputs.Paths).Select(tokensExpr(set.tokenizer) + " AS " + sparkconnect.TokensColumn).
			Where("size(" + sparkconnect.TokensColumn + ") > 0")
		if have {
			rel = rel.UnionAll(read)
		} else {
			rel = read
		}
		have = true
		for _, p := range job.Inputs.Paths {
			in.sources = append(in.sources, ophicleide.SourceStats{URL: p})
		}
	}
	if !have {
		return rel, in, &ophicleide.Error{Code: ophicleide.EINVALID, Message: "no words in the model's text (nothing to train on)"}
	}
	return rel, in, nil
}

// counts are the frequencies of the words seen minCount times or more
// (Spark's vocabulary), and the number of words in all.
func (e *Engine) counts(ctx context.Context, sess *sparkconnect.Session, data sparkconnect.Relation, minCount int) (map[string]int64, int64, error) {
	counts := map[string]int64{}
	words := data.Select("explode("+sparkconnect.TokensColumn+") AS word").GroupBy("word", "count(1) AS n")
	err := sess.Rows(ctx, words.Where(fmt.Sprintf("n >= %d", minCount)), nil, func(rec arrow.Record) error {
		if rec.NumCols() < 2 {
			return fmt.Errorf("spark: word counts came as %s", rec.Schema())
		}
		w, ok1 := rec.Column(0).(*array.String)
		n, ok2 := rec.Column(1).(*array.Int64)
		if !ok1 || !ok2 {
			return fmt.Errorf("spark: word counts came as %s", rec.Schema())
		}
		for i := 0; i < w.Len(); i++ {
			counts[w.Value(i)] = n.Value(i)
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	var total int64
	err = sess.Rows(ctx, data.GroupBy("", "CAST(coalesce(sum(size("+sparkconnect.TokensColumn+")), 0) AS BIGINT) AS n"), nil, func(rec arrow.Record) error {
		if rec.NumCols() < 1 {
			return fmt.Errorf("spark: the word total came as %s", rec.Schema())
		}
		n, ok := rec.Column(0).(*array.Int64)
		if !ok || n.Len() != 1 {
			return fmt.Errorf("spark: the word total came as %s", rec.Schema())
		}
		total = n.Value(0)
		return nil
	})
	return counts, total, err
}

// readVectors reads the fitted model's vectors and orders them by
// descending count, ties by first position (words only Spark read come
// after, by word), as native models are.
func readVectors(ctx context.Context, sess *sparkconnect.Session, ref string, dim int, counts map[string]int64, first map[string]int) (*vectors.Set, error) {
	type row struct {
		word string
		at   int // offset in vecs
	}
	var (
		rows []row
		vecs []float32
	)
	err := sess.Rows(ctx, sparkconnect.Vectors(ref), nil, func(rec arrow.Record) error {
		if rec.NumCols() < 2 {
			return fmt.Errorf("spark: vectors came as %s", rec.Schema())
		}
		w, ok1 := rec.Column(0).(*array.String)
		l, ok2 := rec.Column(1).(*array.List)
		if !ok1 || !ok2 {
			return fmt.Errorf("spark: vectors came as %s", rec.Schema())
		}
		vals, ok := l.ListValues().(*array.Float32)
		if !ok {
			return fmt.Errorf("spark: vectors came as %s", rec.Schema())
		}
		for i := 0; i < w.Len(); i++ {
			s, e := l.ValueOffsets(i)
			if int(e-s) != dim {
				return fmt.Errorf("spark: the vector of %q has %d values, not %d", w.Value(i), e-s, dim)
			}
			rows = append(rows, row{word: w.Value(i), at: len(vecs)})
			vecs = append(vecs, vals.Float32Values()[s:e]...)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Message: "no word occurs often enough to be trained: lower minCount or give more text"}
	}
	slices.SortFunc(rows, func(a, b row) int {
		if c := cmp.Compare(counts[b.word], counts[a.word]); c != 0 {
			return c
		}
		fa, oka := first[a.word]
		fb, okb := first[b.word]
		switch {
		case oka && okb:
			return cmp.Compare(fa, fb)
		case oka != okb:
			if oka {
				return -1
			}
			return 1
		}
		return strings.Compare(a.word, b.word)
	})
	words := make([]string, len(rows))
	ordered := make([]float32, 0, len(vecs))
	for i, r := range rows {
		words[i] = r.word
		ordered = append(ordered, vecs[r.at:r.at+dim]...)
	}
	return vectors.New(words, dim, ordered)
}

// failure turns Spark's errors into the seam's: those that users can act
// on, as EINVALID application errors with words (the server's address
// stays in the log); cancellation and input errors unchanged.
func failure(err error) error {
	var se *sparkconnect.Error
	if err == nil || !errors.As(err, &se) {
		return err
	}
	msg := func(m string) error { return &ophicleide.Error{Code: ophicleide.EINVALID, Message: m, Err: err} }
	text := se.Message
	switch {
	case se.Unreachable():
		return msg("the Spark Connect server cannot be reached (it is down, or the server's --spark address is wrong); the model was not trained")
	case se.Class == "PATH_NOT_FOUND" || strings.Contains(text, "PATH_NOT_FOUND") || strings.Contains(text, "Path does not exist"):
		return msg("Spark cannot read an input: " + firstLine(text))
	case strings.Contains(text, "No FileSystem for scheme") || strings.Contains(text, "UnsupportedFileSystemException"):
		return msg("Spark cannot read an input: it has no file system for its scheme (" + firstLine(text) + "); the Spark cluster needs the connector (e.g. hadoop-aws for s3a)")
	case strings.Contains(text, "vocabulary size should be > 0"):
		return msg("no word occurs minCount times or more: lower minCount or give more text")
	case strings.Contains(text, "vocabSize*vectorSize") || strings.Contains(text, "avoid an OOM"):
		return msg("the vocabulary is too large for Spark's Word2Vec (vocabulary x dim must stay below 2^31): raise minCount or lower dim (" + firstLine(text) + ")")
	case strings.Contains(text, "maxModelSize") || strings.Contains(text, "CACHE_ITEM_EXCEEDED") || strings.Contains(text, "MODEL_SIZE") || strings.Contains(text, "memoryControl"):
		return msg("the model is larger than the Spark Connect server's ML cache allows (spark.connect.session.connectML.mlCache.memoryControl.maxModelSize): lower dim or raise minCount, or ask the operator to raise the limit (" + firstLine(text) + ")")
	case strings.Contains(text, "OutOfMemoryError") || strings.Contains(text, "Java heap space"):
		return msg("Spark ran out of memory training the model (its driver holds vocabulary x dim x 8 bytes several times): lower dim or raise minCount, or give Spark more driver memory")
	}
	// Other messages may name the server's files and hosts: the class
	// only, the rest is in the log.
	class := se.Class
	if class == "" {
		class = se.Code.String()
	}
	return &ophicleide.Error{Code: ophicleide.EINVALID, Message: "Spark could not train the model (" + class + "; the server log says more)", Err: err}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}
