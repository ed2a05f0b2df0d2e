package vectors

import (
	"runtime"
	"unicode/utf8"
)

// Suggestions are bounded: Suggest looks at the SuggestRows most frequent
// words, at most MaxSuggestions of them, for a word of at most
// suggestRunes characters.
const (
	SuggestRows    = 50_000
	MaxSuggestions = 5
	suggestRunes   = 64
)

// Suggest returns at most n (1..MaxSuggestions) words of the vocabulary
// nearest to word by spelling, for a message that says word is unknown:
// the optimal-string-alignment distance (Levenshtein's edits plus the
// transposition of two adjacent characters, over characters, not bytes)
// of at most 1 for words of up to 4 characters, 2 up to 8, else 3;
// nearest first, then most frequent. Only the SuggestRows most frequent
// words are looked at, a word whose length differs by more than the
// bound is skipped without a look at its letters, and each comparison
// stops as soon as the bound is passed, so it costs a few milliseconds
// at most. word itself, a word longer than 64 characters and an empty
// one get none.
func (s *Set) Suggest(word string, n int) []string {
	defer runtime.KeepAlive(s)
	n = min(max(n, 0), MaxSuggestions)
	wn := utf8.RuneCountInString(word)
	if n == 0 || wn == 0 || wn > suggestRunes {
		return nil
	}
	a := []rune(word)
	k := 3
	switch {
	case wn <= 4:
		k = 1
	case wn <= 8:
		k = 2
	}
	// A histogram of word's characters (folded into 64 bins, which only
	// lowers the bound) bounds the distance from below: an edit changes
	// it by at most 2, a transposition not at all; most candidates are
	// refused by it without the table.
	var hist [64]int16
	for _, r := range a {
		hist[r&63]++
	}
	type hit struct{ dist, row int }
	best := make([]hit, 0, n)
	var b []rune
	var sc scratch
	for row, w := range s.words[:min(len(s.words), SuggestRows)] {
		bound := k
		if len(best) == n {
			bound = best[n-1].dist - 1 // only nearer words displace the last
			if bound < 0 {
				break
			}
		}
		// The byte length bounds the character count: a cheap first test.
		if len(w) < wn-bound || len(w) > 4*(wn+bound) || w == word {
			continue
		}
		b = b[:0]
		h, l1 := hist, wn
		for _, r := range w {
			b = append(b, r)
			if len(b) > wn+bound {
				break
			}
			if h[r&63] > 0 {
				l1--
			} else {
				l1++
			}
			h[r&63]--
		}
		if len(b) < wn-bound || len(b) > wn+bound || (l1+1)/2 > bound {
			continue
		}
		d := sc.distance(a, b, bound)
		if d > bound {
			continue
		}
		// Insert in order (distance, then row: rows are in frequency order).
		i := len(best)
		if i < n {
			best = append(best, hit{})
		} else {
			i--
		}
		for i > 0 && best[i-1].dist > d {
			best[i] = best[i-1]
			i--
		}
		best[i] = hit{d, row}
	}
	out := make([]string, len(best))
	for i, h := range best {
		out[i] = s.words[h.row]
	}
	return out
}

// scratch holds the three rows of the distance table between calls.
type scratch struct{ rows [3][]int }

// distance is the optimal-string-alignment distance of a and b if it is
// at most k, else some value above k: only the band of cells within k of
// the diagonal is computed, and it stops once a whole row exceeds k.
func (sc *scratch) distance(a, b []rune, k int) int {
	const far = 1 << 30
	m := len(b)
	for i := range sc.rows {
		if cap(sc.rows[i]) < m+2 {
			sc.rows[i] = make([]int, m+2)
		}
		sc.rows[i] = sc.rows[i][:m+2]
	}
	prev2, prev, cur := sc.rows[0], sc.rows[1], sc.rows[2]
	for j := 0; j <= m; j++ {
		prev[j] = j
	}
	prev[m+1] = far
	for i := 1; i <= len(a); i++ {
		lo, hi := max(1, i-k), min(m, i+k)
		cur[0] = i
		if lo > 1 {
			cur[lo-1] = far
		}
		rowMin := far
		if lo == 1 {
			rowMin = i
		}
		for j := lo; j <= hi; j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d := min(prev[j-1]+cost, prev[j]+1, cur[j-1]+1)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d = min(d, prev2[j-2]+1)
			}
			cur[j] = d
			rowMin = min(rowMin, d)
		}
		if hi < m {
			cur[hi+1] = far
		}
		if rowMin > k {
			return k + 1
		}
		prev2, prev, cur = prev, cur, prev2
	}
	if len(a)-m > k || m-len(a) > k {
		return k + 1
	}
	return prev[m]
}
