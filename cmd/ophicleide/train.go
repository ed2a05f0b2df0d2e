package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/bytesize"
	"github.com/ophicleide/ophicleide/internal/corpus"
	"github.com/ophicleide/ophicleide/internal/fasttext"
	"github.com/ophicleide/ophicleide/internal/fetch"
	"github.com/ophicleide/ophicleide/internal/tokenize"
	"github.com/ophicleide/ophicleide/internal/word2vec"
)

func runTrain(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "train", "--input PATH [--input PATH...] --output PATH [flags]")
	var inputs listFlag
	fs.Var(&inputs, "input", "text to train on: a file, `PATH`.gz, an http(s) URL, or - for stdin (repeatable)")
	allowPrivate := fs.Bool("allow-private-urls", false, "let --input URLs reach loopback/private/link-local addresses")
	output := fs.String("output", "", "where to write the vectors (- for stdout)")
	format := fs.String("format", "binary", "output format: text or binary (word2vec.c / gensim formats), or fasttext (a fastText .bin model, with the n-grams of --maxn)")
	model := fs.String("model", "skipgram", "architecture: skipgram or cbow")
	loss := fs.String("loss", "ns", "output layer: ns (negative sampling) or hs (hierarchical softmax)")
	dim := fs.Int("dim", 100, "vector dimension")
	window := fs.Int("window", 5, "maximum context distance")
	negative := fs.Int("negative", 5, "negative samples (ns only)")
	minCount := fs.Int("min-count", 5, "ignore words seen fewer times")
	sample := fs.Float64("sample", 1e-3, "subsampling threshold for frequent words (0 disables)")
	epochs := fs.Int("epochs", 5, "passes over the corpus")
	alpha := fs.Float64("alpha", 0, "start learning rate (default 0.025 for skipgram, 0.05 for cbow)")
	threads := fs.Int("threads", runtime.NumCPU(), "training goroutines")
	seed := fs.Uint64("seed", 1, "random seed (with --threads 1 the output is reproducible bit for bit)")
	tok := fs.String("tokenizer", "unicode", "tokenizer: unicode, classic or whitespace")
	encoding := fs.String("encoding", "utf-8", "input encoding: utf-8 or latin-1")
	maxVocab := fs.Int("max-vocab", 0, "keep at most this many most frequent words (0: no cap)")
	minn := fs.Int("minn", 0, "subwords: shortest character n-gram, 1 to --maxn (fastText's -minn)")
	maxn := fs.Int("maxn", 0, "subwords: longest character n-gram, at most 10 (0: no subwords; fastText's -maxn)")
	bucket := fs.Int("bucket", 0, "subwords: rows the n-grams are hashed into (default 2000000 with --maxn)")
	maxMemory := fs.String("max-memory", "", "memory training may use (e.g. 4GiB): the corpus as word ids goes to a file in --tmp-dir when it would not fit beside the weights, and training fails before allocating weights that do not fit")
	tmpDir := fs.String("tmp-dir", "", "directory for the corpus as word ids (4 bytes a word) when it does not fit in --max-memory, or with --disk-corpus; the file has no name and is gone when training ends (default: $TMPDIR or /tmp)")
	diskCorpus := fs.Bool("disk-corpus", false, "keep the corpus as word ids in a file in --tmp-dir whatever the memory (as fast when the file stays in page cache)")
	countLimit := fs.Int("count-limit", 0, "distinct words counted before the rarest are pruned while counting (word2vec.c's ReduceVocab, gensim's max_vocab_size): bounds counting's memory, but words pruned early can miss the vocabulary (0: no limit, or half of --max-memory at ~100 bytes a word)")
	statsJSON := fs.String("stats-json", "", "also write the run's statistics to this JSON file")
	quiet := fs.Bool("quiet", false, "no progress output")
	engine := fs.String("engine", "native", "training engine: native (this process) or spark (Spark MLlib on --spark; skip-gram with hierarchical softmax only, Spark's defaults for flags not given)")
	sparkURL := fs.String("spark", e.getenv("OPH_SPARK_URL"), "Spark Connect URL for --engine spark, sc://HOST:PORT[/;token=...;use_ssl=true] (env OPH_SPARK_URL)")
	partitions := fs.Int("partitions", 0, "--engine spark: partitions of the training data (Spark's numPartitions; default 1)")
	maxSentence := fs.Int("max-sentence-length", 0, "--engine spark: longest sentence before it is split (default 1000)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("unexpected arguments %s: give each input its own --input (--input a.txt --input b.txt)", quoteAll(pos))
	}
	if err := positiveFlags(fs, "dim", "window", "negative", "min-count", "epochs", "alpha", "threads", "partitions", "max-sentence-length"); err != nil {
		return err
	}
	switch *engine {
	case "native":
		if *partitions != 0 || *maxSentence != 0 {
			return usagef("--partitions and --max-sentence-length are for --engine spark")
		}
	case "spark":
		return runTrainSpark(ctx, e, fs, sparkTrain{inputs: inputs, output: *output, format: *format, url: *sparkURL,
			allowPrivate: *allowPrivate, encoding: *encoding, statsJSON: *statsJSON, quiet: *quiet,
			params: ophicleide.Params{Engine: "spark", Model: *model, Loss: *loss, Dim: *dim, Window: *window, Negative: *negative,
				MinCount: *minCount, Sample: *sample, Epochs: *epochs, Alpha: *alpha, Seed: *seed, Tokenizer: *tok, MaxVocab: *maxVocab,
				MinN: *minn, MaxN: *maxn, Bucket: *bucket, Partitions: *partitions, MaxSentenceLength: *maxSentence}})
	default:
		return usagef("--engine: %q is not an engine (native or spark)", *engine)
	}
	if len(inputs) == 0 {
		return usagef("--input is required (a file, or - for stdin)")
	}
	if *output == "" {
		return usagef("--output is required")
	}
	vf, err := parseFormat(*format)
	if err != nil {
		return usagef("--format: %v", err)
	}
	mode, err := tokenize.ParseMode(*tok)
	if err != nil {
		return usagef("--tokenizer: %v", err)
	}
	var limit int64
	if *maxMemory != "" {
		limit, err = bytesize.Parse(*maxMemory)
	}
	if err != nil {
		return usagef("--max-memory: %v", err)
	}
	s := *sample
	if s == 0 {
		s = -1 // Config treats 0 as "default"; the flag's 0 means off.
	}
	cfg := word2vec.Config{
		Arch: word2vec.Arch(*model), Loss: word2vec.Loss(*loss), Dim: *dim, Window: *window,
		Negative: *negative, MinCount: *minCount, Sample: s, Epochs: *epochs, Alpha: *alpha,
		Threads: *threads, Seed: *seed, MaxVocab: *maxVocab, MemoryLimit: limit,
		TempDir: *tmpDir, DiskCorpus: *diskCorpus, CountLimit: *countLimit,
		MinN: *minn, MaxN: *maxn, Bucket: *bucket,
		InputBytes: inputSize(inputs),
	}
	if cfg.Loss == word2vec.HierarchicalSoftmax {
		cfg.Negative = 0
	}
	if err := cfg.Validate(); err != nil {
		var ce *word2vec.ConfigError
		if errors.As(err, &ce) {
			name := ce.Field
			if name == "memory-limit" {
				name = "max-memory"
			}
			return usagef("--%s: %v", name, err)
		}
		return &usageError{err.Error()}
	}
	// Fail on an unwritable output before spending minutes training.
	out, err := createOutput(*output, e.stdout)
	if err != nil {
		return err
	}
	defer out.abort()

	if !*quiet {
		p := newProgressPrinter(e.stderr)
		cfg.Progress = p.print
		cfg.ProgressInterval = p.interval
	}
	f := fetch.New(fetch.Options{AllowPrivate: *allowPrivate, UserAgent: "ophicleide/" + version})
	// The offline trainer reads the user's own files: no size limits.
	src := corpus.NewWithLimits(ctx, inputSources(e, inputs, f), tokenize.Options{Mode: mode, Encoding: *encoding}, corpus.Limits{MaxSourceBytes: -1, MaxTotalBytes: -1})
	defer src.Close()
	res, err := word2vec.Train(ctx, cfg, src)
	var (
		fe *word2vec.CorpusFileError
		de *word2vec.DiskSpaceError
	)
	if errors.As(err, &fe) || errors.As(err, &de) {
		// word2vec's message names no path; here the directory is the user's.
		dir := *tmpDir
		if dir == "" {
			dir = os.TempDir()
		}
		return fmt.Errorf("--tmp-dir %s: %w", dir, err)
	}
	if err != nil {
		return err
	}
	if err := writeVectors(out.w, res.Vectors, vf, fastTextMeta(cfg, res.Counts)); err != nil {
		return fmt.Errorf("writing %s: %w", *output, err)
	}
	if err := out.commit(); err != nil {
		return err
	}
	st := res.Stats
	if !*quiet {
		fmt.Fprintf(e.stderr, "done: %d corpus words, %d words in vocabulary, %.2f s training, %.0f words/s\n",
			st.CorpusWords, st.VocabSize, st.TrainSeconds, st.WordsPerSecond)
	}
	if *statsJSON != "" {
		if err := writeStats(*statsJSON, st); err != nil {
			return err
		}
	}
	return nil
}

// positiveFlags refuses any of the flags names that was given with a value
// of 0 or below, as the API refuses those parameters (0 is not "the
// default" when said out loud).
func positiveFlags(fs *flag.FlagSet, names ...string) error {
	var err error
	fs.Visit(func(f *flag.Flag) {
		if err != nil || !slices.Contains(names, f.Name) {
			return
		}
		if v, perr := strconv.ParseFloat(f.Value.String(), 64); perr == nil && !(v > 0) {
			err = usagef("--%s must be above 0, got %s (leave it out for the default)", f.Name, f.Value.String())
		}
	})
	return err
}

func writeStats(path string, st word2vec.Stats) error {
	b, err := json.MarshalIndent(map[string]any{
		"corpus_words":     st.CorpusWords,
		"train_words":      st.TrainWords,
		"sentences":        st.Sentences,
		"vocab_size":       st.VocabSize,
		"epochs":           st.Epochs,
		"count_seconds":    st.CountSeconds,
		"train_seconds":    st.TrainSeconds,
		"words_per_second": st.WordsPerSecond,
		"memory_estimate":  st.MemoryBytes,
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// output writes to a temporary file next to the destination and renames it
// into place on commit, so a failed run never leaves a truncated file.
type output struct {
	w    *bufio.Writer
	f    *os.File
	tmp  string
	dest string
}

func createOutput(path string, stdout io.Writer) (*output, error) {
	if path == "-" {
		return &output{w: bufio.NewWriterSize(stdout, 1<<20)}, nil
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("cannot write output: %w", err)
	}
	return &output{w: bufio.NewWriterSize(f, 1<<20), f: f, tmp: f.Name(), dest: path}, nil
}

func (o *output) commit() error {
	if err := o.w.Flush(); err != nil {
		return err
	}
	if o.f == nil {
		return nil
	}
	if err := o.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(o.tmp, o.dest); err != nil {
		return err
	}
	o.f = nil
	return nil
}

func (o *output) abort() {
	if o.f != nil {
		o.f.Close()
		os.Remove(o.tmp)
	}
}

// progressPrinter shows training progress: a redrawn bar on a terminal,
// a plain line every few seconds otherwise.
type progressPrinter struct {
	w        io.Writer
	tty      bool
	interval time.Duration
	phase    word2vec.Phase
	// models create --wait (model):
	modelPhase string
	last       time.Time // when the last plain line was printed
	drawn      bool      // a redrawn line waits for its end
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	p := &progressPrinter{w: w, interval: 5 * time.Second}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty, p.interval = true, 250*time.Millisecond
	}
	return p
}

func (p *progressPrinter) print(pr word2vec.Progress) {
	var line string
	switch pr.Phase {
	case word2vec.PhaseCounting:
		line = fmt.Sprintf("reading corpus: %s words", siCount(float64(pr.Words)))
		if pr.Fraction > 0 {
			line += fmt.Sprintf(" (%.0f%%)", 100*pr.Fraction)
		}
	default:
		line = fmt.Sprintf("training: %5.1f%%  %s words/s  alpha %.5f  eta %s",
			100*pr.Fraction, siCount(pr.WordsPerSecond), pr.Alpha, shortDuration(pr.ETA))
		if p.tty {
			const width = 30
			n := int(pr.Fraction * width)
			line = "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] " + line
		}
	}
	if p.tty {
		if p.phase != "" && p.phase != pr.Phase {
			fmt.Fprintln(p.w)
		}
		fmt.Fprintf(p.w, "\r%-100s", line)
		if pr.Phase == word2vec.PhaseTraining && pr.Fraction >= 1 {
			fmt.Fprintln(p.w)
		}
	} else {
		fmt.Fprintln(p.w, line)
	}
	p.phase = pr.Phase
}

func siCount(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func shortDuration(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(time.Second).String()
}

// modelProgressLine is a server model's progress in words.
func modelProgressLine(pr *ophicleide.Progress) string {
	if pr == nil {
		return ""
	}
	switch pr.Phase {
	case "training":
		line := fmt.Sprintf("training: %5.1f%%", 100*pr.Fraction)
		if pr.WordsPerSecond > 0 {
			line += fmt.Sprintf("  %s words/s", siCount(pr.WordsPerSecond))
		}
		return line + "  eta " + shortDuration(time.Duration(pr.EtaSeconds*float64(time.Second)))
	case "counting":
		return fmt.Sprintf("reading corpus: %.0f%%", 100*pr.Fraction)
	case "fetching":
		if pr.Fraction > 0 {
			return fmt.Sprintf("fetching: %.0f%%", 100*pr.Fraction)
		}
		return "fetching"
	case "":
		return ""
	}
	return pr.Phase
}

// model shows a server model's progress (models create --wait): redrawn
// on a terminal, with a bar while training; otherwise a line at each new
// phase and every interval.
func (p *progressPrinter) model(status ophicleide.Status, pr *ophicleide.Progress) {
	line := modelProgressLine(pr)
	phase := ""
	if pr != nil {
		phase = pr.Phase
	}
	if line == "" {
		line, phase = string(status), string(status)
	}
	if p.tty {
		if phase == "training" {
			const width = 30
			n := min(max(int(pr.Fraction*width), 0), width)
			line = "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] " + line
		}
		if p.modelPhase != "" && p.modelPhase != phase {
			fmt.Fprintln(p.w)
		}
		fmt.Fprintf(p.w, "\r%-100s", line)
		p.drawn = true
	} else if phase != p.modelPhase || time.Since(p.last) >= p.interval {
		fmt.Fprintln(p.w, line)
		p.last = time.Now()
	}
	p.modelPhase = phase
}

// end ends a redrawn line.
func (p *progressPrinter) end() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}

// fastTextMeta is what a fastText .bin written by train records: the
// run's settings under fastText's names and the real corpus counts.
func fastTextMeta(cfg word2vec.Config, counts []int64) *fasttext.Meta {
	a := fasttext.DefaultArgs(cfg.Dim)
	a.WS, a.Epoch, a.MinCount, a.Neg = int32(cfg.Window), int32(cfg.Epochs), int32(cfg.MinCount), int32(cfg.Negative)
	a.T = max(cfg.Sample, 0) // 0: no subsampling (cfg's -1)
	if cfg.Arch == word2vec.CBOW {
		a.Model = fasttext.CBOW
	}
	if cfg.Loss == word2vec.HierarchicalSoftmax {
		a.Loss = fasttext.HS
	}
	return &fasttext.Meta{Args: a, Counts: counts}
}
