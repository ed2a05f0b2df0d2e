package word2vec

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Phase names a stage of training as reported by Progress.
type Phase string

// Phases, in order.
const (
	PhaseCounting Phase = "counting"
	PhaseTraining Phase = "training"
)

// Progress is a snapshot of a running Train call.
type Progress struct {
	Phase Phase
	// Words is the number of tokens read (counting) or of in-vocabulary
	// tokens processed over all epochs so far (training).
	Words int64
	// TotalWords is Epochs times the in-vocabulary tokens (training only).
	TotalWords int64
	// Fraction of the phase done, 0..1 (0 while counting input of unknown size).
	Fraction       float64
	WordsPerSecond float64 // over the phase so far
	Alpha          float64 // current learning rate (training only)
	Elapsed        time.Duration
	ETA            time.Duration // estimated time left in the phase; 0 when unknown
}

// Stats describes a finished training run.
type Stats struct {
	CorpusWords  int64 // tokens read, in vocabulary or not
	TrainWords   int64 // in-vocabulary tokens per epoch
	Sentences    int64
	VocabSize    int
	Epochs       int
	CountSeconds float64 // reading, tokenising and counting
	TrainSeconds float64
	// WordsPerSecond is CorpusWords*Epochs/TrainSeconds, the figure
	// word2vec benchmarks compare.
	WordsPerSecond float64
	MemoryBytes    int64 // estimate of the memory training used
}

// Result is a trained model.
type Result struct {
	Vectors *vectors.Set // rows in descending frequency
	Counts  []int64      // corpus count of each row's word
	Stats   Stats
}

// EstimateMemory returns the bytes training needs for a vocabulary of
// vocab words, beyond the stored corpus: the input and output matrices,
// and the sampling tables. The stored corpus adds its size while it is in
// memory and nothing once it is on file (Config.TempDir).
func EstimateMemory(cfg Config, vocab int) int64 {
	cfg = cfg.withDefaults()
	v, d := int64(vocab), int64(cfg.Dim)
	m := 2 * v * d * 4 // input and output matrices
	if cfg.subwords().Enabled() {
		m += int64(cfg.Bucket) * d * 4               // n-gram input rows
		m += v * int64(4+4*(1+estimatedNGrams(cfg))) // n-gram index
	}
	m += v * (16 + 8 + 4 + 8) // strings, counts, subsampling, alias table
	if cfg.Loss == HierarchicalSoftmax {
		m += v * 40 * 5 // Huffman paths, 5 bytes per step, ~40 deep at most
	}
	m += int64(cfg.Threads) * int64(MaxSentence+4*cfg.Window*(cfg.Dim+cfg.Negative+2)) * 4
	return m
}

// Estimate makes Train's counting pass over src and returns the memory
// training it with cfg would need (the figure Train checks against
// MemoryLimit) and the vocabulary size, without training. A server uses it
// to refuse, when a model is created, a request whose text it already has
// (uploads) but which would need more memory than a job may use. The
// counting pass reads all of src whatever cfg.MemoryLimit, as Train's
// does: the corpus moves to a file in cfg.TempDir when it would not fit
// beside the weights, and the figure then leaves it out. When the figure
// is over a positive limit, err is the *MemoryError Train returns before
// allocating the matrices (need and vocab are set). It returns Train's
// other errors of the counting pass.
func Estimate(ctx context.Context, cfg Config, src Sentences) (need int64, vocab int, err error) {
	if err := cfg.Validate(); err != nil {
		return 0, 0, err
	}
	cfg = cfg.withDefaults()
	c, err := countWords(ctx, src, cfg, func(int64, float64) {})
	if err != nil {
		return 0, 0, err
	}
	defer c.tokens.close()
	if err := c.finish(cfg.MinCount, cfg.MaxVocab); err != nil {
		return 0, 0, err
	}
	need = EstimateMemory(cfg, len(c.words)) + c.tokens.bytes()
	return need, len(c.words), checkMemory(cfg, len(c.words), need)
}

// checkMemory returns the *MemoryError of training vocab words needing
// need bytes when that is over cfg.MemoryLimit (cfg with defaults).
func checkMemory(cfg Config, vocab int, need int64) error {
	if cfg.MemoryLimit > 0 && need > cfg.MemoryLimit {
		return &MemoryError{What: fmt.Sprintf("training %d words of dimension %d", vocab, cfg.Dim), Need: need, Limit: cfg.MemoryLimit}
	}
	return nil
}

// Train reads every sentence of src, builds the vocabulary and trains word
// vectors. It returns ErrEmptyCorpus, a *VocabularyError, a *ConfigError,
// a *MemoryError, the source's error, or ctx.Err() when cancelled.
func Train(ctx context.Context, cfg Config, src Sentences) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	emit := func(p Progress) {
		if cfg.Progress != nil {
			cfg.Progress(p)
		}
	}

	start := time.Now()
	lastReport := start
	c, err := countWords(ctx, src, cfg, func(words int64, frac float64) {
		now := time.Now()
		if frac < 1 && now.Sub(lastReport) < cfg.ProgressInterval {
			return
		}
		lastReport = now
		el := now.Sub(start)
		p := Progress{Phase: PhaseCounting, Words: words, Fraction: frac, Elapsed: el, WordsPerSecond: float64(words) / max(el.Seconds(), 1e-9)}
		if frac > 0 && frac < 1 {
			p.ETA = time.Duration(float64(el) * (1 - frac) / frac)
		}
		emit(p)
	})
	if err != nil {
		return nil, err
	}
	// The stored corpus may be a temporary file: released on every return.
	defer c.tokens.close()
	if err := c.finish(cfg.MinCount, cfg.MaxVocab); err != nil {
		return nil, err
	}
	countSeconds := time.Since(start).Seconds()

	need := EstimateMemory(cfg, len(c.words)) + c.tokens.bytes()
	if err := checkMemory(cfg, len(c.words), need); err != nil {
		return nil, err
	}

	// The counting pass leaves the provisional vocabulary (a map and a
	// string per distinct word) as garbage. Collect it now so the matrices
	// reuse that memory instead of raising the peak: training itself
	// allocates nothing, so no collection would run before the end.
	runtime.GC()
	m := newModel(cfg, c)
	trainStart := time.Now()
	if err := m.run(ctx, emit); err != nil {
		return nil, err
	}
	trainSeconds := time.Since(trainStart).Seconds()

	c.tokens.close() // no longer needed
	m.syn1 = nil
	var set *vectors.Set
	if m.ngrams != nil {
		set, err = m.subwordSet()
	} else {
		set, err = vectors.New(c.words, cfg.Dim, m.syn0)
	}
	if err != nil {
		return nil, fmt.Errorf("building vector set: %w", err)
	}
	return &Result{
		Vectors: set,
		Counts:  c.counts,
		Stats: Stats{
			CorpusWords: c.corpusWords, TrainWords: c.trainWords, Sentences: c.sentences,
			VocabSize: len(c.words), Epochs: cfg.Epochs, CountSeconds: countSeconds,
			TrainSeconds:   trainSeconds,
			WordsPerSecond: float64(c.corpusWords) * float64(cfg.Epochs) / max(trainSeconds, 1e-9),
			MemoryBytes:    need,
		},
	}, nil
}

// DivergedError is returned when the weights grew without bound or became
// NaN: the learning rate was too high for the corpus and settings.
type DivergedError struct {
	Alpha             float64
	Words, TotalWords int64 // progress when it was detected
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("training diverged (the weights overflowed) after %.0f%% of training with alpha %g; lower alpha (the default is 0.025 for skip-gram, 0.05 for CBOW)",
		100*float64(e.Words)/float64(max(e.TotalWords, 1)), e.Alpha)
}

// PanicError is a panic of a training goroutine, returned by Train so
// that one bad run does not take the process down. It is a bug.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("internal error in the trainer: %v", e.Value) }

// allFinite reports whether every value of xs is finite and of a sane
// size (the last word of divergence detection, over the whole matrix).
func allFinite(xs []float32) bool {
	for _, x := range xs {
		if !(x < 1e30 && x > -1e30) {
			return false
		}
	}
	return true
}

// model is the state shared by the training goroutines.
type model struct {
	cfg   Config
	c     *counted
	dim   int
	syn0  []float32 // input vectors, V x dim
	syn1  []float32 // output vectors: V x dim (ns) or (V-1) x dim (hs)
	keep  []uint32  // subsampling: keep word i when a 32-bit random < keep[i]
	noise unigramTable
	tree  *huffman
	// ngrams, with subwords, is each word's input rows; syn0 then holds
	// V word rows and Bucket n-gram rows (subword.go).
	ngrams *ngramIndex
	total  int64        // words to process over all epochs
	done   atomic.Int64 // words processed so far, all goroutines
	alpha  atomic.Uint64
	stop   atomic.Bool

	diverged atomic.Bool                // a goroutine saw non-finite or exploding weights
	panicked atomic.Pointer[PanicError] // the first panic of a training goroutine
}

func newModel(cfg Config, c *counted) *model {
	v, d := len(c.words), cfg.Dim
	m := &model{cfg: cfg, c: c, dim: d, total: int64(cfg.Epochs) * c.trainWords}
	rows := v
	if cfg.subwords().Enabled() {
		m.ngrams = newNGramIndex(cfg, c.words)
		rows += cfg.Bucket
	}
	m.syn0 = make([]float32, rows*d)
	adviseHugePages(m.syn0)
	r := newRNG(cfg.Seed, 1<<40)
	// word2vec.c: uniform in [-0.5, 0.5) / dim; fastText, whose rows are
	// averaged, twice that: [-1, 1) / dim.
	scale, power := float32(1), 0.75
	if m.ngrams != nil {
		// fastText's choices for its model, measured better with subwords
		// (full medium corpus: +0.5 analogy, +0.7 syntactic, +0.012 SimLex,
		// +0.022 WS353 together).
		scale, power = 2, 0.5
	}
	for i := range m.syn0 {
		m.syn0[i] = scale * (float32(r.next()>>40)/(1<<24) - 0.5) / float32(d)
	}
	if cfg.Loss == NegativeSampling {
		m.syn1 = make([]float32, v*d)
		adviseHugePages(m.syn1)
		// word2vec.c's noise is count^0.75; fastText's count^0.5.
		m.noise = newUnigramTable(c.counts, power)
	} else {
		m.syn1 = make([]float32, max(v-1, 1)*d)
		adviseHugePages(m.syn1)
		m.tree = newHuffman(c.counts)
	}
	m.keep = make([]uint32, v)
	for i, n := range c.counts {
		p := 1.0
		if cfg.Sample > 0 {
			// word2vec.c: keep with probability (sqrt(f/t) + 1) * t/f,
			// f the word's count and t = sample * corpus size.
			t := cfg.Sample * float64(c.trainWords)
			f := float64(n)
			p = (math.Sqrt(f/t) + 1) * t / f
		}
		if p >= 1 {
			m.keep[i] = math.MaxUint32
		} else {
			m.keep[i] = uint32(p * (1 << 32))
		}
	}
	m.alpha.Store(math.Float64bits(cfg.Alpha))
	return m
}

// run trains with cfg.Threads goroutines, each over its own contiguous
// share of the corpus for every epoch, as word2vec.c does.
func (m *model) run(ctx context.Context, emit func(Progress)) error {
	threads := m.cfg.Threads
	n := m.c.tokens.n
	var wg sync.WaitGroup
	for t := 0; t < threads; t++ {
		th := newThread(m, t)
		lo, hi := n*int64(t)/int64(threads), n*int64(t+1)/int64(threads)
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A panic here would kill the process (no caller can recover
			// it): it stops training and Train returns it as an error.
			defer func() {
				if r := recover(); r != nil {
					m.panicked.CompareAndSwap(nil, &PanicError{Value: r, Stack: debug.Stack()})
					m.stop.Store(true)
				}
			}()
			th.train(lo, hi)
		}()
	}
	finished := make(chan struct{})
	go func() {
		wg.Wait()
		close(finished)
	}()

	start := time.Now()
	snapshot := func() Progress {
		done := m.done.Load()
		el := time.Since(start)
		p := Progress{Phase: PhaseTraining, Words: done, TotalWords: m.total, Elapsed: el,
			Alpha: math.Float64frombits(m.alpha.Load())}
		if m.total > 0 {
			p.Fraction = min(1, float64(done)/float64(m.total))
		}
		p.WordsPerSecond = float64(done) / max(el.Seconds(), 1e-9)
		if p.Fraction > 0 && p.Fraction < 1 {
			p.ETA = time.Duration(float64(el) * (1 - p.Fraction) / p.Fraction)
		}
		return p
	}
	tick := time.NewTicker(m.cfg.ProgressInterval)
	defer tick.Stop()
	cancelled := ctx.Done()
	for {
		select {
		case <-finished:
			if p := m.panicked.Load(); p != nil {
				return p
			}
			if m.diverged.Load() || !allFinite(m.syn0) {
				return &DivergedError{Alpha: m.cfg.Alpha, Words: m.done.Load(), TotalWords: m.total}
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			p := snapshot()
			p.Fraction, p.ETA = 1, 0
			emit(p)
			return nil
		case <-cancelled:
			m.stop.Store(true)
			cancelled = nil
		case <-tick.C:
			emit(snapshot())
		}
	}
}
