package evaluate

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

// The evaluation sets built into the binary, with their licences
// (sets/README.md: sources and licences), so that every server scores its
// models without any file.
//
//go:embed sets
var bundled embed.FS

// Kinds of evaluation file.
const (
	KindAnalogy    = "analogy"    // the Google questions-words.txt format
	KindSimilarity = "similarity" // word pairs with a human score
)

// BundledSet is one of the evaluation sets built into the binary.
type BundledSet struct {
	Name string // short name: google, wordsim353, simlex999, men, rw
	Kind string // KindAnalogy or KindSimilarity
	File string // its file name in sets/
}

// BundledSets are the sets Bundled scores, in its order: the Google
// analogies, then WordSim-353, SimLex-999, MEN and Stanford Rare Words.
var BundledSets = []BundledSet{
	{"google", KindAnalogy, "questions-words.txt"},
	{"wordsim353", KindSimilarity, "wordsim353.tsv"},
	{"simlex999", KindSimilarity, "simlex999.txt"},
	{"men", KindSimilarity, "MEN_dataset_natural_form_full"},
	{"rw", KindSimilarity, "EN-RW-STANFORD.txt"},
}

// OpenBundled reads the file of a bundled set by its File name; the
// caller closes it.
func OpenBundled(file string) (io.ReadCloser, error) { return bundled.Open("sets/" + file) }

// NamedAnalogy is the score of one analogy file, with its name.
type NamedAnalogy struct {
	Name string
	AnalogyResult
}

// Report is the scores of a vector set on several evaluation files.
type Report struct {
	Seconds   float64        // wall-clock time of the scoring
	Analogies []NamedAnalogy // never nil
	Pairs     []PairsResult  // never nil; Name is the file's name
}

// Bundled scores s on every bundled set (BundledSets) with the default
// restricts, the figures `ophicleide eval --analogies questions-words.txt
// --similarity ...` prints for the same files: analogies over the 30,000
// most frequent words (opts.Restrict, when positive, changes that only),
// pairs over the first 300,000. A set none of whose words s knows scores
// 0 with coverage 0, not an error. Errors: ctx's, or an internal one (a
// bundled file that cannot be read, a bug).
func Bundled(ctx context.Context, s *vectors.Set, opts Options) (*Report, error) {
	start := time.Now()
	rep := &Report{Analogies: []NamedAnalogy{}, Pairs: []PairsResult{}}
	for _, b := range BundledSets {
		f, err := OpenBundled(b.File)
		if err != nil {
			return nil, fmt.Errorf("evaluate: bundled set %s: %w", b.Name, err)
		}
		switch b.Kind {
		case KindAnalogy:
			var res AnalogyResult
			res, err = AnalogiesWith(ctx, s, f, opts)
			rep.Analogies = append(rep.Analogies, NamedAnalogy{Name: b.Name, AnalogyResult: res})
		default:
			var res PairsResult
			res, err = PairsWith(ctx, s, f, b.Name, Options{Normalize: opts.Normalize})
			rep.Pairs = append(rep.Pairs, res)
		}
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("evaluate: bundled set %s: %w", b.Name, err)
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}

// DetectKind tells an analogy file from a word-pair file: an analogy
// file if it has a section header (": name"), else a word-pair file if
// ReadPairs finds pairs in it, else an analogy file (questions with no
// header; Analogies then says if there are none).
func DetectKind(ctx context.Context, text []byte) string {
	if bytes.HasPrefix(text, []byte(": ")) || bytes.Contains(text, []byte("\n: ")) || bytes.Contains(text, []byte("\r: ")) {
		return KindAnalogy
	}
	if _, err := ReadPairs(ctx, bytes.NewReader(text)); err == nil {
		return KindSimilarity
	}
	return KindAnalogy
}

// ErrKind is wrapped by File's error for a kind that is neither
// KindAnalogy nor KindSimilarity nor "".
var ErrKind = errors.New("unknown kind of evaluation file")

// File scores s on one evaluation file of kind (KindAnalogy,
// KindSimilarity, or "" to detect it with DetectKind), named name in the
// report. The text is the caller's, read only. Errors: an ErrKind error,
// an ErrFormat error for a file that holds no question or pair of its
// kind (empty, not text, the wrong kind), ctx's.
func File(ctx context.Context, s *vectors.Set, text []byte, name, kind string, opts Options) (*Report, error) {
	start := time.Now()
	switch kind = strings.ToLower(strings.TrimSpace(kind)); kind {
	case "":
		kind = DetectKind(ctx, text)
	case KindAnalogy, KindSimilarity:
	default:
		return nil, fmt.Errorf("%w %q: analogy or similarity", ErrKind, kind)
	}
	rep := &Report{Analogies: []NamedAnalogy{}, Pairs: []PairsResult{}}
	if kind == KindAnalogy {
		res, err := AnalogiesWith(ctx, s, bytes.NewReader(text), opts)
		if err != nil {
			return nil, err
		}
		rep.Analogies = append(rep.Analogies, NamedAnalogy{Name: name, AnalogyResult: res})
	} else {
		res, err := PairsWith(ctx, s, bytes.NewReader(text), name, opts)
		if err != nil {
			return nil, err
		}
		rep.Pairs = append(rep.Pairs, res)
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}
