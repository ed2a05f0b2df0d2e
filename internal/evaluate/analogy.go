package evaluate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/ophicleide/ophicleide/internal/vecmath"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// DefaultAnalogyRestrict is the number of rows Analogies uses when given a
// restrict <= 0 (eval.py's --restrict, gensim's restrict_vocab).
const DefaultAnalogyRestrict = 30000

// ErrFormat is wrapped by the errors about an evaluation file that cannot
// be scored: no question or pair in it, a line too long, a score that is
// not a finite number, a score column the line does not have.
var ErrFormat = errors.New("malformed evaluation file")

// Score is a count of correct answers.
type Score struct {
	Correct, Total int
	Accuracy       float64 // Correct/Total, 0 when Total is 0
}

// SectionScore is the score of one section of an analogy file.
type SectionScore struct {
	Section        string
	Correct, Total int // Total counts the scored questions only
}

// AnalogyResult is the score of a vector set on an analogy file.
type AnalogyResult struct {
	Questions int     // questions in the file
	Scored    int     // questions with all four words in the vocabulary
	Coverage  float64 // Scored/Questions

	Semantic  Score // sections not starting with "gram"
	Syntactic Score // sections starting with "gram"
	Total     Score

	// Sections lists every section header of the file in file order (a
	// name may repeat), after a "default" section for questions before
	// the first header if there are any.
	Sections []SectionScore

	Restrict int // rows taken into account, as asked (or the default)
}

// question is one scored question: rows of a, b, c and d.
type question struct{ a, b, c, d int }

type section struct {
	name      string
	questions []question
}

// Analogies scores s on the analogy questions read from r (the Google
// questions-words.txt format) with 3CosAdd over the first restrict rows of
// s, as the package documentation describes; restrict <= 0 means
// DefaultAnalogyRestrict. The search runs on GOMAXPROCS goroutines.
//
// A file with questions but none in the vocabulary gives a result with
// Scored 0 and every accuracy 0. Errors: an ErrFormat error when r holds no
// question (an empty file, or not an analogy file), a read error from r,
// or ctx's error.
func Analogies(ctx context.Context, s *vectors.Set, r io.Reader, restrict int) (AnalogyResult, error) {
	return AnalogiesWith(ctx, s, r, Options{Restrict: restrict})
}

// AnalogiesWith is Analogies with opts (Options.Restrict is Analogies'
// restrict; Options.Normalize a second spelling to look words up by).
func AnalogiesWith(ctx context.Context, s *vectors.Set, r io.Reader, opts Options) (AnalogyResult, error) {
	restrict := opts.Restrict
	if restrict <= 0 {
		restrict = DefaultAnalogyRestrict
	}
	n := min(restrict, s.Len())
	vocab := foldVocab(s, n)

	var sections []section
	total := 0
	err := scanLines(ctx, r, func(_ int, line string) error {
		if strings.HasPrefix(line, ": ") {
			sections = append(sections, section{name: pyStrip(line[2:])})
			return nil
		}
		words := pyFields(line)
		if len(words) != 4 {
			return nil
		}
		if len(sections) == 0 {
			sections = append(sections, section{name: "default"})
		}
		total++
		var q [4]int
		for i, w := range words {
			row, ok := opts.lookup(vocab, w)
			if !ok {
				return nil
			}
			q[i] = row
		}
		sec := &sections[len(sections)-1]
		sec.questions = append(sec.questions, question{q[0], q[1], q[2], q[3]})
		return nil
	})
	if err != nil {
		return AnalogyResult{}, fmt.Errorf("evaluate analogies: %w", err)
	}
	if total == 0 {
		return AnalogyResult{}, fmt.Errorf("evaluate analogies: %w: no analogy questions (lines of four words)", ErrFormat)
	}

	var all []question
	for _, sec := range sections {
		all = append(all, sec.questions...)
	}
	pred, err := answer(ctx, s, n, all)
	if err != nil {
		return AnalogyResult{}, fmt.Errorf("evaluate analogies: %w", err)
	}

	res := AnalogyResult{Questions: total, Restrict: restrict}
	k := 0
	for _, sec := range sections {
		ss := SectionScore{Section: sec.name, Total: len(sec.questions)}
		for _, q := range sec.questions {
			if pred[k] == q.d {
				ss.Correct++
			}
			k++
		}
		res.Sections = append(res.Sections, ss)
		part := &res.Semantic
		if strings.HasPrefix(sec.name, "gram") {
			part = &res.Syntactic
		}
		part.Correct += ss.Correct
		part.Total += ss.Total
	}
	res.Total = Score{Correct: res.Semantic.Correct + res.Syntactic.Correct, Total: res.Semantic.Total + res.Syntactic.Total}
	for _, sc := range []*Score{&res.Semantic, &res.Syntactic, &res.Total} {
		sc.Accuracy = ratio(sc.Correct, sc.Total)
	}
	res.Scored = res.Total.Total
	res.Coverage = ratio(res.Scored, res.Questions)
	return res, nil
}

// ratio is a/b, or 0 when b is 0.
func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// foldVocab maps the upper-case form of each of the first n words of s to
// its row, the first row winning.
func foldVocab(s *vectors.Set, n int) map[string]int {
	m := make(map[string]int, n)
	for i := range n {
		k := pyUpper(s.Word(i))
		if _, seen := m[k]; !seen {
			m[k] = i
		}
	}
	return m
}

// answerBlock is the number of questions a worker takes at a time: their
// query vectors stay in the L1 cache while every candidate row streams past
// them once.
const answerBlock = 64

// answer returns, for every question, the row among the first n rows of s
// that answers it: the row other than a, b and c with the highest dot
// product with the unit query unit((-a + b + c)/3), the first such row on
// ties, or row 0 when every row is a, b or c. A query of length zero stays
// zero, so it answers with the first row that is not a, b or c, as in
// eval.py, where numpy's argmax returns the first of the NaN cosines.
func answer(ctx context.Context, s *vectors.Set, n int, qs []question) ([]int, error) {
	dim := s.Dim()
	pred := make([]int, len(qs))
	if len(qs) == 0 {
		return pred, nil
	}
	unit := s.UnitMatrix(n) // the rows answers are chosen from
	rows := make([][]float32, n)
	for i := range rows {
		rows[i] = unit[i*dim : (i+1)*dim]
	}
	unitRow := func(i int) []float32 {
		if i < n {
			return rows[i]
		}
		return s.UnitRow(i)
	}
	queries := make([]float32, len(qs)*dim)
	for j, q := range qs {
		query(queries[j*dim:(j+1)*dim], unitRow(q.a), unitRow(q.b), unitRow(q.c))
	}

	blocks := (len(qs) + answerBlock - 1) / answerBlock
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), blocks) {
		wg.Go(func() {
			best := make([]float32, answerBlock)
			for ctx.Err() == nil {
				b := int(next.Add(1)) - 1
				if b >= blocks {
					return
				}
				lo, hi := b*answerBlock, min((b+1)*answerBlock, len(qs))
				answerBlockOf(rows, dim, queries[lo*dim:hi*dim], qs[lo:hi], pred[lo:hi], best)
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return pred, nil
}

// query sets dst to unit((-a + b + c)/3), computed in float32 in eval.py's
// order; dst is zero if (-a + b + c) is.
func query(dst, a, b, c []float32) {
	var ss float64
	for k := range dst {
		v := (-a[k] + b[k] + c[k]) / 3
		dst[k] = v
		ss += float64(v) * float64(v)
	}
	norm := float32(math.Sqrt(ss))
	if norm == 0 {
		return
	}
	for k := range dst {
		dst[k] /= norm
	}
}

// answerBlockOf answers the questions qs, whose query vectors are the rows
// of queries, into pred; best is scratch space of at least len(qs).
func answerBlockOf(rows [][]float32, dim int, queries []float32, qs []question, pred []int, best []float32) {
	m := len(qs)
	best = best[:m]
	pred = pred[:m]
	for j := range best {
		best[j] = float32(math.Inf(-1))
		pred[j] = 0
	}
	for i, w := range rows {
		for j := range m {
			v := vecmath.Dot(queries[j*dim:(j+1)*dim], w)
			if v > best[j] {
				if q := qs[j]; i != q.a && i != q.b && i != q.c {
					best[j], pred[j] = v, i
				}
			}
		}
	}
}
