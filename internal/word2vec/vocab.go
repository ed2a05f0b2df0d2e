package word2vec

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/ophicleide/ophicleide/internal/bytesize"
)

// Sentences is a stream of tokenised sentences; *tokenize.Scanner is one.
// Sentence's result is valid only until the next Scan.
type Sentences interface {
	Scan() bool
	Sentence() [][]byte
	Err() error
}

// byteCounter is implemented by sources that know how much input they read.
type byteCounter interface{ Bytes() int64 }

// ErrEmptyCorpus is returned when the input holds no words at all.
var ErrEmptyCorpus = errors.New("the corpus contains no words")

// VocabularyError is returned when no word is frequent enough to train on.
type VocabularyError struct {
	CorpusWords   int64
	DistinctWords int
	MaxCount      int64
	MinCount      int
}

func (e *VocabularyError) Error() string {
	return fmt.Sprintf("no word occurs at least %d times (min count): the corpus has %d words, %d distinct, the most frequent occurs %d times; lower the min count or add text",
		e.MinCount, e.CorpusWords, e.DistinctWords, e.MaxCount)
}

// MemoryError is returned when training would need more memory than
// Config.MemoryLimit allows.
type MemoryError struct {
	What  string
	Need  int64
	Limit int64
}

func (e *MemoryError) Error() string {
	return fmt.Sprintf("%s needs about %s, more than the memory limit of %s", e.What, bytesize.Format(e.Need), bytesize.Format(e.Limit))
}

const (
	blockBits = 20
	blockSize = 1 << blockBits
	blockMask = blockSize - 1
	// sentinel marks the end of a sentence in the stored corpus.
	sentinel = int32(-1)
)

// tokenStore is the corpus as word ids in fixed-size blocks, so that it
// grows without copying and its peak is its size.
type tokenStore struct {
	blocks [][]int32
	n      int64
}

func (s *tokenStore) push(v int32) {
	b := s.n >> blockBits
	if int(b) == len(s.blocks) {
		s.blocks = append(s.blocks, make([]int32, blockSize))
	}
	s.blocks[b][s.n&blockMask] = v
	s.n++
}

func (s *tokenStore) at(i int64) int32 { return s.blocks[i>>blockBits][i&blockMask] }

func (s *tokenStore) bytes() int64 { return int64(len(s.blocks)) * blockSize * 4 }

// counted is the result of the counting pass: the vocabulary (words and
// their counts) and the text as word ids.
type counted struct {
	words       []string // by descending count after finish
	counts      []int64
	tokens      tokenStore // in-vocabulary ids and sentinels after finish
	corpusWords int64      // every token read, in vocabulary or not
	trainWords  int64      // tokens kept (sum of counts of kept words)
	sentences   int64
}

// countWords is the counting pass: it reads every sentence, assigns
// provisional ids in order of first appearance, counts them and stores the
// id stream.
func countWords(ctx context.Context, src Sentences, cfg Config, report func(words int64, fraction float64)) (*counted, error) {
	ids := make(map[string]int32, 1<<16)
	c := &counted{}
	bc, _ := src.(byteCounter)
	var n int64
	for src.Scan() {
		sent := src.Sentence()
		if len(sent) == 0 {
			continue
		}
		for _, tok := range sent {
			id, ok := ids[string(tok)]
			if !ok {
				if len(c.words) >= 1<<31-2 {
					return nil, fmt.Errorf("more than %d distinct words", 1<<31-2)
				}
				id = int32(len(c.words))
				w := string(tok)
				ids[w] = id
				c.words = append(c.words, w)
				c.counts = append(c.counts, 0)
			}
			c.counts[id]++
			c.tokens.push(id)
		}
		c.tokens.push(sentinel)
		c.sentences++
		c.corpusWords += int64(len(sent))
		if c.corpusWords-n >= 1<<20 {
			n = c.corpusWords
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if cfg.MemoryLimit > 0 && c.tokens.bytes() > cfg.MemoryLimit {
				return nil, &MemoryError{What: "keeping the corpus in memory", Need: c.tokens.bytes(), Limit: cfg.MemoryLimit}
			}
			frac := 0.0
			if bc != nil && cfg.InputBytes > 0 {
				frac = min(1, float64(bc.Bytes())/float64(cfg.InputBytes))
			}
			report(c.corpusWords, frac)
		}
	}
	if err := src.Err(); err != nil {
		return nil, fmt.Errorf("reading corpus: %w", err)
	}
	if c.corpusWords == 0 {
		return nil, ErrEmptyCorpus
	}
	report(c.corpusWords, 1)
	return c, nil
}

// finish sorts the vocabulary by descending count (ties in order of first
// appearance), drops words under minCount or beyond maxVocab, and rewrites
// the stored corpus in place with the final ids, dropping the words left
// out and empty sentences.
func (c *counted) finish(minCount, maxVocab int) error {
	order := make([]int32, 0, len(c.words))
	var maxCount int64
	for id, n := range c.counts {
		maxCount = max(maxCount, n)
		if n >= int64(minCount) {
			order = append(order, int32(id))
		}
	}
	if len(order) == 0 {
		return &VocabularyError{CorpusWords: c.corpusWords, DistinctWords: len(c.words), MaxCount: maxCount, MinCount: minCount}
	}
	sort.SliceStable(order, func(i, j int) bool { return c.counts[order[i]] > c.counts[order[j]] })
	if maxVocab > 0 && len(order) > maxVocab {
		order = order[:maxVocab]
	}
	remap := make([]int32, len(c.words))
	for i := range remap {
		remap[i] = -1
	}
	words := make([]string, len(order))
	counts := make([]int64, len(order))
	for final, prov := range order {
		remap[prov] = int32(final)
		words[final] = c.words[prov]
		counts[final] = c.counts[prov]
		c.trainWords += c.counts[prov]
	}
	c.words, c.counts = words, counts

	// Compact in place: the write index never passes the read index.
	var w int64
	lastSentinel := true
	sentences := int64(0)
	for r := int64(0); r < c.tokens.n; r++ {
		v := c.tokens.at(r)
		if v == sentinel {
			if lastSentinel {
				continue
			}
			lastSentinel = true
			sentences++
		} else {
			v = remap[v]
			if v < 0 {
				continue
			}
			lastSentinel = false
		}
		c.tokens.blocks[w>>blockBits][w&blockMask] = v
		w++
	}
	c.tokens.n = w
	keep := int((w + blockSize - 1) >> blockBits)
	for i := keep; i < len(c.tokens.blocks); i++ {
		c.tokens.blocks[i] = nil
	}
	c.tokens.blocks = c.tokens.blocks[:keep]
	c.sentences = sentences
	return nil
}
