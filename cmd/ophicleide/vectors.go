package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ophicleide/ophicleide/internal/evaluate"
	"github.com/ophicleide/ophicleide/internal/fasttext"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// loadVectors reads a word2vec text or binary file (detected) or a
// fastText .bin model (its magic number sniffed first; the set then
// answers for words outside its vocabulary by their n-grams).
func loadVectors(path string) (*vectors.Set, error) {
	if path == "" {
		return nil, usagef("--model is required (a vectors file written by train, word2vec.c or gensim, or a fastText .bin model)")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var head [8]byte
	if n, _ := f.ReadAt(head[:], 0); fasttext.IsModel(head[:n]) {
		s, _, err := fasttext.Read(f, fasttext.Limits{})
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
		return s, nil
	}
	s, err := vectors.Read(f) // a file: its size lets the reader allocate once
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	return s, nil
}

// explainUnknown adds vocabulary suggestions to an unknown-word error.
func explainUnknown(s *vectors.Set, err error) error {
	var uw *vectors.UnknownWordError
	if !errors.As(err, &uw) {
		return err
	}
	lower := strings.ToLower(uw.Word)
	if lower != uw.Word {
		if _, ok := s.Index(lower); ok {
			return fmt.Errorf("%w (did you mean %q? vocabularies are usually lower-case)", err, lower)
		}
	}
	return err
}

// fastTextFormat names fastText's .bin model format (internal/fasttext)
// beside the word2vec formats of vectors.ParseFormat, for --format.
const fastTextFormat vectors.Format = "fasttext"

// parseFormat is vectors.ParseFormat, plus "fasttext".
func parseFormat(s string) (vectors.Format, error) {
	if strings.EqualFold(strings.TrimSpace(s), string(fastTextFormat)) {
		return fastTextFormat, nil
	}
	f, err := vectors.ParseFormat(s)
	if err != nil {
		return "", fmt.Errorf("%w, or %q (a fastText .bin model)", err, fastTextFormat)
	}
	return f, nil
}

// writeVectors writes s in format f (see parseFormat); meta is for
// fastText's format only (nil: its defaults and synthesised counts).
func writeVectors(w io.Writer, s *vectors.Set, f vectors.Format, meta *fasttext.Meta) error {
	if f == fastTextFormat {
		return fasttext.Write(w, s, meta)
	}
	return vectors.Write(w, s, f)
}

func printNeighbors(w io.Writer, ns []vectors.Neighbor) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for i, n := range ns {
		fmt.Fprintf(tw, "%d\t%s\t%.4f\n", i+1, n.Word, n.Score)
	}
	tw.Flush()
}

func runSimilar(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "similar", "--model FILE WORD [--count N]")
	model := fs.String("model", "", "vectors file (word2vec text or binary, or a fastText .bin model)")
	count := fs.Int("count", 10, "how many neighbours")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		if len(pos) > 1 {
			return usagef("give exactly one WORD; unexpected arguments %s", quoteAll(pos[1:]))
		}
		return usagef("give exactly one WORD")
	}
	if *count < 1 {
		return usagef("--count must be at least 1")
	}
	s, err := loadVectors(*model)
	if err != nil {
		return err
	}
	ns, err := s.Nearest(pos[0], *count)
	if err != nil {
		return explainUnknown(s, err)
	}
	if s.IsOOV(pos[0]) {
		fmt.Fprintf(e.stderr, "%q is not in the vocabulary: its vector is built from its character n-grams\n", pos[0])
	}
	printNeighbors(e.stdout, ns)
	return nil
}

func splitWords(v string) []string {
	var out []string
	for _, w := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, w)
	}
	return out
}

func runAnalogy(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "analogy", "--model FILE --positive b,c --negative a [--count N]   (a is to b as c is to ?)")
	model := fs.String("model", "", "vectors file (word2vec text or binary, or a fastText .bin model)")
	positive := fs.String("positive", "", "comma-separated words to add (e.g. king,woman)")
	negative := fs.String("negative", "", "comma-separated words to subtract (e.g. man)")
	count := fs.Int("count", 10, "how many answers")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usagef("unexpected arguments %q; use --positive and --negative", pos)
	}
	p, n := splitWords(*positive), splitWords(*negative)
	if len(p)+len(n) == 0 {
		return usagef("give --positive and/or --negative words")
	}
	if *count < 1 {
		return usagef("--count must be at least 1")
	}
	s, err := loadVectors(*model)
	if err != nil {
		return err
	}
	ns, err := s.Analogy(p, n, *count)
	if err != nil {
		return explainUnknown(s, err)
	}
	printNeighbors(e.stdout, ns)
	return nil
}

func runSimilarity(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "similarity", "--model FILE WORD1 WORD2")
	model := fs.String("model", "", "vectors file (word2vec text or binary, or a fastText .bin model)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		if len(pos) > 2 {
			return usagef("give exactly two words; unexpected arguments %s", quoteAll(pos[2:]))
		}
		return usagef("give exactly two words")
	}
	s, err := loadVectors(*model)
	if err != nil {
		return err
	}
	sim, err := s.Similarity(pos[0], pos[1])
	if err != nil {
		return explainUnknown(s, err)
	}
	fmt.Fprintf(e.stdout, "%.4f\n", sim)
	return nil
}

func runConvert(_ context.Context, e *env, args []string) error {
	fs := newFlags(e, "convert", "--input FILE --output FILE [--format text|binary|fasttext]")
	input := fs.String("input", "", "vectors file to read (text, binary or a fastText .bin model, detected)")
	output := fs.String("output", "", "vectors file to write (- for stdout)")
	format := fs.String("format", "", "output format: text, binary or fasttext (a fastText .bin model; default: from the output's extension, .bin binary, .txt/.vec text; else the other one of the input's)")
	quiet := fs.Bool("quiet", false, "print nothing but errors")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := noArgs(pos); err != nil {
		return err
	}
	if *input == "" || *output == "" {
		return usagef("--input and --output are required")
	}
	if *format != "" {
		if _, err := parseFormat(*format); err != nil {
			return usagef("--format: %v", err)
		}
	}
	f := vectors.Format(*format)
	if *format == "" {
		f = formatOfExt(*output)
		if f == "" {
			f = vectors.Binary
			if isBinaryFile(*input) {
				f = vectors.Text
			}
		}
	} else if f, err = parseFormat(*format); err != nil {
		return usagef("--format: %v", err)
	}
	in, err := os.Open(*input)
	if err != nil {
		return err
	}
	defer in.Close()
	var head [8]byte
	n, _ := in.ReadAt(head[:], 0)
	isFastText := fasttext.IsModel(head[:n])
	out, err := createOutput(*output, e.stdout)
	if err != nil {
		return err
	}
	defer out.abort()
	var words, dim int
	if !isFastText && f != fastTextFormat {
		// word2vec to word2vec: row by row (through a scratch file: the
		// header's count is known at the end).
		if words, dim, err = vectors.Convert(out.w, in, f, ""); err != nil {
			return fmt.Errorf("reading %s: %w", *input, err)
		}
	} else {
		s, err := streamToCompact(in, isFastText)
		if err != nil {
			return fmt.Errorf("reading %s: %w", *input, err)
		}
		if err := writeVectors(out.w, s, f, nil); err != nil {
			return err
		}
		words, dim = s.Len(), s.Dim()
	}
	if err := out.commit(); err != nil {
		return err
	}
	if !*quiet {
		fmt.Fprintf(e.stderr, "wrote %d words of dimension %d as %s\n", words, dim, f)
	}
	return nil
}

// streamToCompact streams a word2vec file or a fastText .bin model (the
// stores' path: vectors.StreamCompact, fasttext.Stream) into an unlinked
// temporary file in the Compact format and loads that, mapped: the
// matrices are the page cache's, not the heap's, and nothing is left
// behind whatever happens.
func streamToCompact(in *os.File, isFastText bool) (*vectors.Set, error) {
	tmp, err := os.CreateTemp("", "ophicleide-convert-*.tmp")
	if err != nil {
		return nil, err
	}
	defer tmp.Close() // the mapping outlives it
	if err := os.Remove(tmp.Name()); err != nil {
		return nil, err
	}
	if isFastText {
		_, _, _, _, err = fasttext.Stream(tmp, in, fasttext.StreamOptions{})
	} else {
		_, _, err = vectors.StreamCompact(tmp, in, vectors.StreamOptions{})
	}
	if err != nil {
		return nil, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return vectors.Load(tmp)
}

// formatOfExt is the vectors format a file name's extension says (.bin
// binary; .txt, .vec, .text text), or "" when it says none.
func formatOfExt(path string) vectors.Format {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".bin":
		return vectors.Binary
	case ".txt", ".vec", ".text":
		return vectors.Text
	}
	return ""
}

// isBinaryFile guesses a file's format from its extension, then its content.
func isBinaryFile(path string) bool {
	if f := formatOfExt(path); f != "" {
		return f == vectors.Binary
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b := make([]byte, 4096)
	n, _ := io.ReadFull(f, b)
	for _, c := range b[:n] {
		if c == 0 {
			return true
		}
	}
	return false
}

func runEval(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "eval", "--model FILE [--analogies FILE] [--similarity FILE ...]")
	model := fs.String("model", "", "vectors file (word2vec text or binary, or a fastText .bin model; rows by descending frequency)")
	analogies := fs.String("analogies", "", "Google analogy questions file (questions-words.txt)")
	var sims listFlag
	fs.Var(&sims, "similarity", "word-pair similarity file: WordSim-353, SimLex-999, MEN, RW style (repeatable)")
	restrict := fs.Int("restrict", 30000, "analogies use only the most frequent words")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected arguments %s: give each file its own flag (--similarity a.txt --similarity b.txt)", quoteAll(pos))
	}
	if *analogies == "" && len(sims) == 0 {
		return usagef("give --analogies FILE and/or --similarity FILE")
	}
	s, err := loadVectors(*model)
	if err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "vectors: %s  vocabulary %d  dimension %d\n", *model, s.Len(), s.Dim())
	if *analogies != "" {
		f, err := os.Open(*analogies)
		if err != nil {
			return err
		}
		res, err := evaluate.Analogies(ctx, s, f, *restrict)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", *analogies, err)
		}
		fmt.Fprintf(e.stdout, "analogies (3CosAdd, %d most frequent words): %.2f%% (%d/%d)  semantic %.2f%%  syntactic %.2f%%  coverage %.1f%% of %d questions\n",
			res.Restrict, 100*res.Total.Accuracy, res.Total.Correct, res.Total.Total,
			100*res.Semantic.Accuracy, 100*res.Syntactic.Accuracy, 100*res.Coverage, res.Questions)
	}
	for _, path := range sims {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		res, err := evaluate.Pairs(ctx, s, f, filepath.Base(path), 0)
		f.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		fmt.Fprintf(e.stdout, "%s: Spearman %.4f  coverage %.1f%% (%d/%d pairs)\n",
			res.Name, res.Spearman, 100*res.Coverage, res.Scored, res.Pairs)
	}
	return nil
}
