package word2vec

import (
	"math"
	"math/bits"
)

// rng is wyrand (Wang Yi's 64-bit generator): one multiply per draw, all 64
// bits usable. Each training goroutine owns one.
type rng struct{ s uint64 }

func newRNG(seed, stream uint64) rng {
	r := rng{s: seed ^ (stream+1)*0x9e3779b97f4a7c15}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0xa0761d6478bd642f
	hi, lo := bits.Mul64(r.s, r.s^0xe7037ed1a0b428db)
	return hi ^ lo
}

// intn returns a value in [0, n) from the top 32 bits of x (Lemire's
// multiply-shift; the bias is below 2^-32 * n).
func intn(x uint64, n int) int { return int((x >> 32) * uint64(n) >> 32) }

// aliasEntry is one slot of Vose's alias table: draw slot i uniformly, keep
// i when the coin is below threshold, else take alias.
type aliasEntry struct {
	threshold uint32
	alias     int32
}

// unigramTable samples word ids with probability count^power / Z (the
// noise distribution: power 0.75 in word2vec.c, 0.5 in fastText), in O(1)
// per draw with V entries (the
// alias method) instead of word2vec.c's 10^8-entry table.
type unigramTable []aliasEntry

func newUnigramTable(counts []int64, power float64) unigramTable {
	n := len(counts)
	p := make([]float64, n)
	var z float64
	for i, c := range counts {
		p[i] = math.Pow(float64(c), power)
		z += p[i]
	}
	t := make(unigramTable, n)
	small := make([]int32, 0, n)
	large := make([]int32, 0, n)
	for i := range p {
		p[i] = p[i] * float64(n) / z
		if p[i] < 1 {
			small = append(small, int32(i))
		} else {
			large = append(large, int32(i))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s := small[len(small)-1]
		small = small[:len(small)-1]
		l := large[len(large)-1]
		t[s] = aliasEntry{threshold: uint32(p[s] * (1 << 32)), alias: l}
		p[l] -= 1 - p[s]
		if p[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range append(small, large...) {
		t[i] = aliasEntry{threshold: math.MaxUint32, alias: i}
	}
	return t
}

// draw returns a word id using one 64-bit random value.
func (t unigramTable) draw(x uint64) int32 {
	e := t[intn(x, len(t))]
	if uint32(x) < e.threshold {
		return int32(intn(x, len(t)))
	}
	return e.alias
}
