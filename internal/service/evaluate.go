package service

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/evaluate"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// EvaluateBundled scores set on the evaluation sets built into the binary
// (evaluate.Bundled: the Google analogies over the 30,000 most frequent
// words, WordSim-353, SimLex-999, MEN, Rare Words), the figures
// `ophicleide eval` prints for the same files. It is the workers'
// worker.EvaluateFunc; p (the model's params) is not needed by it.
func EvaluateBundled(ctx context.Context, set *vectors.Set, _ ophicleide.Params) (*ophicleide.Evaluation, error) {
	rep, err := evaluate.Bundled(ctx, set, evaluate.Options{})
	if err != nil {
		return nil, err
	}
	return evaluation(rep), nil
}

// evaluation is the domain's form of an evaluator's report.
func evaluation(rep *evaluate.Report) *ophicleide.Evaluation {
	e := &ophicleide.Evaluation{Seconds: rep.Seconds, Analogies: []ophicleide.AnalogyScore{}, Similarities: []ophicleide.SimilarityScore{}}
	for _, a := range rep.Analogies {
		e.Analogies = append(e.Analogies, ophicleide.AnalogyScore{Name: a.Name, Accuracy: a.Total.Accuracy,
			Semantic: a.Semantic.Accuracy, Syntactic: a.Syntactic.Accuracy,
			Questions: a.Questions, Answered: a.Scored, Coverage: a.Coverage})
	}
	for _, p := range rep.Pairs {
		e.Similarities = append(e.Similarities, ophicleide.SimilarityScore{Name: p.Name, Spearman: p.Spearman,
			Pairs: p.Pairs, Covered: p.Scored, Coverage: p.Coverage})
	}
	return e
}

// Evaluate implements ophicleide.QueryService: the file is read whole
// (at most MaxEvaluateBytes) and scored over the model's vectors, its
// words looked up case-folded, else as the model's tokenizer writes them
// (as queries are: "Straße" meets a unicode model's "straße").
func (s *Queries) Evaluate(ctx context.Context, req ophicleide.EvaluateRequest) (*ophicleide.Evaluation, error) {
	if err := mayWrite(ophicleide.PrincipalFrom(ctx), "evaluating a model"); err != nil {
		return nil, err
	}
	kind := strings.ToLower(strings.TrimSpace(req.Kind))
	if kind != "" && kind != evaluate.KindAnalogy && kind != evaluate.KindSimilarity {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "kind", Message: fmt.Sprintf("kind %q is not analogy or similarity (leave it out to detect it)", req.Kind)}
	}
	m, set, err := s.readyModel(ctx, req.ModelID)
	if err != nil {
		return nil, err
	}
	if req.File == nil {
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: "no evaluation file was sent"}
	}
	text, err := io.ReadAll(io.LimitReader(req.File, ophicleide.MaxEvaluateBytes+1))
	if err != nil {
		return nil, fmt.Errorf("reading the evaluation file: %w", err)
	}
	switch {
	case len(text) > ophicleide.MaxEvaluateBytes:
		return nil, ophicleide.Errorf(ophicleide.ETOOLARGE, "the evaluation file is larger than %d MiB", ophicleide.MaxEvaluateBytes>>20)
	case len(bytes.TrimSpace(text)) == 0:
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: "the evaluation file is empty"}
	case bytes.IndexByte(text, 0) >= 0:
		return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Message: "the evaluation file is not text (it holds NUL bytes): send an analogy file (lines \": section\" and \"a b c d\") or a word-pair file (lines \"word word score\")"}
	}
	mode, err := tokenize.ParseMode(m.Params.Tokenizer)
	if err != nil {
		mode = tokenize.Unicode
	}
	name := strings.TrimSpace(req.Name)
	if name == "" {
		name = "upload"
	}
	opts := evaluate.Options{Normalize: func(w string) string { return tokenize.NormalizeWord(mode, w) }}
	rep, err := evaluate.File(ctx, set, text, name, kind, opts)
	if err != nil {
		if errors.Is(err, evaluate.ErrFormat) {
			return nil, &ophicleide.Error{Code: ophicleide.EINVALID, Field: "file", Err: err,
				Message: "the evaluation file cannot be scored: " + formatReason(err)}
		}
		return nil, err
	}
	return evaluation(rep), nil
}

// formatReason is an evaluator's ErrFormat error without its prefixes.
func formatReason(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, evaluate.ErrFormat.Error()+": "); i >= 0 {
		return msg[i+len(evaluate.ErrFormat.Error())+2:]
	}
	return msg
}

// evaluateImported scores a model just imported on the bundled sets and
// stores the evaluation; a failure is logged and leaves the model without
// one. It reads the vectors through the cache (where queries will find
// them) or, without a cache, from the store.
func (s *Models) evaluateImported(ctx context.Context, m *ophicleide.Model) {
	log := s.cfg.log().With("model", m.ID)
	set, err := s.loadVectors(ctx, m.ID)
	if err == nil {
		var e *ophicleide.Evaluation
		if e, err = EvaluateBundled(ctx, set, m.Params); err == nil {
			if err = s.store.SetEvaluation(ctx, m.ID, e); err == nil {
				m.Evaluation = e
				log.Info("imported model evaluated", "seconds", e.Seconds)
				return
			}
		}
	}
	log.Error("evaluating an imported model failed; it stays without an evaluation", "err", err)
}

func (s *Models) loadVectors(ctx context.Context, id string) (*vectors.Set, error) {
	if s.cache != nil {
		return s.cache.sets.Get(ctx, id)
	}
	rc, err := s.store.OpenVectors(ctx, id)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return vectors.Load(rc)
}
