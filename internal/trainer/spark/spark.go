// Package spark is the Spark training engine: it fits Spark MLlib's
// org.apache.spark.ml.feature.Word2Vec on a Spark Connect server (Spark
// 4.0 or later) behind the trainer.Engine seam, for corpora that live on
// a Spark estate or outgrow one machine. It is neither faster nor better
// than the native engine: MLlib trains skip-gram with hierarchical
// softmax only, one partition by default, and its quality falls as
// partitions grow.
//
// One job is one Spark Connect session, named by the model and the
// attempt (so a later attempt releases what an earlier, killed, worker
// left running there). Inputs the worker reads (URLs, uploads) are
// tokenised here, as for native models, and uploaded as a cached local
// relation of sentences; URLs of the storage schemes the operator allows
// (s3a://, hdfs://, ...) are read and tokenised by Spark itself
// (tokenizer.go). The fitted model's vectors come back as Arrow, in
// descending frequency (the counts are Spark's too), and the session is
// released.
package spark

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/sparkconnect"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/trainer"
)

// Estimator is the Spark class fitted.
const Estimator = "org.apache.spark.ml.feature.Word2Vec"

// Spark's Word2Vec defaults, which a model's absent parameters take.
const (
	DefaultDim               = 100
	DefaultWindow            = 5
	DefaultMinCount          = 5
	DefaultEpochs            = 1
	DefaultAlpha             = 0.025
	DefaultPartitions        = 1
	DefaultMaxSentenceLength = 1000
	DefaultSeed              = 1
)

// Bounds of the parameters only this engine has.
const (
	MaxPartitions        = 10000
	MaxSentenceLengthCap = 1 << 20
)

// Config configures the engine.
type Config struct {
	// URL is the Spark Connect endpoint, sc://HOST:PORT[/;token=...;use_ssl=true].
	URL string
	// Schemes are the URL schemes of distributed storage Spark reads
	// itself (s3a, hdfs, gs, abfs, ... or file, for a Spark that shares
	// the worker's disks); none by default.
	Schemes []string
	// TempDir holds the sentences while they are uploaded (os.TempDir
	// when "").
	TempDir string
	// RetryFor is how long a job keeps retrying a Spark that cannot be
	// reached before it fails (1 minute when 0, none when negative).
	RetryFor time.Duration
	Log      *slog.Logger
}

// Engine trains on Spark. It is safe for concurrent use: each job has
// its own session on one shared connection.
type Engine struct {
	cfg  Config
	conn *sparkconnect.Conn
	log  *slog.Logger
}

var _ trainer.Engine = (*Engine)(nil)

// New returns an engine for cfg; it connects at the first job.
func New(cfg Config) (*Engine, error) {
	ep, err := sparkconnect.ParseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	for _, s := range cfg.Schemes {
		if s == "" || s == "http" || s == "https" || strings.ContainsAny(s, ":/ ") {
			return nil, fmt.Errorf("spark: %q is not a storage URL scheme for Spark to read (s3a, hdfs, gs, abfs, file, ...)", s)
		}
	}
	if cfg.RetryFor == 0 {
		cfg.RetryFor = time.Minute
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	conn, err := sparkconnect.Dial(ep, log)
	if err != nil {
		return nil, err
	}
	return &Engine{cfg: cfg, conn: conn, log: log.With("engine", "spark")}, nil
}

// Close closes the connection.
func (e *Engine) Close() error { return e.conn.Close() }

// Endpoint is the server the engine trains on (without its token).
func (e *Engine) Endpoint() string { return e.conn.Endpoint().String() }

// Schemes implements trainer.Engine: the storage schemes the operator
// allowed.
func (e *Engine) Schemes(ophicleide.Params) []string { return slices.Clone(e.cfg.Schemes) }

// Validate implements trainer.Engine (the package function Validate).
func (e *Engine) Validate(p ophicleide.Params) error { return Validate(p) }

// Validate reports whether Spark MLlib's Word2Vec can train a model with
// p: what it cannot do (CBOW, negative sampling, subsampling, a
// vocabulary cap) is refused naming the field, never changed silently.
func Validate(p ophicleide.Params) error {
	refuse := func(field, msg string) error {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: field, Message: msg}
	}
	switch {
	case p.Model != "" && p.Model != "skipgram":
		return refuse("model", fmt.Sprintf("the Spark engine trains skip-gram only (Spark MLlib's Word2Vec has no %s): leave model out or set \"skipgram\"", p.Model))
	case p.Loss != "" && p.Loss != "hs":
		return refuse("loss", "the Spark engine trains with hierarchical softmax only (Spark MLlib's Word2Vec has no negative sampling): leave loss out or set \"hs\"")
	case p.Negative != 0:
		return refuse("negative", "the Spark engine has no negative sampling (Spark MLlib's Word2Vec uses hierarchical softmax): leave negative out")
	case p.Sample > 0:
		return refuse("sample", "the Spark engine has no subsampling of frequent words (Spark MLlib's Word2Vec): leave sample out or give a negative value")
	case p.MinN != 0 || p.MaxN != 0 || p.Bucket != 0:
		return refuse(subwordField(p), "the Spark engine has no subwords (Spark MLlib's Word2Vec has no subwords): leave minn, maxn and bucket out")
	case p.MaxVocab != 0:
		return refuse("maxVocab", "the Spark engine has no vocabulary cap (Spark MLlib's Word2Vec): leave maxVocab out and raise minCount instead")
	case p.Seed > math.MaxInt64:
		return refuse("seed", fmt.Sprintf("seed %d is above Spark's largest seed, %d", p.Seed, int64(math.MaxInt64)))
	case p.Dim < 0, p.Window < 0, p.MinCount < 0, p.Epochs < 0, p.Alpha < 0:
		return refuse(firstNegative(p), "must be above 0 (leave it out for the default)")
	case p.Partitions < 0 || p.Partitions > MaxPartitions:
		return refuse("partitions", fmt.Sprintf("partitions must be 1 to %d (Spark's numPartitions; few partitions train better)", MaxPartitions))
	case p.MaxSentenceLength < 0 || p.MaxSentenceLength > MaxSentenceLengthCap:
		return refuse("maxSentenceLength", fmt.Sprintf("maxSentenceLength must be 1 to %d", MaxSentenceLengthCap))
	}
	if _, err := tokenize.ParseMode(p.Tokenizer); err != nil {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Field: "tokenizer", Message: "invalid tokenizer: " + err.Error(), Err: err}
	}
	return nil
}

// subwordField names the first subword parameter p sets.
func subwordField(p ophicleide.Params) string {
	switch {
	case p.MinN != 0:
		return "minn"
	case p.MaxN != 0:
		return "maxn"
	}
	return "bucket"
}

func firstNegative(p ophicleide.Params) string {
	switch {
	case p.Dim < 0:
		return "dim"
	case p.Window < 0:
		return "window"
	case p.MinCount < 0:
		return "minCount"
	case p.Epochs < 0:
		return "epochs"
	}
	return "alpha"
}

// settings are p with Spark's defaults for what it leaves out.
type settings struct {
	dim, window, minCount, epochs, partitions, maxSentence int
	alpha                                                  float64
	seed                                                   int64
	tokenizer                                              tokenize.Mode
}

func settingsOf(p ophicleide.Params) settings {
	or := func(v, d int) int {
		if v > 0 {
			return v
		}
		return d
	}
	s := settings{
		dim: or(p.Dim, DefaultDim), window: or(p.Window, DefaultWindow), minCount: or(p.MinCount, DefaultMinCount),
		epochs: or(p.Epochs, DefaultEpochs), partitions: or(p.Partitions, DefaultPartitions),
		maxSentence: or(p.MaxSentenceLength, DefaultMaxSentenceLength), alpha: p.Alpha, seed: int64(p.Seed),
	}
	if s.alpha <= 0 {
		s.alpha = DefaultAlpha
	}
	if p.Seed == 0 {
		s.seed = DefaultSeed
	}
	s.tokenizer, _ = tokenize.ParseMode(p.Tokenizer)
	return s
}

// params are the estimator's parameters (Spark's names) for s.
func (s settings) params() map[string]any {
	return map[string]any{
		"inputCol":          sparkconnect.TokensColumn,
		"vectorSize":        s.dim,
		"windowSize":        s.window,
		"minCount":          s.minCount,
		"maxIter":           s.epochs,
		"stepSize":          s.alpha,
		"seed":              s.seed,
		"numPartitions":     s.partitions,
		"maxSentenceLength": s.maxSentence,
	}
}

// sessionID names the Spark session of one attempt at a model's job.
func sessionID(model string, attempt int) string {
	return uuid.NewSHA1(sessionSpace, []byte(model+"/"+strconv.Itoa(attempt))).String()
}

var sessionSpace = uuid.MustParse("5f3c1e0a-6b1d-4c55-9a52-0b8f3f6b2a11")

// minVersion is the oldest Spark whose Connect server fits MLlib models.
const minVersion = 4

// checkVersion refuses a server older than Spark 4.0.
func checkVersion(v string) error {
	major, _, _ := strings.Cut(v, ".")
	n, err := strconv.Atoi(major)
	if err != nil || n < minVersion {
		return &ophicleide.Error{Code: ophicleide.EINVALID, Message: fmt.Sprintf(
			"the Spark Connect server runs Spark %s, too old for the Spark engine: it needs Spark 4.0 or later (ML over Spark Connect)", v)}
	}
	return nil
}

// retry calls f until it succeeds, fails with an error other than an
// unreachable server, ctx ends or e.cfg.RetryFor passes.
func (e *Engine) retry(ctx context.Context, what string, f func() error) error {
	deadline := time.Now().Add(e.cfg.RetryFor)
	wait := 500 * time.Millisecond
	for {
		err := f()
		var se *sparkconnect.Error
		if err == nil || !errors.As(err, &se) || !se.Unreachable() || time.Now().Add(wait).After(deadline) {
			return err
		}
		e.log.Warn("spark: unreachable, retrying", "what", what, "in", wait, "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
		wait = min(2*wait, 10*time.Second)
	}
}
