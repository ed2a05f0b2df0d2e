package fasttext

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"

	"github.com/ophicleide/ophicleide/internal/vectors"
)

// Write writes s to w as a fastText .bin model that fastText
// (load_model, print-word-vectors, nn), gensim's load_facebook_model and
// Read load, giving every word, in the vocabulary or not, s.WordVector's
// vector.
//
// The input matrix holds the raw word rows fastText composes with the
// n-gram rows: recovered from s's composed rows as row*(k+1) minus the sum
// of the word's k n-gram rows (in float64, then rounded), and the n-gram
// rows of s.Subwords. A set without subwords is written with minn, maxn
// and bucket 0 (fastText then gives unseen words a zero vector). The file
// is for vectors, not for further training: the output matrix (fastText's
// second layer, which a Set does not keep) is zeros, nwords x dim.
//
// meta may be nil. Its Args are written except dim, bucket, minn and maxn,
// which are s's (a zero Args writes DefaultArgs). Its Counts, when given,
// are the words' corpus counts (one per word, >= 1; the dictionary's
// order is s's, so they should descend); when nil, Write synthesises
// descending counts len(s)-i for word i, since a Set keeps no counts, and
// the token count is their sum either way.
//
// Errors wrap ErrInvalid for a set fastText's format cannot hold (a word
// with a NUL byte, bad counts, a non-finite value) or are w's own; on
// ErrInvalid nothing has been written.
func Write(w io.Writer, s *vectors.Set, meta *Meta) error {
	defer runtime.KeepAlive(s)
	n, dim := s.Len(), s.Dim()
	a := DefaultArgs(dim)
	var counts []int64
	if meta != nil {
		if meta.Args != (Args{}) {
			a = meta.Args
		}
		counts = meta.Counts
	}
	if counts != nil && len(counts) != n {
		return fmt.Errorf("%w: %d counts for %d words", ErrInvalid, len(counts), n)
	}
	if n == 0 {
		return fmt.Errorf("%w: no words", ErrInvalid)
	}
	a.Dim = int32(dim)
	sw := s.Subwords()
	a.MinN, a.MaxN, a.Bucket = 0, 0, 0
	if sw != nil {
		a.MinN, a.MaxN, a.Bucket = int32(sw.Config.MinN), int32(sw.Config.MaxN), int32(sw.Config.Bucket)
	}
	var ntokens int64
	for i, word := range s.Words() {
		if strings.IndexByte(word, 0) >= 0 {
			return fmt.Errorf("%w: word %d (%q) has a NUL byte", ErrInvalid, i, word)
		}
		c := int64(n - i)
		if counts != nil {
			c = counts[i]
		}
		if c < 1 || c > math.MaxInt64-ntokens {
			return fmt.Errorf("%w: word %d (%q): count %d (at least 1, at most 2^63-1 in all)", ErrInvalid, i, word, c)
		}
		ntokens += c
	}
	for i := 0; i < n; i++ {
		if !finite(s.Row(i)) {
			return fmt.Errorf("%w: row %d (%q) has a non-finite value", ErrInvalid, i, s.Word(i))
		}
	}
	if sw != nil && !finite(sw.Rows) {
		return fmt.Errorf("%w: an n-gram row has a non-finite value", ErrInvalid)
	}

	bw := bufio.NewWriterSize(w, 1<<16)
	var scratch [8]byte
	i32 := func(v int32) { binary.LittleEndian.PutUint32(scratch[:4], uint32(v)); bw.Write(scratch[:4]) }
	i64 := func(v int64) { binary.LittleEndian.PutUint64(scratch[:], uint64(v)); bw.Write(scratch[:]) }
	i32(Magic)
	i32(Version)
	for _, v := range []int32{a.Dim, a.WS, a.Epoch, a.MinCount, a.Neg, a.WordNgrams,
		int32(a.Loss), int32(a.Model), a.Bucket, a.MinN, a.MaxN, a.LRUpdateRate} {
		i32(v)
	}
	i64(int64(math.Float64bits(a.T)))
	i32(int32(n)) // size
	i32(int32(n)) // nwords
	i32(0)        // nlabels
	i64(ntokens)
	i64(-1) // pruneidx_size: not pruned
	for i, word := range s.Words() {
		bw.WriteString(word)
		bw.WriteByte(0)
		c := int64(n - i)
		if counts != nil {
			c = counts[i]
		}
		i64(c)
		bw.WriteByte(0) // entry_type word
	}
	bw.WriteByte(0) // quant
	i64(int64(n) + int64(a.Bucket))
	i64(int64(dim))
	row := make([]byte, 4*dim)
	raw := make([]float64, dim)
	var rows []int32
	var buf []byte
	for i := 0; i < n; i++ {
		v := s.Row(i)
		rows = rows[:0]
		if sw != nil && s.Word(i) != EOS {
			rows, buf = sw.Config.Rows(rows, []byte(s.Word(i)), buf)
		}
		k := float64(len(rows) + 1)
		for j, x := range v {
			raw[j] = float64(x) * k
		}
		for _, r := range rows {
			g := sw.Rows[int(r)*dim : (int(r)+1)*dim]
			for j, x := range g {
				raw[j] -= float64(x)
			}
		}
		for j, x := range raw {
			binary.LittleEndian.PutUint32(row[4*j:], math.Float32bits(float32(x)))
		}
		bw.Write(row)
	}
	chunk := make([]byte, 1<<20)
	if sw != nil {
		for vals := sw.Rows; len(vals) > 0; {
			k := min(len(vals), len(chunk)/4)
			for j, x := range vals[:k] {
				binary.LittleEndian.PutUint32(chunk[4*j:], math.Float32bits(x))
			}
			bw.Write(chunk[:4*k])
			vals = vals[k:]
		}
	}
	bw.WriteByte(0) // qout
	i64(int64(n))
	i64(int64(dim))
	clear(chunk)
	for left := int64(n) * int64(dim) * 4; left > 0; {
		k := min(left, int64(len(chunk)))
		bw.Write(chunk[:k])
		left -= k
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("fasttext: write: %w", err)
	}
	return nil
}

func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}
