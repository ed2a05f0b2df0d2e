package word2vec

import (
	"cmp"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide/internal/tokenize"
)

// storedIDs returns the stored corpus of c.
func storedIDs(c *counted) []int32 {
	got := make([]int32, 0, c.tokens.n)
	for i := int64(0); i < c.tokens.n; i++ {
		got = append(got, c.tokens.at(i))
	}
	return got
}

func countAndFinish(t *testing.T, text string, cfg Config) *counted {
	t.Helper()
	c, err := countWords(context.Background(), src(text), cfg, func(int64, float64) {})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.tokens.close)
	if err := c.finish(cfg.withDefaults().MinCount, cfg.MaxVocab); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPruneWhileCounting follows a table of 4 words through two prunes.
// Without pruning, a, b and c occur 3 times each and make the vocabulary
// at min count 2; with it, b and c are lost.
func TestPruneWhileCounting(t *testing.T) {
	text := "a a a b b c\n" + // a 3, b 2, c 1
		"d\n" + // 4 words: at the limit
		"e\n" + // 5: prune count <= 1 (c, d, e): a 3, b 2 left
		"c c\n" + // c again, from 1: a, b, c
		"f g\n" + // f makes 4; g 5: prune count <= 2 (b, c, f, g): a 3 left
		"b\n" // b again: 1, under the min count
	cfg := Config{MinCount: 2, CountLimit: 4}
	c := countAndFinish(t, text, cfg)
	if !slices.Equal(c.words, []string{"a"}) || !slices.Equal(c.counts, []int64{3}) {
		t.Fatalf("pruned vocabulary %v %v, want [a] [3]", c.words, c.counts)
	}
	if want := []int32{0, 0, 0, sentinel}; !slices.Equal(storedIDs(c), want) {
		t.Fatalf("stored corpus %v, want %v", storedIDs(c), want)
	}
	if c.prunes != 2 || c.threshold != 2 || c.prunedWords != 7 || c.distinct != 9 || c.trainWords != 3 || c.corpusWords != 13 {
		t.Fatalf("prunes %d threshold %d pruned %d distinct %d train %d corpus %d", c.prunes, c.threshold, c.prunedWords, c.distinct, c.trainWords, c.corpusWords)
	}
	cfg.CountLimit = 0
	c = countAndFinish(t, text, cfg)
	if !slices.Equal(c.words, []string{"a", "b", "c"}) || !slices.Equal(c.counts, []int64{3, 3, 3}) {
		t.Fatalf("vocabulary without pruning %v %v", c.words, c.counts)
	}

	// A pruned word whose later count is enough is kept, with that count
	// and only the occurrences after its pruning; a slot freed by pruning
	// is reused, and the ties keep the order of (re)appearance.
	c = countAndFinish(t, "x y\nz\nw\nx x\ny y\n", Config{MinCount: 2, CountLimit: 3})
	// x y z make 3; w 4: prune count <= 1, all of them. Then x 2, y 2.
	if !slices.Equal(c.words, []string{"x", "y"}) || !slices.Equal(c.counts, []int64{2, 2}) {
		t.Fatalf("words %v %v, want [x y] [2 2]", c.words, c.counts)
	}
	if want := []int32{0, 0, sentinel, 1, 1, sentinel}; !slices.Equal(storedIDs(c), want) {
		t.Fatalf("stored corpus %v, want %v", storedIDs(c), want)
	}
}

// TestPruneInvariants: on random Zipf-like corpora and limits, the stored
// corpus holds exactly each kept word's count of occurrences, no count
// exceeds the true one, the table never passes its limit, and a limit at
// or above the distinct words changes nothing.
func TestPruneInvariants(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 40 {
		var b strings.Builder
		truth := map[string]int64{}
		for range 1 + r.IntN(300) {
			for range 1 + r.IntN(15) {
				w := fmt.Sprintf("w%d", int(r.ExpFloat64()*float64(1+r.IntN(200))))
				truth[w]++
				b.WriteString(w + " ")
			}
			b.WriteString("\n")
		}
		text := b.String()
		minCount := 1 + r.IntN(4)
		limit := 1 + r.IntN(len(truth)+5)
		c, err := countWords(context.Background(), src(text), Config{MinCount: minCount, CountLimit: limit}, func(int64, float64) {})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.ids) > limit {
			t.Fatalf("trial %d: table of %d words after counting, limit %d", trial, len(c.ids), limit)
		}
		err = c.finish(minCount, 0)
		var ve *VocabularyError
		if errors.As(err, &ve) {
			continue // everything pruned or rare: a clear error
		}
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]int64, len(c.words))
		for _, id := range storedIDs(c) {
			if id != sentinel {
				seen[id]++
			}
		}
		for i, w := range c.words {
			if seen[i] != c.counts[i] || c.counts[i] > truth[w] || c.counts[i] < int64(minCount) {
				t.Fatalf("trial %d limit %d: %q count %d, stored %d, true %d", trial, limit, w, c.counts[i], seen[i], truth[w])
			}
		}
		if limit >= len(truth) {
			ref := countAndFinish(t, text, Config{MinCount: minCount})
			if !slices.Equal(c.words, ref.words) || !slices.Equal(storedIDs(c), storedIDs(ref)) || c.prunes != 0 {
				t.Fatalf("trial %d: a limit of %d over %d distinct words changed the vocabulary", trial, limit, len(truth))
			}
		}
		c.tokens.close()
	}
}

// TestCountLimitExtremes: a limit of one word trains or fails with the
// vocabulary error, never panics; a negative one is a config error; the
// limit derived from a memory limit is bounded below.
func TestCountLimitExtremes(t *testing.T) {
	cfg := smallConfig()
	cfg.CountLimit = 1
	cfg.MinCount = 1
	res, err := Train(context.Background(), cfg, src(synthetic(50, 1)))
	var ve *VocabularyError
	if err != nil && !errors.As(err, &ve) {
		t.Fatalf("count limit 1: %v", err)
	}
	if err == nil && res.Vectors.Len() > 2 {
		t.Fatalf("count limit 1 kept %d words", res.Vectors.Len())
	}
	cfg.CountLimit = -1
	var ce *ConfigError
	if err := cfg.Validate(); !errors.As(err, &ce) || ce.Field != "count-limit" {
		t.Fatalf("negative count limit: %v", err)
	}
	if n := countLimit(Config{MemoryLimit: 1}); n != 1000 {
		t.Fatalf("count limit of a 1-byte memory limit: %d", n)
	}
	if n := countLimit(Config{MemoryLimit: 1 << 30}); n != 1<<29/countEntryBytes {
		t.Fatalf("count limit of 1 GiB: %d", n)
	}
	if n := countLimit(Config{}); n != 0 {
		t.Fatalf("count limit without a memory limit: %d", n)
	}
}

// BenchmarkCountTable measures what a distinct word costs the count table
// (countEntryBytes): the heap after counting 1M distinct 8-letter words,
// once each, less their letters and the stored corpus.
func BenchmarkCountTable(b *testing.B) {
	const n = 1 << 20
	var text strings.Builder
	for i := range n {
		fmt.Fprintf(&text, "w%07d\n", i)
	}
	for range b.N {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		c, err := countWords(context.Background(), src(text.String()), Config{}, func(int64, float64) {})
		if err != nil {
			b.Fatal(err)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		table := int64(after.HeapAlloc-before.HeapAlloc) - c.tokens.bytes() - n*8
		b.ReportMetric(float64(table)/n, "bytes/word")
		runtime.KeepAlive(c)
	}
}

// TestPruneCorpusFigures compares the vocabulary of the corpus at
// $OPH_PRUNE_CORPUS (gzipped text, the unicode tokenizer, min count 5)
// counted without a limit and with each of $OPH_PRUNE_LIMITS
// (comma-separated; default 100000,30000): the words lost and their true
// counts. A measurement for the report, not a plain test.
func TestPruneCorpusFigures(t *testing.T) {
	path := os.Getenv("OPH_PRUNE_CORPUS")
	if path == "" {
		t.Skip("set OPH_PRUNE_CORPUS to a gzipped corpus")
	}
	limits := strings.Split(cmp.Or(os.Getenv("OPH_PRUNE_LIMITS"), "100000,30000"), ",")
	count := func(limit int) (*counted, time.Duration) {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		sc, err := tokenize.NewScanner(zr, tokenize.Options{})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		c, err := countWords(context.Background(), sc, Config{CountLimit: limit}, func(int64, float64) {})
		if err != nil {
			t.Fatal(err)
		}
		distinct := c.distinct
		if err := c.finish(5, 0); err != nil {
			t.Fatal(err)
		}
		c.distinct = distinct
		c.tokens.close()
		return c, time.Since(start)
	}
	ref, el := count(0)
	truth := make(map[string]int64, len(ref.words))
	for i, w := range ref.words {
		truth[w] = ref.counts[i]
	}
	t.Logf("no limit: %d words read, %d distinct, %d at min count 5 (%d tokens), counted in %v", ref.corpusWords, ref.distinct, len(ref.words), ref.trainWords, el.Round(time.Millisecond))
	for _, l := range limits {
		limit, err := strconv.Atoi(l)
		if err != nil {
			t.Fatal(err)
		}
		c, el := count(limit)
		kept := make(map[string]bool, len(c.words))
		changed := 0
		for i, w := range c.words {
			kept[w] = true
			if c.counts[i] != truth[w] {
				changed++
			}
		}
		var lost []int64
		for i, w := range ref.words {
			if !kept[w] {
				lost = append(lost, ref.counts[i])
			}
		}
		slices.Sort(lost)
		top := int64(0)
		if len(lost) > 0 {
			top = lost[len(lost)-1]
		}
		t.Logf("count limit %d: %d prunes, last threshold %d; %d at min count 5 (%d tokens); lost %d of the %d (%.1f%%; true counts up to %d, median %d); %d kept with a lower count; counted in %v",
			limit, c.prunes, c.threshold, len(c.words), c.trainWords, len(lost), len(ref.words), 100*float64(len(lost))/float64(len(ref.words)), top, median(lost), changed, el.Round(time.Millisecond))
	}
}

func median(xs []int64) int64 {
	if len(xs) == 0 {
		return 0
	}
	return xs[len(xs)/2]
}
