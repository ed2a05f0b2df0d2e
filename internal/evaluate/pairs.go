package evaluate

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/ophicleide/ophicleide/internal/vecmath"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// DefaultPairsRestrict is the number of rows Pairs uses when given a
// restrict <= 0 (eval.py's --pairs-restrict, gensim's restrict_vocab).
const DefaultPairsRestrict = 300000

// PairsResult is the score of a vector set on a word-pair similarity file.
type PairsResult struct {
	Name     string  // as given to Pairs
	Pairs    int     // pairs in the file
	Scored   int     // pairs with both words in the vocabulary
	Coverage float64 // Scored/Pairs

	// Spearman's rho and Pearson's r between the human scores and the
	// cosines of the scored pairs; 0 when they are undefined: fewer than
	// two pairs scored, or all human scores (or all cosines) equal.
	Spearman float64
	Pearson  float64

	Restrict int // rows taken into account, as asked (or the default)
}

// Pair is one line of a word-pair file.
type Pair struct {
	Word1, Word2 string
	Score        float64 // the human similarity score
}

// Pairs scores s on the word pairs read from r (WordSim-353, SimLex-999,
// MEN or RW style, as the package documentation describes) over the first
// restrict rows of s; restrict <= 0 means DefaultPairsRestrict. name is
// only copied into the result.
//
// A file with pairs but none in the vocabulary gives a result with Scored 0
// and Spearman and Pearson 0. Errors: an ErrFormat error when r holds no
// pair or a malformed line (see ReadPairs), a read error from r, or ctx's
// error.
func Pairs(ctx context.Context, s *vectors.Set, r io.Reader, name string, restrict int) (PairsResult, error) {
	return PairsWith(ctx, s, r, name, Options{Restrict: restrict})
}

// PairsWith is Pairs with opts (Options.Restrict is Pairs' restrict;
// Options.Normalize a second spelling to look words up by).
func PairsWith(ctx context.Context, s *vectors.Set, r io.Reader, name string, opts Options) (PairsResult, error) {
	restrict := opts.Restrict
	if restrict <= 0 {
		restrict = DefaultPairsRestrict
	}
	pairs, err := ReadPairs(ctx, r)
	if err != nil {
		return PairsResult{}, fmt.Errorf("evaluate pairs %q: %w", name, err)
	}
	vocab := foldVocab(s, min(restrict, s.Len()))
	var human, model []float64
	for _, p := range pairs {
		a, okA := opts.lookup(vocab, p.Word1)
		b, okB := opts.lookup(vocab, p.Word2)
		if !okA || !okB {
			continue
		}
		human = append(human, p.Score)
		model = append(model, float64(vecmath.Dot(s.UnitRow(a), s.UnitRow(b))))
	}
	return PairsResult{
		Name:     name,
		Pairs:    len(pairs),
		Scored:   len(human),
		Coverage: ratio(len(human), len(pairs)),
		Spearman: zeroNaN(Spearman(human, model)),
		Pearson:  zeroNaN(Pearson(human, model)),
		Restrict: restrict,
	}, nil
}

func zeroNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// ReadPairs reads a word-pair file as Pairs does (see the package
// documentation for the format). Errors: an ErrFormat error when r holds no
// pair, when a score is "nan" or "inf", or when a header row named a score
// column that a later line does not have; a read error from r; ctx's
// error.
func ReadPairs(ctx context.Context, r io.Reader) ([]Pair, error) {
	var pairs []Pair
	scoreCol := 2
	err := scanLines(ctx, r, func(n int, line string) error {
		if pyStrip(line) == "" || strings.HasPrefix(line, "#") {
			return nil
		}
		var cols []string
		switch {
		case strings.Contains(line, "\t"):
			cols = strings.Split(line, "\t")
		case strings.Contains(line, ","):
			cols = strings.Split(line, ",")
		default:
			cols = pyFields(line)
		}
		if len(cols) < 3 {
			return nil
		}
		for i, c := range cols {
			cols[i] = pyStrip(c)
		}
		if scoreCol >= len(cols) {
			return fmt.Errorf("%w: line %d has %d fields, the score is field %d", ErrFormat, n, len(cols), scoreCol+1)
		}
		score, ok := pyFloat(cols[scoreCol])
		if !ok {
			scoreCol = headerScoreColumn(cols, scoreCol)
			return nil
		}
		if !finite(score) {
			return fmt.Errorf("%w: line %d: score %q is not a finite number", ErrFormat, n, cols[scoreCol])
		}
		pairs = append(pairs, Pair{Word1: cols[0], Word2: cols[1], Score: score})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(pairs) == 0 {
		return nil, fmt.Errorf("%w: no word pairs (lines of two words and a score)", ErrFormat)
	}
	return pairs, nil
}

// headerScoreColumn picks the score column named by a header row: a
// "SimLex999" column, else the first column from the third on whose name
// has "mean", "score" or "sim" in it, else the current one.
func headerScoreColumn(cols []string, current int) int {
	low := make([]string, len(cols))
	for k, c := range cols {
		low[k] = pyLower(c)
	}
	for k, c := range low {
		if c == "simlex999" || c == "simlex-999" {
			return k
		}
	}
	for k := 2; k < len(low); k++ {
		if c := low[k]; strings.Contains(c, "mean") || strings.Contains(c, "score") || strings.Contains(c, "sim") {
			return k
		}
	}
	return current
}
