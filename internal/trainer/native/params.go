package native

import (
	"errors"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/subword"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/trainer"
	"github.com/ophicleide/ophicleide/internal/word2vec"
)

// Validate reports whether the native engine can train a model with p:
// nil, or an EINVALID *ophicleide.Error whose Field names the parameter at
// fault (the JSON name used by the API) and whose Message says why.
func Validate(p ophicleide.Params) error {
	_, _, err := config(p)
	return err
}

// config returns word2vec's configuration and the tokenizer for p, or
// Validate's error. Threads, memory limit and progress are the engine's.
func config(p ophicleide.Params) (word2vec.Config, tokenize.Mode, error) {
	p = Effective(p)
	cfg := word2vec.Config{
		Arch: word2vec.Arch(p.Model), Loss: word2vec.Loss(p.Loss), Dim: p.Dim, Window: p.Window,
		Negative: p.Negative, MinCount: p.MinCount, Sample: p.Sample, Epochs: p.Epochs,
		Alpha: p.Alpha, Seed: p.Seed, MaxVocab: p.MaxVocab,
		MinN: p.MinN, MaxN: p.MaxN, Bucket: p.Bucket,
	}
	switch {
	case p.Partitions != 0:
		return cfg, "", &ophicleide.Error{Code: ophicleide.EINVALID, Field: "partitions", Message: `partitions is a parameter of the Spark engine ("engine": "spark"); the native engine trains on all the server's cores`}
	case p.MaxSentenceLength != 0:
		return cfg, "", &ophicleide.Error{Code: ophicleide.EINVALID, Field: "maxSentenceLength", Message: `maxSentenceLength is a parameter of the Spark engine ("engine": "spark")`}
	}
	mode, err := tokenize.ParseMode(p.Tokenizer)
	if err != nil {
		return cfg, "", &ophicleide.Error{Code: ophicleide.EINVALID, Field: "tokenizer",
			Message: "invalid tokenizer: " + err.Error(), Err: err}
	}
	if err := cfg.Validate(); err != nil {
		var ce *word2vec.ConfigError
		if errors.As(err, &ce) {
			return cfg, "", &ophicleide.Error{Code: ophicleide.EINVALID, Field: jsonNames[ce.Field], Message: ce.Error(), Err: err}
		}
		return cfg, "", err
	}
	return cfg, mode, nil
}

// jsonNames maps word2vec's field names to the API's.
var jsonNames = map[string]string{
	"model": "model", "loss": "loss", "dim": "dim", "window": "window", "negative": "negative",
	"min-count": "minCount", "sample": "sample", "epochs": "epochs", "alpha": "alpha",
	"threads": "threads", "max-vocab": "maxVocab", "memory-limit": "memoryLimit",
	"minn": "minn", "maxn": "maxn", "bucket": "bucket",
}

// Effective returns p with every default of the native engine made
// explicit: what a model trained with p was trained with, as stored with
// it. Engine native, skip-gram, negative sampling with 5 negatives (0
// with hierarchical softmax), dimension 100, window 5, min count 5,
// sample 1e-3, 5 epochs, alpha 0.025 (0.05 for CBOW), seed
// ophicleide.DefaultSeed, tokenizer unicode; MaxVocab 0 stays "no cap",
// MinN and MaxN 0 stay "no subwords", and with subwords (MaxN > 0)
// Bucket defaults to 2,000,000.
// These are word2vec.Config's defaults (a test trains with both and
// compares the vectors) except the seed, which the server fixes as the
// CLI's --seed does. Values it does not recognise are left for Validate.
func Effective(p ophicleide.Params) ophicleide.Params {
	or := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if p.Engine == "" {
		p.Engine = trainer.DefaultEngine
	}
	if p.Model == "" {
		p.Model = string(word2vec.SkipGram)
	}
	if p.Loss == "" {
		p.Loss = string(word2vec.NegativeSampling)
	}
	if p.Loss == string(word2vec.NegativeSampling) {
		or(&p.Negative, 5)
	}
	or(&p.Dim, 100)
	or(&p.Window, 5)
	or(&p.MinCount, 5)
	or(&p.Epochs, 5)
	if p.Sample == 0 {
		p.Sample = 1e-3
	}
	if p.Alpha == 0 {
		p.Alpha = 0.025
		if p.Model == string(word2vec.CBOW) {
			p.Alpha = 0.05
		}
	}
	if p.Seed == 0 {
		p.Seed = ophicleide.DefaultSeed
	}
	if p.Tokenizer == "" {
		p.Tokenizer = string(tokenize.Unicode)
	}
	if p.MaxN > 0 {
		or(&p.Bucket, subword.DefaultBucket)
	}
	return p
}
