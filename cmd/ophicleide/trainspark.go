package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/fetch"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"github.com/ophicleide/ophicleide/internal/trainer/spark"
	"github.com/ophicleide/ophicleide/internal/vectors"
	"github.com/ophicleide/ophicleide/internal/word2vec"
)

// sparkTrain is `train --engine spark`: the flags as given.
type sparkTrain struct {
	inputs              []string
	output, format, url string
	allowPrivate, quiet bool
	encoding, statsJSON string
	params              ophicleide.Params // every flag's value; only those given are kept
}

// sparkFlags maps the train flags Spark takes to their API field.
var sparkFlags = map[string]string{
	"model": "model", "loss": "loss", "dim": "dim", "window": "window", "negative": "negative",
	"min-count": "minCount", "sample": "sample", "epochs": "epochs", "alpha": "alpha", "seed": "seed",
	"tokenizer": "tokenizer", "max-vocab": "maxVocab", "partitions": "partitions", "max-sentence-length": "maxSentenceLength",
}

// runTrainSpark trains on a Spark Connect server with the same inputs
// and outputs as the native trainer. Flags not given take Spark's
// defaults (epochs 1, hierarchical softmax, no subsampling), not the
// native trainer's.
func runTrainSpark(ctx context.Context, e *env, fs *flag.FlagSet, t sparkTrain) error {
	if t.url == "" {
		return usagef("--engine spark needs --spark sc://HOST:PORT (env OPH_SPARK_URL)")
	}
	vf, err := vectors.ParseFormat(t.format)
	if err != nil {
		return usagef("--format: %v", err)
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["encoding"] && !strings.EqualFold(t.encoding, "utf-8") {
		return usagef("--encoding %s: the Spark engine reads UTF-8 only", t.encoding)
	}
	for _, name := range []string{"minn", "maxn", "bucket"} {
		if given[name] {
			return usagef("--%s: the Spark engine has no subwords (Spark MLlib's Word2Vec)", name)
		}
	}
	for _, name := range []string{"threads", "max-memory", "tmp-dir", "disk-corpus", "count-limit"} {
		if given[name] {
			return usagef("--%s is for the native engine: Spark's resources are its cluster's", name)
		}
	}
	full, p := t.params, ophicleide.Params{Engine: "spark"}
	keep := map[string]func(){
		"model": func() { p.Model = full.Model }, "loss": func() { p.Loss = full.Loss }, "dim": func() { p.Dim = full.Dim },
		"window": func() { p.Window = full.Window }, "negative": func() { p.Negative = full.Negative },
		"min-count": func() { p.MinCount = full.MinCount }, "sample": func() { p.Sample = full.Sample },
		"epochs": func() { p.Epochs = full.Epochs }, "alpha": func() { p.Alpha = full.Alpha }, "seed": func() { p.Seed = full.Seed },
		"tokenizer": func() { p.Tokenizer = full.Tokenizer }, "max-vocab": func() { p.MaxVocab = full.MaxVocab },
		"partitions": func() { p.Partitions = full.Partitions }, "max-sentence-length": func() { p.MaxSentenceLength = full.MaxSentenceLength },
	}
	for name, set := range keep {
		if given[name] {
			set()
		}
	}
	if err := spark.Validate(p); err != nil {
		return usagef("%s", flagError(err))
	}
	var local []string
	var paths []string
	for _, in := range t.inputs {
		if u, err := url.Parse(in); err == nil && len(u.Scheme) > 1 && !isURL(in) {
			paths = append(paths, in) // s3a://, hdfs://, file:/// ...: Spark reads them itself
			continue
		}
		local = append(local, in)
	}
	var schemes []string
	for _, pth := range paths {
		u, _ := url.Parse(pth)
		schemes = append(schemes, u.Scheme)
	}
	log := slog.New(slog.DiscardHandler)
	eng, err := spark.New(spark.Config{URL: t.url, Schemes: schemes, Log: log})
	if err != nil {
		return usagef("--spark: %v", err)
	}
	defer eng.Close()
	out, err := createOutput(t.output, e.stdout)
	if err != nil {
		return err
	}
	defer out.abort()
	f := fetch.New(fetch.Options{AllowPrivate: t.allowPrivate, UserAgent: "ophicleide/" + version})
	job := trainer.Job{ID: fmt.Sprintf("cli-%d", time.Now().UnixNano()), Attempt: 1, Params: p, Inputs: trainer.Inputs{
		Sources: inputSources(e, local, f), Paths: paths, Fetched: true,
		Limits: corpus.Limits{MaxSourceBytes: -1, MaxTotalBytes: -1},
	}}
	if !t.quiet {
		pr := newProgressPrinter(e.stderr)
		job.ProgressInterval = pr.interval
		job.Progress = func(x ophicleide.Progress) {
			phase := word2vec.PhaseTraining
			if x.Phase != "training" {
				phase = word2vec.PhaseCounting
			}
			pr.print(word2vec.Progress{Phase: phase, Fraction: x.Fraction, ETA: time.Duration(x.EtaSeconds * float64(time.Second))})
		}
	}
	res, err := eng.Train(ctx, job)
	if err != nil {
		return fmt.Errorf("%s", ophicleide.ErrorMessage(err))
	}
	if err := vectors.Write(out.w, res.Vectors, vf); err != nil {
		return fmt.Errorf("writing %s: %w", t.output, err)
	}
	if err := out.commit(); err != nil {
		return err
	}
	st := res.Stats
	epochs := p.Epochs
	if epochs == 0 {
		epochs = spark.DefaultEpochs
	}
	// Words over all epochs per second, as the native trainer counts them.
	wps := float64(st.CorpusWords) * float64(epochs) / max(st.TrainingSeconds, 1e-9)
	if !t.quiet {
		fmt.Fprintf(e.stderr, "done (spark): %d corpus words, %d words in vocabulary, %.2f s training, %.0f words/s\n",
			st.CorpusWords, st.VocabSize, st.TrainingSeconds, wps)
	}
	if t.statsJSON != "" {
		return writeStats(t.statsJSON, word2vec.Stats{CorpusWords: st.CorpusWords, VocabSize: st.VocabSize, Epochs: epochs,
			TrainSeconds: st.TrainingSeconds, WordsPerSecond: wps})
	}
	return nil
}

// flagError is a refusal of spark.Validate in the CLI's words: the flag,
// not the API field.
func flagError(err error) string {
	var ae *ophicleide.Error
	if !errors.As(err, &ae) {
		return err.Error()
	}
	field := ae.Field
	for flagName, f := range sparkFlags {
		if f == field {
			return fmt.Sprintf("--%s: %s", flagName, ophicleide.ErrorMessage(err))
		}
	}
	return ophicleide.ErrorMessage(err)
}
