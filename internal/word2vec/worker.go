package word2vec

import (
	"math"

	"github.com/ophicleide/ophicleide/internal/vecmath"
)

const (
	// word2vec.c's sigmoid table: sigma(x) for x in [-maxExp, maxExp).
	maxExp       = 6
	expTableSize = 1000
	// reportEvery is how many words a goroutine processes between updates
	// of the shared progress counter, the learning rate and the stop flag.
	reportEvery = 10000
)

var sigmoidTable = func() [expTableSize + 1]float32 {
	var t [expTableSize + 1]float32
	for i := range t {
		e := math.Exp((float64(i)/expTableSize*2 - 1) * maxExp)
		t[i] = float32(e / (e + 1))
	}
	return t
}()

// gradient is word2vec.c's (label - sigma(f)) * alpha with its clipping:
// beyond |f| >= maxExp the sigmoid is taken as 0 or 1. A NaN f (weights
// that diverged) takes the last branch, so the table is never indexed out
// of range; the divergence itself is caught by worker.flush.
func gradient(f, label, alpha float32) float32 {
	switch {
	case f >= maxExp:
		return (label - 1) * alpha
	case f > -maxExp:
		return (label - sigmoidTable[int((f+maxExp)*(expTableSize/(2.0*maxExp)))]) * alpha
	}
	return label * alpha
}

// worker is one training goroutine with its own random generator and
// scratch buffers; nothing in its loops allocates.
type worker struct {
	m       *model
	rng     rng
	sen     []int32   // current sentence after subsampling
	ctx     []int32   // context word ids of the current window
	targets []int32   // output rows of the current window (target, then negatives)
	next    []int32   // the targets of the next position, drawn ahead to prefetch their rows
	labels  []float32 // labels[i] is 1 for targets[0] (the word), 0 for negatives
	g       []float32 // gradients, len(ctx) x len(targets)
	neu     []float32 // per-context accumulated input gradients, len(ctx) x dim
	neu1    []float32 // CBOW hidden layer
	neu1e   []float32 // accumulated input gradient
	alpha   float32
	local   int64 // words processed since the last report
	probe   int32 // a word trained since the last report, whose rows flush checks
}

func newWorker(m *model, id int) *worker {
	d, win := m.dim, m.cfg.Window
	return &worker{
		m:       m,
		rng:     newRNG(m.cfg.Seed, uint64(id)),
		sen:     make([]int32, 0, MaxSentence),
		ctx:     make([]int32, 0, 2*win),
		targets: make([]int32, 0, m.cfg.Negative+1),
		next:    make([]int32, 0, m.cfg.Negative+1),
		labels:  labels(m.cfg.Negative + 1),
		g:       make([]float32, 2*win*(m.cfg.Negative+1)),
		neu:     make([]float32, 2*win*d),
		neu1:    make([]float32, d),
		neu1e:   make([]float32, d),
		alpha:   float32(m.cfg.Alpha),
	}
}

// flush publishes the words processed since the last call and recomputes
// the learning rate from the global progress. It reports whether training
// should stop.
func (w *worker) flush() bool {
	m := w.m
	if flushHook != nil {
		flushHook()
	}
	if !w.finite() {
		m.diverged.Store(true)
		m.stop.Store(true)
		return true
	}
	done := m.done.Add(w.local)
	w.local = 0
	start := m.cfg.Alpha
	a := start * (1 - float64(done)/float64(m.total+1))
	a = max(a, start*1e-4)
	w.alpha = float32(a)
	m.alpha.Store(math.Float64bits(a))
	return m.stop.Load()
}

// flushHook, when set (by tests only), runs at every flush: a test makes
// it panic to check that a panic in a training goroutine is returned by
// Train rather than killing the process, since no input provokes one.
var flushHook func()

// maxNorm2 is the squared norm beyond which a row counts as diverged. Rows
// of healthy models have norms of 0.1 to ~20; a learning rate far too high
// grows them without bound until they overflow to Inf and then NaN.
const maxNorm2 = 1e8

// finite reports whether the input and output rows of w.probe are finite
// and of a sane size: a cheap sample (two dot products every 10,000 words)
// that catches divergence within one report interval of its start, since
// a diverging model blows up the rows of frequent words first.
func (w *worker) finite() bool {
	d, p := w.m.dim, int(w.probe)
	in := w.m.syn0[p*d : p*d+d]
	if n := vecmath.Dot(in, in); !(n < maxNorm2) { // false for NaN
		return false
	}
	if o := p * d; o+d <= len(w.m.syn1) {
		out := w.m.syn1[o : o+d]
		if n := vecmath.Dot(out, out); !(n < maxNorm2) {
			return false
		}
	}
	return true
}

// train runs every epoch over the sentences that start in [lo, hi) of the
// stored corpus: it skips to the first sentence start at or after lo and
// stops at the first sentence end at or after hi, so goroutines split the
// corpus at sentence boundaries with no overlap.
func (w *worker) train(lo, hi int64) {
	toks := &w.m.c.tokens
	if lo > 0 {
		for lo < toks.n && toks.at(lo-1) != sentinel {
			lo++
		}
	}
	for epoch := 0; epoch < w.m.cfg.Epochs; epoch++ {
		i := lo
		for i < toks.n && i < hi || (i > lo && i < toks.n && toks.at(i-1) != sentinel) {
			i = w.readSentence(i)
			w.trainSentence()
			if w.local >= reportEvery {
				if w.flush() {
					return
				}
			}
		}
		if w.flush() {
			return
		}
	}
}

// readSentence copies the sentence starting at i into w.sen, subsampling
// frequent words, and returns the index after its end.
func (w *worker) readSentence(i int64) int64 {
	toks := &w.m.c.tokens
	keep := w.m.keep
	w.sen = w.sen[:0]
	for i < toks.n && len(w.sen) < cap(w.sen) {
		v := toks.at(i)
		i++
		if v == sentinel {
			break
		}
		w.local++
		if keep[v] != math.MaxUint32 && uint32(w.rng.next()) >= keep[v] {
			continue
		}
		w.sen = append(w.sen, v)
	}
	if len(w.sen) > 0 {
		w.probe = w.sen[0]
	}
	return i
}

func (w *worker) trainSentence() {
	switch {
	case w.m.cfg.Arch == SkipGram && w.m.cfg.Loss == NegativeSampling:
		w.skipGramNS()
	case w.m.cfg.Arch == SkipGram:
		w.skipGramHS()
	case w.m.cfg.Loss == NegativeSampling:
		w.cbowNS()
	default:
		w.cbowHS()
	}
}

// window returns the bounds of the randomly reduced window around pos
// (word2vec.c: b uniform in [0, window), span window-b on each side).
func (w *worker) window(pos int) (lo, hi int) {
	win := w.m.cfg.Window
	b := intn(w.rng.next(), win)
	lo = max(0, pos-win+b)
	hi = min(len(w.sen), pos+win-b+1)
	return lo, hi
}

// labels returns the label of each target slot: 1 for the word, 0 for
// the negatives.
func labels(n int) []float32 {
	l := make([]float32, n)
	l[0] = 1
	return l
}

// drawTargets sets dst to word and up to Negative noise words, skipping
// draws equal to word as word2vec.c does.
func (w *worker) drawTargets(dst []int32, word int32) []int32 {
	dst = append(dst[:0], word)
	for d := 0; d < w.m.cfg.Negative; d++ {
		if t := w.m.noise.draw(w.rng.next()); t != word {
			dst = append(dst, t)
		}
	}
	return dst
}

// advanceTargets makes the targets drawn ahead for pos current, then draws
// those of pos+1 and prefetches their output rows, which are scattered
// over the whole output matrix: fetching them while pos trains hides most
// of the memory latency.
func (w *worker) advanceTargets(pos int) {
	if pos == 0 {
		w.next = w.drawTargets(w.next, w.sen[0])
	}
	w.targets, w.next = w.next, w.targets
	if pos+1 < len(w.sen) {
		w.next = w.drawTargets(w.next, w.sen[pos+1])
		d := w.m.dim
		for _, t := range w.next {
			vecmath.Prefetch(w.m.syn1[int(t)*d : int(t)*d+d])
		}
	}
}

// skipGramNS is skip-gram with negative sampling. For each centre word the
// targets (the word and its negatives) are drawn once and shared by every
// context word of the window (Ji et al. 2016); per (context c, target t)
// pair the update is word2vec.c's:
//
//	g = (label - sigma(syn0[c]·syn1[t])) * alpha
//	neu1e_c += g * syn1[t];  syn1[t] += g * syn0[c];  then syn0[c] += neu1e_c
//
// with all gradients of the window computed from the weights as they were
// when the window started.
func (w *worker) skipGramNS() {
	d := w.m.dim
	syn0, syn1 := w.m.syn0, w.m.syn1
	alpha := w.alpha
	for pos := range w.sen {
		w.advanceTargets(pos)
		lo, hi := w.window(pos)
		w.ctx = w.ctx[:0]
		for c := lo; c < hi; c++ {
			if c != pos {
				w.ctx = append(w.ctx, w.sen[c])
			}
		}
		if len(w.ctx) == 0 {
			continue
		}
		nt := len(w.targets)
		for ci, c := range w.ctx {
			in := syn0[int(c)*d : int(c)*d+d]
			neu := w.neu[ci*d : ci*d+d]
			clear(neu)
			for ti, t := range w.targets {
				out := syn1[int(t)*d : int(t)*d+d]
				g := gradient(vecmath.Dot(in, out), w.labels[ti], alpha)
				w.g[ci*nt+ti] = g
				if g != 0 {
					vecmath.Axpy(g, out, neu)
				}
			}
		}
		for ti, t := range w.targets {
			out := syn1[int(t)*d : int(t)*d+d]
			for ci, c := range w.ctx {
				if g := w.g[ci*nt+ti]; g != 0 {
					vecmath.Axpy(g, syn0[int(c)*d:int(c)*d+d], out)
				}
			}
		}
		for ci, c := range w.ctx {
			vecmath.Axpy(1, w.neu[ci*d:ci*d+d], syn0[int(c)*d:int(c)*d+d])
		}
	}
}

// skipGramHS is skip-gram with hierarchical softmax (word2vec.c): each
// context word's vector predicts the Huffman path of the centre word.
func (w *worker) skipGramHS() {
	d := w.m.dim
	syn0 := w.m.syn0
	for pos, word := range w.sen {
		lo, hi := w.window(pos)
		for c := lo; c < hi; c++ {
			if c == pos {
				continue
			}
			in := syn0[int(w.sen[c])*d : int(w.sen[c])*d+d]
			clear(w.neu1e)
			w.softmaxPath(in, word)
			vecmath.Axpy(1, w.neu1e, in)
		}
	}
}

// softmaxPath trains the inner nodes on word's Huffman path to predict the
// word from the hidden vector in (word2vec.c's hierarchical softmax),
// adding the gradient for in to w.neu1e. Saturated nodes (|f| >= 6) are
// skipped, as in word2vec.c.
func (w *worker) softmaxPath(in []float32, word int32) {
	d := w.m.dim
	syn1 := w.m.syn1
	points, codes := w.m.tree.path(word)
	for k, p := range points {
		out := syn1[int(p)*d : int(p)*d+d]
		f := vecmath.Dot(in, out)
		if f <= -maxExp || f >= maxExp {
			continue
		}
		g := gradient(f, 1-float32(codes[k]), w.alpha)
		vecmath.Axpy(g, out, w.neu1e)
		vecmath.Axpy(g, in, out)
	}
}

// hidden sets w.neu1 to the mean of the context vectors of the window
// around pos and returns the context size.
func (w *worker) hidden(pos, lo, hi int) int {
	d := w.m.dim
	syn0 := w.m.syn0
	clear(w.neu1)
	n := 0
	for c := lo; c < hi; c++ {
		if c != pos {
			vecmath.Axpy(1, syn0[int(w.sen[c])*d:int(w.sen[c])*d+d], w.neu1)
			n++
		}
	}
	if n > 1 {
		vecmath.Scale(1/float32(n), w.neu1)
	}
	return n
}

// spread adds w.neu1e to every context vector of the window (word2vec.c
// CBOW: the gradient of the mean is not divided by the context size).
func (w *worker) spread(pos, lo, hi int) {
	d := w.m.dim
	syn0 := w.m.syn0
	for c := lo; c < hi; c++ {
		if c != pos {
			vecmath.Axpy(1, w.neu1e, syn0[int(w.sen[c])*d:int(w.sen[c])*d+d])
		}
	}
}

// cbowNS is CBOW with negative sampling (word2vec.c): the mean of the
// context vectors predicts the centre word against Negative noise words.
// Saturated outputs (|f| >= 6) are skipped as gensim does rather than
// clipped as word2vec.c does: on a 5M-word slice of the medium corpus this
// gave 10.2% analogy accuracy against 9.9% (means of three seeds each).
func (w *worker) cbowNS() {
	d := w.m.dim
	syn1 := w.m.syn1
	alpha := w.alpha
	for pos := range w.sen {
		w.advanceTargets(pos)
		lo, hi := w.window(pos)
		if w.hidden(pos, lo, hi) == 0 {
			continue
		}
		clear(w.neu1e)
		for ti, t := range w.targets {
			out := syn1[int(t)*d : int(t)*d+d]
			f := vecmath.Dot(w.neu1, out)
			if f <= -maxExp || f >= maxExp {
				continue
			}
			g := gradient(f, w.labels[ti], alpha)
			if g == 0 {
				continue
			}
			vecmath.Axpy(g, out, w.neu1e)
			vecmath.Axpy(g, w.neu1, out)
		}
		w.spread(pos, lo, hi)
	}
}

// cbowHS is CBOW with hierarchical softmax (word2vec.c).
func (w *worker) cbowHS() {
	for pos, word := range w.sen {
		lo, hi := w.window(pos)
		if w.hidden(pos, lo, hi) == 0 {
			continue
		}
		clear(w.neu1e)
		w.softmaxPath(w.neu1, word)
		w.spread(pos, lo, hi)
	}
}
