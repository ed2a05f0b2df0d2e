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
// of range; the divergence itself is caught by thread.flush.
func gradient(f, label, alpha float32) float32 {
	switch {
	case f >= maxExp:
		return (label - 1) * alpha
	case f > -maxExp:
		return (label - sigmoidTable[int((f+maxExp)*(expTableSize/(2.0*maxExp)))]) * alpha
	}
	return label * alpha
}

// thread is one of the Config.Threads training goroutines (word2vec.c's
// TrainModelThread), with its own random generator and scratch buffers;
// nothing in its loops allocates. Everything a thread writes as it trains
// sits on cache lines of its own (the struct is padded and every buffer
// comes from private): two threads writing one line make the line move
// between cores on every write; with the buffers side by side on the
// heap, CBOW on two threads was at times slower than on one.
type thread struct {
	_       [cacheLine]byte
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
	acc     []float32 // subword skip-gram: the window's summed input gradient
	col     []float32 // skip-gram: one target's gradients, one per context word
	ones    []float32 // 2*window coefficients of 1 (CBOW's mean and spread)
	alpha   float32
	local   int64 // words processed since the last report
	probe   int32 // a word trained since the last report, whose rows flush checks
	_       [cacheLine]byte
}

// cacheLine is a cache line and the adjacent line the hardware may fetch
// with it.
const cacheLine = 128

// private returns n zero values of T on cache lines shared with nothing
// else (cacheLine bytes of padding on each side), with capacity n.
func private[T int32 | float32](n int) []T {
	const pad = cacheLine / 4
	return make([]T, n+2*pad)[pad : pad+n : pad+n]
}

func newThread(m *model, id int) *thread {
	d, win, nt := m.dim, m.cfg.Window, m.cfg.Negative+1
	th := &thread{
		m:       m,
		rng:     newRNG(m.cfg.Seed, uint64(id)),
		sen:     private[int32](MaxSentence)[:0],
		ctx:     private[int32](2 * win)[:0],
		targets: private[int32](nt)[:0],
		next:    private[int32](nt)[:0],
		labels:  private[float32](nt),
		g:       private[float32](2 * win * nt),
		neu:     private[float32](2 * win * d),
		neu1:    private[float32](d),
		neu1e:   private[float32](d),
		acc:     private[float32](d),
		col:     private[float32](2 * win),
		ones:    private[float32](2 * win),
		alpha:   float32(m.cfg.Alpha),
	}
	th.labels[0] = 1
	for i := range th.ones {
		th.ones[i] = 1
	}
	return th
}

// flush publishes the words processed since the last call and recomputes
// the learning rate from the global progress. It reports whether training
// should stop.
func (th *thread) flush() bool {
	m := th.m
	if flushHook != nil {
		flushHook()
	}
	if !th.finite() {
		m.diverged.Store(true)
		m.stop.Store(true)
		return true
	}
	done := m.done.Add(th.local)
	th.local = 0
	start := m.cfg.Alpha
	a := start * (1 - float64(done)/float64(m.total+1))
	a = max(a, start*1e-4)
	th.alpha = float32(a)
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

// finite reports whether the input and output rows of th.probe are finite
// and of a sane size: a cheap sample (two dot products every 10,000 words)
// that catches divergence within one report interval of its start, since
// a diverging model blows up the rows of frequent words first.
func (th *thread) finite() bool {
	d, p := th.m.dim, int(th.probe)
	in := th.m.syn0[p*d : p*d+d]
	if n := vecmath.Dot(in, in); !(n < maxNorm2) { // false for NaN
		return false
	}
	if o := p * d; o+d <= len(th.m.syn1) {
		out := th.m.syn1[o : o+d]
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
func (th *thread) train(lo, hi int64) {
	toks := &th.m.c.tokens
	if lo > 0 {
		for lo < toks.n && toks.at(lo-1) != sentinel {
			lo++
		}
	}
	for epoch := 0; epoch < th.m.cfg.Epochs; epoch++ {
		i := lo
		for i < toks.n && i < hi || (i > lo && i < toks.n && toks.at(i-1) != sentinel) {
			i = th.readSentence(i)
			th.trainSentence()
			if th.local >= reportEvery {
				if th.flush() {
					return
				}
			}
		}
		if th.flush() {
			return
		}
	}
}

// readSentence copies the sentence starting at i into th.sen, subsampling
// frequent words, and returns the index after its end.
func (th *thread) readSentence(i int64) int64 {
	toks := &th.m.c.tokens
	keep := th.m.keep
	th.sen = th.sen[:0]
	for i < toks.n && len(th.sen) < cap(th.sen) {
		v := toks.at(i)
		i++
		if v == sentinel {
			break
		}
		th.local++
		if keep[v] != math.MaxUint32 && uint32(th.rng.next()) >= keep[v] {
			continue
		}
		th.sen = append(th.sen, v)
	}
	if len(th.sen) > 0 {
		th.probe = th.sen[0]
	}
	return i
}

func (th *thread) trainSentence() {
	switch {
	case th.m.ngrams != nil && th.m.cfg.Arch == SkipGram:
		th.skipGramSub()
	case th.m.ngrams != nil:
		th.cbowSub()
	case th.m.cfg.Arch == SkipGram && th.m.cfg.Loss == NegativeSampling:
		th.skipGramNS()
	case th.m.cfg.Arch == SkipGram:
		th.skipGramHS()
	case th.m.cfg.Loss == NegativeSampling:
		th.cbowNS()
	default:
		th.cbowHS()
	}
}

// window returns the bounds of the randomly reduced window around pos
// (word2vec.c: b uniform in [0, window), span window-b on each side).
func (th *thread) window(pos int) (lo, hi int) {
	win := th.m.cfg.Window
	b := intn(th.rng.next(), win)
	lo = max(0, pos-win+b)
	hi = min(len(th.sen), pos+win-b+1)
	return lo, hi
}

// drawTargets sets dst to word and up to Negative noise words, skipping
// draws equal to word as word2vec.c does.
func (th *thread) drawTargets(dst []int32, word int32) []int32 {
	dst = append(dst[:0], word)
	for d := 0; d < th.m.cfg.Negative; d++ {
		if t := th.m.noise.draw(th.rng.next()); t != word {
			dst = append(dst, t)
		}
	}
	return dst
}

// advanceTargets makes the targets drawn ahead for pos current, then draws
// those of pos+1 and prefetches their output rows, which are scattered
// over the whole output matrix: fetching them while pos trains hides most
// of the memory latency.
func (th *thread) advanceTargets(pos int) {
	if pos == 0 {
		th.next = th.drawTargets(th.next, th.sen[0])
	}
	th.targets, th.next = th.next, th.targets
	if pos+1 < len(th.sen) {
		th.next = th.drawTargets(th.next, th.sen[pos+1])
		d := th.m.dim
		for _, t := range th.next {
			vecmath.Prefetch(th.m.syn1[int(t)*d : int(t)*d+d])
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
// when the window started. The window is three small matrix products over
// gathered rows (vecmath's *Gather kernels): the context-by-target scores,
// the context rows' gradients, the target rows' updates.
func (th *thread) skipGramNS() {
	d := th.m.dim
	syn0, syn1 := th.m.syn0, th.m.syn1
	alpha := th.alpha
	for pos := range th.sen {
		th.advanceTargets(pos)
		lo, hi := th.window(pos)
		if th.context(pos, lo, hi) == 0 {
			continue
		}
		nt := len(th.targets)
		for ci, c := range th.ctx {
			g := th.g[ci*nt : ci*nt+nt]
			vecmath.DotGather(syn0[int(c)*d:int(c)*d+d], syn1, th.targets, g)
			for ti, f := range g {
				g[ti] = gradient(f, th.labels[ti], alpha)
			}
			neu := th.neu[ci*d : ci*d+d]
			clear(neu)
			vecmath.AxpyGather(g, syn1, th.targets, neu)
		}
		col := th.col[:len(th.ctx)]
		for ti, t := range th.targets {
			for ci := range col {
				col[ci] = th.g[ci*nt+ti]
			}
			vecmath.AxpyGather(col, syn0, th.ctx, syn1[int(t)*d:int(t)*d+d])
		}
		for ci, c := range th.ctx {
			vecmath.Axpy(1, th.neu[ci*d:ci*d+d], syn0[int(c)*d:int(c)*d+d])
		}
	}
}

// skipGramHS is skip-gram with hierarchical softmax (word2vec.c): each
// context word's vector predicts the Huffman path of the centre word.
func (th *thread) skipGramHS() {
	d := th.m.dim
	syn0 := th.m.syn0
	for pos, word := range th.sen {
		lo, hi := th.window(pos)
		for c := lo; c < hi; c++ {
			if c == pos {
				continue
			}
			in := syn0[int(th.sen[c])*d : int(th.sen[c])*d+d]
			clear(th.neu1e)
			th.softmaxPath(in, word)
			vecmath.Axpy(1, th.neu1e, in)
		}
	}
}

// softmaxPath trains the inner nodes on word's Huffman path to predict the
// word from the hidden vector in (word2vec.c's hierarchical softmax),
// adding the gradient for in to th.neu1e. Saturated nodes (|f| >= 6) are
// skipped, as in word2vec.c.
func (th *thread) softmaxPath(in []float32, word int32) {
	d := th.m.dim
	syn1 := th.m.syn1
	points, codes := th.m.tree.path(word)
	for k, p := range points {
		out := syn1[int(p)*d : int(p)*d+d]
		f := vecmath.Dot(in, out)
		if f <= -maxExp || f >= maxExp {
			continue
		}
		g := gradient(f, 1-float32(codes[k]), th.alpha)
		vecmath.Axpy(g, out, th.neu1e)
		vecmath.Axpy(g, in, out)
	}
}

// context sets th.ctx to the words of the window [lo, hi) around pos,
// pos itself left out, and returns how many there are.
func (th *thread) context(pos, lo, hi int) int {
	th.ctx = th.ctx[:0]
	for c := lo; c < hi; c++ {
		if c != pos {
			th.ctx = append(th.ctx, th.sen[c])
		}
	}
	return len(th.ctx)
}

// hidden sets th.ctx to the window's context words (context) and th.neu1
// to the mean of their vectors, and returns the context size.
func (th *thread) hidden(pos, lo, hi int) int {
	n := th.context(pos, lo, hi)
	if n == 0 {
		return 0
	}
	clear(th.neu1)
	vecmath.AxpyGather(th.ones[:n], th.m.syn0, th.ctx, th.neu1)
	if n > 1 {
		vecmath.Scale(1/float32(n), th.neu1)
	}
	return n
}

// spread adds th.neu1e to the vector of every context word hidden listed
// (word2vec.c CBOW: the gradient of the mean is not divided by the
// context size).
func (th *thread) spread() {
	vecmath.AxpyScatter(th.ones[:len(th.ctx)], th.neu1e, th.m.syn0, th.ctx)
}

// cbowNS is CBOW with negative sampling (word2vec.c): the mean of the
// context vectors predicts the centre word against Negative noise words.
// Saturated outputs (|f| >= 6) are skipped as gensim does rather than
// clipped as word2vec.c does: on a 5M-word slice of the medium corpus this
// gave 10.2% analogy accuracy against 9.9% (means of three seeds each).
// The scores of every target are taken before any target row moves (a
// negative drawn twice is scored once from the window's start, as in
// skip-gram), so the window is four kernels over gathered rows: the
// context mean, the target scores, the hidden gradient, and the target
// and context updates.
func (th *thread) cbowNS() {
	syn1 := th.m.syn1
	alpha := th.alpha
	for pos := range th.sen {
		th.advanceTargets(pos)
		lo, hi := th.window(pos)
		if th.hidden(pos, lo, hi) == 0 {
			continue
		}
		g := th.g[:len(th.targets)]
		vecmath.DotGather(th.neu1, syn1, th.targets, g)
		for ti, f := range g {
			if f <= -maxExp || f >= maxExp {
				g[ti] = 0
			} else {
				g[ti] = gradient(f, th.labels[ti], alpha)
			}
		}
		clear(th.neu1e)
		vecmath.AxpyGather(g, syn1, th.targets, th.neu1e)
		vecmath.AxpyScatter(g, th.neu1, syn1, th.targets)
		th.spread()
	}
}

// cbowHS is CBOW with hierarchical softmax (word2vec.c).
func (th *thread) cbowHS() {
	for pos, word := range th.sen {
		lo, hi := th.window(pos)
		if th.hidden(pos, lo, hi) == 0 {
			continue
		}
		clear(th.neu1e)
		th.softmaxPath(th.neu1, word)
		th.spread()
	}
}
