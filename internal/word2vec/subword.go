package word2vec

import (
	"github.com/ophicleide/ophicleide/internal/vecmath"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Subword training follows Bojanowski, Grave, Joulin and Mikolov,
// "Enriching Word Vectors with Subword Information" (TACL 2017), the
// model of fastText: a word w is represented by the set G_w of its own
// input row and the rows of its character n-grams (internal/subword's
// hash modulo Config.Bucket), and its input vector is their mean,
//
//	h_w = (1/|G_w|) sum_{g in G_w} z_g
//
// (fastText's Model::computeHidden). The score of an output word c is
// h_w · v_c; the gradient of the loss with respect to h_w is added, whole,
// to every z_g (fastText's Model::update for the unsupervised models: the
// gradient is not divided by |G_w|).
//
// The input matrix holds V word rows followed by Bucket n-gram rows, so
// that a word's rows are indices into one matrix. Each vocabulary word's
// rows are computed once after counting into one flat []int32 (ngramIndex),
// so the per-word loops allocate nothing.
//
// Skip-gram (fastText's direction: the centre word's composed vector
// predicts each context word of its window) updates as fastText does,
// after each context word, but at the cost of one update per window:
// fastText adds a context word's input gradient g to every row of G_w and
// composes h again for the next context word, which is then h + g (the
// mean of rows that each moved by g). So h is composed once per position,
// moved by each context word's g as fastText's would be, and the window's
// summed gradient is added to the rows once. In one thread this is
// fastText's update exactly; what it saves is 2|G_w| row operations per
// context word. (Batching the window with a stale h, as Ji et al. (2016)
// batch word2vec's skip-gram, measured 1-2.6 points worse than fastText
// on the medium corpus's analogies and SimLex; this is within noise of it.) CBOW's input is the mean over the rows of every context
// word's set, each row counted once per occurrence (fastText's cbow:
// the bag of all the context words' subwords), and every row gets the
// gradient.
//
// When training ends, each vocabulary word's row is replaced by its
// composed vector h_w (fastText's get_word_vector), and the n-gram rows
// become the result's vectors.Subwords.

// ngramIndex is every vocabulary word's input rows: rows[off[i]:off[i+1]]
// are word i's own row (i) then its n-grams' rows (V + hash row).
type ngramIndex struct {
	off  []int32
	rows []int32
}

// newNGramIndex computes the rows of words with cfg's n-gram settings.
func newNGramIndex(cfg Config, words []string) *ngramIndex {
	sc := cfg.subwords()
	v := int32(len(words))
	ix := &ngramIndex{off: make([]int32, len(words)+1)}
	ix.rows = make([]int32, 0, len(words)*(1+estimatedNGrams(cfg)))
	var buf []byte
	for i, w := range words {
		ix.rows = append(ix.rows, int32(i))
		start := len(ix.rows)
		ix.rows, buf = sc.Rows(ix.rows, []byte(w), buf)
		for k := start; k < len(ix.rows); k++ {
			ix.rows[k] += v
		}
		ix.off[i+1] = int32(len(ix.rows))
	}
	return ix
}

// of returns word's input rows.
func (ix *ngramIndex) of(word int32) []int32 { return ix.rows[ix.off[word]:ix.off[word+1]] }

// estimatedNGrams is the number of n-grams EstimateMemory assumes per
// word: about 12 per n-gram length (vocabulary words average well under
// 12 characters with their brackets).
func estimatedNGrams(cfg Config) int {
	if cfg.MaxN == 0 {
		return 0
	}
	return 12 * (cfg.MaxN - cfg.MinN + 1)
}

// compose sets th.neu1 to the mean of the input rows of rows.
func (th *thread) compose(rows []int32) {
	d := th.m.dim
	syn0 := th.m.syn0
	clear(th.neu1)
	for _, r := range rows {
		vecmath.Axpy(1, syn0[int(r)*d:int(r)*d+d], th.neu1)
	}
	if len(rows) > 1 {
		vecmath.Scale(1/float32(len(rows)), th.neu1)
	}
}

// prefetchRows asks for the input rows of rows ahead of use: n-gram rows
// are scattered over a matrix of Bucket rows, so most of them miss every
// cache.
func (th *thread) prefetchRows(rows []int32) {
	d := th.m.dim
	for _, r := range rows {
		vecmath.Prefetch(th.m.syn0[int(r)*d : int(r)*d+d])
	}
}

// scatter adds th.neu1e to the input row of each of rows.
func (th *thread) scatter(rows []int32) { th.scatterFrom(th.neu1e, rows) }

// scatterFrom adds g to the input row of each of rows.
func (th *thread) scatterFrom(g []float32, rows []int32) {
	d := th.m.dim
	syn0 := th.m.syn0
	for _, r := range rows {
		vecmath.Axpy(1, g, syn0[int(r)*d:int(r)*d+d])
	}
}

// outputNS trains output row t to score th.neu1 with label and adds the
// input gradient to th.neu1e (fastText's binaryLogistic, word2vec.c's
// clipped sigmoid).
func (th *thread) outputNS(t int32, label, alpha float32) {
	d := th.m.dim
	out := th.m.syn1[int(t)*d : int(t)*d+d]
	g := gradient(vecmath.Dot(th.neu1, out), label, alpha)
	if g != 0 {
		vecmath.Axpy(g, out, th.neu1e)
		vecmath.Axpy(g, th.neu1, out)
	}
}

// skipGramSub is skip-gram with subwords, with negative sampling or
// hierarchical softmax: the centre word's composed vector predicts each
// context word of the window (with its own Negative noise words, drawn
// as fastText draws them, skipping the context word itself).
func (th *thread) skipGramSub() {
	ix := th.m.ngrams
	ns := th.m.cfg.Loss == NegativeSampling
	alpha := th.alpha
	for pos, word := range th.sen {
		lo, hi := th.window(pos)
		if hi-lo <= 1 {
			continue
		}
		rows := ix.of(word)
		if pos+1 < len(th.sen) {
			th.prefetchRows(ix.of(th.sen[pos+1]))
		}
		th.compose(rows)
		clear(th.acc)
		for c := lo; c < hi; c++ {
			if c == pos {
				continue
			}
			ctx := th.sen[c]
			clear(th.neu1e)
			if ns {
				th.outputNS(ctx, 1, alpha)
				for k := 0; k < th.m.cfg.Negative; k++ {
					if t := th.m.noise.draw(th.rng.next()); t != ctx {
						th.outputNS(t, 0, alpha)
					}
				}
			} else {
				th.softmaxPath(th.neu1, ctx)
			}
			// The rows moved by g: h is their mean again.
			vecmath.Axpy(1, th.neu1e, th.neu1)
			vecmath.Axpy(1, th.neu1e, th.acc)
		}
		th.scatterFrom(th.acc, rows)
	}
}

// cbowSub is CBOW with subwords: the mean over the bag of every context
// word's rows predicts the centre word, and each row of the bag gets the
// input gradient.
func (th *thread) cbowSub() {
	ix := th.m.ngrams
	d := th.m.dim
	syn0 := th.m.syn0
	ns := th.m.cfg.Loss == NegativeSampling
	alpha := th.alpha
	for pos, word := range th.sen {
		lo, hi := th.window(pos)
		n := 0
		clear(th.neu1)
		for c := lo; c < hi; c++ {
			if c == pos {
				continue
			}
			for _, r := range ix.of(th.sen[c]) {
				vecmath.Axpy(1, syn0[int(r)*d:int(r)*d+d], th.neu1)
				n++
			}
		}
		if n == 0 {
			continue
		}
		if n > 1 {
			vecmath.Scale(1/float32(n), th.neu1)
		}
		clear(th.neu1e)
		if ns {
			th.outputNS(word, 1, alpha)
			for k := 0; k < th.m.cfg.Negative; k++ {
				if t := th.m.noise.draw(th.rng.next()); t != word {
					th.outputNS(t, 0, alpha)
				}
			}
		} else {
			th.softmaxPath(th.neu1, word)
		}
		for c := lo; c < hi; c++ {
			if c != pos {
				th.scatter(ix.of(th.sen[c]))
			}
		}
	}
}

// composeWords replaces each vocabulary word's input row by its composed
// vector, the mean of its rows (fastText's get_word_vector). The n-gram
// rows are not written, so doing it in place is exact.
func (m *model) composeWords() {
	d := m.dim
	acc := make([]float32, d)
	for i := range len(m.c.words) {
		rows := m.ngrams.of(int32(i))
		clear(acc)
		for _, r := range rows {
			vecmath.Axpy(1, m.syn0[int(r)*d:int(r)*d+d], acc)
		}
		vecmath.Scale(1/float32(len(rows)), acc)
		copy(m.syn0[i*d:i*d+d], acc)
	}
}

// subwordSet is the vector set of a model trained with subwords: the
// composed word rows and, attached, the n-gram rows (both views of syn0,
// so the result costs no copy).
func (m *model) subwordSet() (*vectors.Set, error) {
	m.composeWords()
	vd := len(m.c.words) * m.dim
	set, err := vectors.New(m.c.words, m.dim, m.syn0[:vd:vd])
	if err != nil {
		return nil, err
	}
	if err := set.SetSubwords(&vectors.Subwords{Config: m.cfg.subwords(), Rows: m.syn0[vd:]}); err != nil {
		return nil, err
	}
	return set, nil
}
