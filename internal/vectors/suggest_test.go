package vectors

import (
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// osa is the optimal-string-alignment distance, the whole table.
func osa(a, b []rune) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

func TestBoundedDistanceIsOSA(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func() []rune {
		r := make([]rune, rng.IntN(9))
		for i := range r {
			r[i] = []rune("abcé")[rng.IntN(4)]
		}
		return r
	}
	var sc scratch
	for range 20000 {
		a, b, k := word(), word(), rng.IntN(4)
		want, got := osa(a, b), sc.distance(a, b, k)
		if (want <= k && got != want) || (want > k && got <= k) {
			t.Fatalf("distance(%q, %q, %d) = %d, want %d", string(a), string(b), k, got, want)
		}
	}
}

func TestSuggest(t *testing.T) {
	words := []string{"the", "darcy", "dare", "elizabeth", "darcy's", "bingley", "dark", "drcy", "adrcy", "naïve", "x"}
	s := mustSet(t, words, 1, make([]float32, len(words))...)
	for _, c := range []struct {
		word string
		want []string
	}{
		{"darcys", []string{"darcy", "darcy's", "drcy", "adrcy"}},
		{"darcy", []string{"drcy", "adrcy"}}, // itself excluded; "dare", "dark" are 2 away (bound 1 for 5 letters? no: 2)
		{"elizabth", []string{"elizabeth"}},
		{"naive", []string{"naïve"}},
		{"bnigley", []string{"bingley"}}, // a transposition is one edit
		{"", nil},
		{strings.Repeat("d", 1000), nil},
		{"\xff\xfe", nil},
		{"zzzzzzzzzzzz", nil},
	} {
		got := s.Suggest(c.word, 5)
		if c.word == "darcy" {
			// 5 letters: bound 2: drcy, adrcy (1), dare, dark (2), darcy's (2).
			c.want = []string{"drcy", "adrcy", "dare", "darcy's", "dark"}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("Suggest(%.20q) = %q, want %q", c.word, got, c.want)
		}
	}
	if got := s.Suggest("darcy", 2); !slices.Equal(got, []string{"drcy", "adrcy"}) {
		t.Errorf("Suggest(darcy, 2) = %q", got)
	}
	if got := s.Suggest("darcy", 0); got != nil {
		t.Errorf("Suggest(darcy, 0) = %q", got)
	}
}

// TestSuggestCost: a 58k-word vocabulary answers within a few ms even
// for words with no near neighbour (the whole scan).
func TestSuggestCost(t *testing.T) {
	s := bookLikeSet(t, 58_000)
	for _, w := range []string{"darcys", "qqqqqqqq", "w1234x", "elizabethan", strings.Repeat("é", 1000)} {
		start := time.Now()
		for range 10 {
			s.Suggest(w, 5)
		}
		if d := time.Since(start) / 10; d > 20*time.Millisecond {
			t.Errorf("Suggest(%.12q) took %v", w, d)
		}
	}
}

// bookLikeSet has n words of 2 to 12 random letters.
func bookLikeSet(tb testing.TB, n int) *Set {
	rng := rand.New(rand.NewPCG(3, 4))
	words := make([]string, 0, n)
	seen := map[string]bool{}
	for len(words) < n {
		b := make([]byte, 2+rng.IntN(11))
		for i := range b {
			b[i] = byte('a' + rng.IntN(26))
		}
		if w := string(b); !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	s, err := New(words, 1, make([]float32, n))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// BenchmarkSuggest times Suggest over 58k words: random letters, or the
// words of the file OPH_SUGGEST_VOCAB (one a line, most frequent first).
func BenchmarkSuggest(b *testing.B) {
	s := bookLikeSet(b, 58_000)
	if path := os.Getenv("OPH_SUGGEST_VOCAB"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		words := strings.Fields(string(data))
		if s, err = New(words, 1, make([]float32, len(words))); err != nil {
			b.Fatal(err)
		}
	}
	for _, w := range []string{"darcys", "qqqqqqqq", "elizabethan", "recieve", "a"} {
		b.Run(fmt.Sprint(w), func(b *testing.B) {
			for b.Loop() {
				s.Suggest(w, 5)
			}
		})
	}
}

// TestSuggestIsBruteForce: Suggest's filters (lengths, the character
// histogram, the band, stopping early) drop no word a full table keeps.
func TestSuggestIsBruteForce(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	alphabet := []rune("abcdéx")
	word := func() string {
		r := make([]rune, 1+rng.IntN(9))
		for i := range r {
			r[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(r)
	}
	seen := map[string]bool{}
	var words []string
	for len(words) < 400 {
		if w := word(); !seen[w] {
			seen[w] = true
			words = append(words, w)
		}
	}
	s := mustSet(t, words, 1, make([]float32, len(words))...)
	for range 2000 {
		q := word()
		n := []rune(q)
		k := 3
		switch {
		case len(n) <= 4:
			k = 1
		case len(n) <= 8:
			k = 2
		}
		type hit struct{ d, row int }
		var all []hit
		for row, w := range words {
			if d := osa(n, []rune(w)); w != q && d <= k {
				all = append(all, hit{d, row})
			}
		}
		slices.SortStableFunc(all, func(a, b hit) int { return a.d - b.d })
		var want []string
		for _, h := range all[:min(5, len(all))] {
			want = append(want, words[h.row])
		}
		if got := s.Suggest(q, 5); !slices.Equal(got, want) {
			t.Fatalf("Suggest(%q) = %q, want %q", q, got, want)
		}
	}
}
