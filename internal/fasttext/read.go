package fasttext

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sync"

	"github.com/ophicleide/ophicleide/internal/subword"
	"github.com/ophicleide/ophicleide/internal/vectors"
)

const (
	bufSize       = 64 << 10
	preallocVals  = 1 << 18 // floats allocated before the data shows up (1 MiB)
	preallocWords = 1 << 12
	chunkVals     = 1 << 16 // floats decoded per read (256 KiB)
)

// decoder reads little-endian fields, counting bytes, and knows how much
// input is left when the input is a file.
type decoder struct {
	r       *bufio.Reader
	off     int64
	size    int64 // total input size, -1 when unknown
	section string
	buf     []byte
}

func (d *decoder) fail(err error) error {
	return &Error{Section: d.section, Offset: d.off, Err: err}
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
}

// full reads exactly n bytes into d.buf (n small).
func (d *decoder) full(n int) ([]byte, error) {
	if cap(d.buf) < n {
		d.buf = make([]byte, n)
	}
	b := d.buf[:n]
	if _, err := io.ReadFull(d.r, b); err != nil {
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return nil, fmt.Errorf("%w: input ends early (%w)", ErrMalformed, io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	d.off += int64(n)
	return b, nil
}

func (d *decoder) int32() (int32, error) {
	b, err := d.full(4)
	if err != nil {
		return 0, err
	}
	return int32(binary.LittleEndian.Uint32(b)), nil
}

func (d *decoder) int64() (int64, error) {
	b, err := d.full(8)
	if err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint64(b)), nil
}

func (d *decoder) bool() (bool, error) {
	b, err := d.full(1)
	if err != nil {
		return false, err
	}
	switch b[0] {
	case 0:
		return false, nil
	case 1:
		return true, nil
	}
	return false, malformed("boolean byte %d", b[0])
}

// skip discards n bytes without allocating them.
func (d *decoder) skip(n int64) error {
	m, err := io.CopyN(io.Discard, d.r, n)
	d.off += m
	if err == io.EOF {
		return fmt.Errorf("%w: input ends early (%w)", ErrMalformed, io.ErrUnexpectedEOF)
	}
	return err
}

// remaining is how many bytes the input still holds, -1 when unknown.
func (d *decoder) remaining() int64 {
	if d.size < 0 {
		return -1
	}
	return d.size - d.off
}

// floats reads n float32 values into dst (appending), growing dst only as
// data arrives unless the input is known to hold them all. Non-finite
// values are malformed.
func (d *decoder) floats(dst []float32, n int) ([]float32, error) {
	base := len(dst)
	want := base + n
	if cap(dst) < want {
		c := base + min(n, preallocVals)
		if rem := d.remaining(); rem >= 0 && int64(n)*4 <= rem {
			c = want
		}
		nd := make([]float32, base, c)
		copy(nd, dst)
		dst = nd
	}
	for len(dst) < want {
		k := min(want-len(dst), chunkVals)
		b, err := d.full(4 * k)
		if err != nil {
			return nil, err
		}
		if len(dst)+k > cap(dst) {
			nd := make([]float32, len(dst), min(max(2*cap(dst), len(dst)+k), want))
			copy(nd, dst)
			dst = nd
		}
		n0 := len(dst)
		dst = dst[:n0+k]
		out := dst[n0:]
		for i := range out {
			u := binary.LittleEndian.Uint32(b[4*i:])
			if u&0x7f800000 == 0x7f800000 { // exponent all ones: NaN or infinity
				return nil, malformed("non-finite value %v at value %d", math.Float32frombits(u), n0+i-base)
			}
			out[i] = math.Float32frombits(u)
		}
	}
	return dst, nil
}

// Read reads a fastText .bin model from r with the limits lim (a zero
// field takes DefaultLimits' value). The set's rows are the composed word
// vectors of the words (labels are skipped), in the file's order, and
// its Subwords the bucket rows, when the model has n-grams (maxn > 0).
// Meta holds the file's args, counts and token count. The output matrix
// is checked and skipped; what follows it is not read.
//
// Errors are *Error wrapping ErrMalformed (content), ErrUnsupported
// (quantized .ftz files, supervised models without words) or r's own
// error. Memory is bounded by lim and by the data present (see the
// package doc); when r is an *os.File of sufficient size the matrices are
// allocated at once.
func Read(r io.Reader, lim Limits) (*vectors.Set, *Meta, error) {
	lim = lim.withDefaults()
	d := &decoder{r: bufio.NewReaderSize(r, bufSize), size: -1, section: "header"}
	if f, ok := r.(*os.File); ok {
		if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
			if pos, err := f.Seek(0, io.SeekCurrent); err == nil {
				d.size = fi.Size() - pos
			}
		}
	}
	s, m, err := read(d, lim)
	if err != nil {
		var fe *Error
		if !errors.As(err, &fe) {
			err = d.fail(err)
		}
		return nil, nil, err
	}
	return s, m, nil
}

func (l Limits) withDefaults() Limits {
	def := DefaultLimits()
	if l.MaxDim <= 0 {
		l.MaxDim = def.MaxDim
	}
	if l.MaxWords <= 0 {
		l.MaxWords = def.MaxWords
	}
	if l.MaxWordLen <= 0 {
		l.MaxWordLen = def.MaxWordLen
	}
	if l.MaxBucket <= 0 {
		l.MaxBucket = def.MaxBucket
	}
	if l.MaxN <= 0 {
		l.MaxN = def.MaxN
	}
	if l.MaxValues <= 0 {
		l.MaxValues = def.MaxValues
	}
	return l
}

// head is what a .bin file says before its matrices' values.
type head struct {
	m      *Meta
	words  []string
	cfg    subword.Config
	dim    int
	bucket int
}

// readHead reads a file up to the values of its input matrix: the
// header, args, dictionary and the matrix's shape, all checked.
func readHead(d *decoder, lim Limits) (*head, error) {
	magic, err := d.int32()
	if err != nil {
		return nil, err
	}
	if magic != Magic {
		return nil, malformed("magic %d, not fastText's %d", magic, Magic)
	}
	m := &Meta{}
	if m.Version, err = d.int32(); err != nil {
		return nil, err
	}
	if m.Version < 11 || m.Version > Version {
		return nil, fmt.Errorf("%w: version %d (11 or 12 are read)", ErrUnsupported, m.Version)
	}

	d.section = "args"
	a := &m.Args
	for _, p := range []*int32{&a.Dim, &a.WS, &a.Epoch, &a.MinCount, &a.Neg, &a.WordNgrams,
		(*int32)(&a.Loss), (*int32)(&a.Model), &a.Bucket, &a.MinN, &a.MaxN, &a.LRUpdateRate} {
		if *p, err = d.int32(); err != nil {
			return nil, err
		}
	}
	b, err := d.full(8)
	if err != nil {
		return nil, err
	}
	a.T = math.Float64frombits(binary.LittleEndian.Uint64(b))
	if m.Version == 11 && a.Model == Supervised {
		a.MaxN = 0 // as fastText: old supervised models have no character n-grams
	}
	switch {
	case a.Dim < 1 || int(a.Dim) > lim.MaxDim:
		return nil, malformed("dimension %d out of range 1..%d", a.Dim, lim.MaxDim)
	case a.Bucket < 0 || int(a.Bucket) > lim.MaxBucket:
		return nil, malformed("bucket %d out of range 0..%d", a.Bucket, lim.MaxBucket)
	case a.MaxN < 0 || int(a.MaxN) > lim.MaxN:
		return nil, malformed("maxn %d out of range 0..%d", a.MaxN, lim.MaxN)
	case a.MaxN > 0 && a.MinN > a.MaxN:
		return nil, malformed("minn %d above maxn %d", a.MinN, a.MaxN)
	case a.MaxN > 0 && a.Bucket == 0:
		return nil, malformed("maxn %d without buckets", a.MaxN)
	}
	cfg := subword.Config{}
	if a.MaxN > 0 {
		// n-grams start at one character: minn <= 1 all mean 1.
		cfg = subword.Config{MinN: max(1, int(a.MinN)), MaxN: int(a.MaxN), Bucket: int(a.Bucket)}
	}

	d.section = "dictionary"
	size, err := d.int32()
	if err != nil {
		return nil, err
	}
	nwords, err := d.int32()
	if err != nil {
		return nil, err
	}
	nlabels, err := d.int32()
	if err != nil {
		return nil, err
	}
	switch {
	case size < 0 || int(size) > lim.MaxWords:
		return nil, malformed("%d entries out of range 0..%d", size, lim.MaxWords)
	case nwords < 0 || nlabels < 0 || int64(nwords)+int64(nlabels) != int64(size):
		return nil, malformed("%d words and %d labels for %d entries", nwords, nlabels, size)
	case nwords == 0 && nlabels > 0:
		return nil, fmt.Errorf("%w: a supervised model with labels only, no words", ErrUnsupported)
	case nwords == 0:
		return nil, malformed("no words")
	}
	if m.NTokens, err = d.int64(); err != nil {
		return nil, err
	}
	if m.NTokens < 0 {
		return nil, malformed("%d tokens", m.NTokens)
	}
	pruneidx, err := d.int64()
	if err != nil {
		return nil, err
	}
	if pruneidx < -1 || pruneidx > int64(lim.MaxBucket) {
		return nil, malformed("pruned index size %d out of range -1..%d", pruneidx, lim.MaxBucket)
	}
	words := make([]string, 0, min(int(nwords), preallocWords))
	m.Counts = make([]int64, 0, min(int(nwords), preallocWords))
	word := make([]byte, 0, 64)
	for i := 0; i < int(size); i++ {
		word = word[:0]
		for {
			c, err := d.r.ReadByte()
			if err != nil {
				if err == io.EOF {
					return nil, fmt.Errorf("%w: input ends in entry %d (%w)", ErrMalformed, i, io.ErrUnexpectedEOF)
				}
				return nil, err
			}
			d.off++
			if c == 0 {
				break
			}
			if len(word) == lim.MaxWordLen {
				return nil, malformed("entry %d longer than %d bytes", i, lim.MaxWordLen)
			}
			word = append(word, c)
		}
		count, err := d.int64()
		if err != nil {
			return nil, err
		}
		tb, err := d.full(1)
		if err != nil {
			return nil, err
		}
		switch {
		case count < 0:
			return nil, malformed("entry %d (%q): count %d", i, clip(word), count)
		case tb[0] > 1:
			return nil, malformed("entry %d (%q): type %d", i, clip(word), tb[0])
		case (tb[0] == 1) != (i >= int(nwords)):
			return nil, malformed("entry %d (%q): a %s among the %s", i, clip(word), typeName(tb[0]), typeName(b2t(i >= int(nwords))))
		}
		if i < int(nwords) {
			words = append(words, string(word))
			m.Counts = append(m.Counts, count)
		}
	}
	m.Labels = int(nlabels)
	if pruneidx > 0 {
		if err := d.skip(8 * pruneidx); err != nil {
			return nil, err
		}
	}

	d.section = "input matrix"
	quant, err := d.bool()
	if err != nil {
		return nil, err
	}
	if quant {
		return nil, fmt.Errorf("%w: quantized model (.ftz); its vectors are compressed codes, use the model's .bin", ErrUnsupported)
	}
	if pruneidx >= 0 {
		return nil, malformed("a pruned dictionary in a model that is not quantized (fastText refuses it too)")
	}
	rows, err := d.int64()
	if err != nil {
		return nil, err
	}
	cols, err := d.int64()
	if err != nil {
		return nil, err
	}
	if rows != int64(nwords)+int64(a.Bucket) || cols != int64(a.Dim) {
		return nil, malformed("input matrix %d x %d, want %d x %d (words + bucket, dim)", rows, cols, int64(nwords)+int64(a.Bucket), a.Dim)
	}
	dim := int(a.Dim)
	if rows*cols > lim.MaxValues {
		return nil, malformed("input matrix of %d x %d exceeds the limit of %d values", rows, cols, lim.MaxValues)
	}
	return &head{m: m, words: words, cfg: cfg, dim: dim, bucket: int(a.Bucket)}, nil
}

func read(d *decoder, lim Limits) (*vectors.Set, *Meta, error) {
	h, err := readHead(d, lim)
	if err != nil {
		return nil, nil, err
	}
	m, words, cfg, dim, a := h.m, h.words, h.cfg, h.dim, &h.m.Args
	nwords := int32(len(words))
	vecs, err := d.floats(nil, int(nwords)*dim)
	if err != nil {
		return nil, nil, err
	}
	var grams []float32
	if cfg.Enabled() {
		if grams, err = d.floats(nil, int(a.Bucket)*dim); err != nil {
			return nil, nil, err
		}
	} else if err := d.skip(int64(a.Bucket) * int64(dim) * 4); err != nil {
		return nil, nil, err
	}

	if err := skipOutput(d, lim, a.Dim); err != nil {
		return nil, nil, err
	}

	d.section = "dictionary"
	if cfg.Enabled() {
		compose(vecs, grams, words, dim, cfg)
	}
	s, err := vectors.New(words, dim, vecs)
	if err != nil {
		return nil, nil, malformed("%v", err)
	}
	if cfg.Enabled() {
		if err := s.SetSubwords(&vectors.Subwords{Config: cfg, Rows: grams}); err != nil {
			return nil, nil, malformed("%v", err)
		}
	}
	return s, m, nil
}

// skipOutput checks the shape of the output matrix and skips its values.
func skipOutput(d *decoder, lim Limits, dim int32) error {
	d.section = "output matrix"
	if _, err := d.bool(); err != nil { // qout: meaningful only for quantized models
		return err
	}
	orows, err := d.int64()
	if err != nil {
		return err
	}
	ocols, err := d.int64()
	if err != nil {
		return err
	}
	if orows < 0 || ocols != int64(dim) || orows > lim.MaxValues/ocols {
		return malformed("output matrix %d x %d (dim %d, at most %d values)", orows, ocols, dim, lim.MaxValues)
	}
	return d.skip(orows * ocols * 4)
}

// compose turns the raw word rows of vecs into fastText's word vectors in
// place: the mean of the word's row and its n-grams' rows in grams, summed
// in fastText's order in float32 (EOS has no n-grams). Words are split
// among GOMAXPROCS goroutines.
func compose(vecs, grams []float32, words []string, dim int, cfg subword.Config) {
	workers := min(runtime.GOMAXPROCS(0), max(1, len(words)/4096))
	var wg sync.WaitGroup
	per := (len(words) + workers - 1) / workers
	for w := 0; w < workers; w++ {
		lo, hi := w*per, min((w+1)*per, len(words))
		if lo >= hi {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			var rows []int32
			var buf []byte
			for i := lo; i < hi; i++ {
				if words[i] == EOS {
					continue
				}
				rows, buf = cfg.Rows(rows[:0], []byte(words[i]), buf)
				if len(rows) == 0 {
					continue
				}
				v := vecs[i*dim : (i+1)*dim]
				for _, r := range rows {
					g := grams[int(r)*dim : (int(r)+1)*dim]
					for k := range v {
						v[k] += g[k]
					}
				}
				inv := float32(1 / float64(len(rows)+1))
				for k := range v {
					v[k] *= inv
				}
			}
		}()
	}
	wg.Wait()
}

func typeName(t byte) string {
	if t == 1 {
		return "label"
	}
	return "word"
}

func b2t(b bool) byte {
	if b {
		return 1
	}
	return 0
}

func clip(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}
