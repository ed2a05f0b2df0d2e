package word2vec

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"

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
	// maxDistinct is the most distinct words counting accepts: ids are
	// int32 and sentinel is -1.
	maxDistinct = 1<<31 - 2
)

// tokenStore is the corpus as word ids in fixed-size blocks, so that it
// grows without copying and its peak is its size. The blocks are in memory
// or, once the store has spilled (spill), in a temporary file mapped into
// memory (corpusfile.go): the trainer reads both through at and n alike.
//
// On file, counting fills one block in memory (cur) and writes it out when
// it is full; seal writes the rest and maps the file, after which blocks
// are slices of the mapping. close releases the file: the store must not be
// used after it.
type tokenStore struct {
	blocks [][]int32
	n      int64
	cur    []int32    // the block push writes to
	file   *fileStore // nil: the blocks are in memory
}

// push appends v; its only errors are those of writing a full block to the
// file (a *DiskSpaceError or *CorpusFileError).
func (s *tokenStore) push(v int32) error {
	i := s.n & blockMask
	if i == 0 {
		if err := s.nextBlock(); err != nil {
			return err
		}
	}
	s.cur[i] = v
	s.n++
	return nil
}

// nextBlock makes room for the block starting at s.n: a new block in
// memory, or, on file, the full current block written out and reused.
func (s *tokenStore) nextBlock() error {
	if s.file == nil {
		s.cur = make([]int32, blockSize)
		s.blocks = append(s.blocks, s.cur)
		return nil
	}
	if s.n > 0 {
		return s.file.write(s.cur, s.n-blockSize)
	}
	return nil
}

func (s *tokenStore) at(i int64) int32 { return s.blocks[i>>blockBits][i&blockMask] }

// bytes is the memory the store holds: its blocks in memory, or on file
// the block being filled until seal and nothing after it. The mapped file
// is not counted: its pages are the kernel's page cache, which it reclaims
// (writing them back first if dirty) rather than failing, so the corpus
// on file does not count against Config.MemoryLimit.
func (s *tokenStore) bytes() int64 {
	if s.file != nil {
		return int64(len(s.cur)) * 4
	}
	return int64(len(s.blocks)) * blockSize * 4
}

// onFile reports whether the store has spilled to a file.
func (s *tokenStore) onFile() bool { return s.file != nil }

// spill moves the store to a new temporary file in dir: the blocks in
// memory are written out (and released) but for the last, which becomes
// the block being filled. It is called while counting or after finish
// compacted the ids (then seal follows).
func (s *tokenStore) spill(dir string) error {
	f, err := createFileStore(dir)
	if err != nil {
		return err
	}
	s.file = f
	last := len(s.blocks) - 1
	for b := 0; b < last; b++ {
		if err := f.write(s.blocks[b], int64(b)<<blockBits); err != nil {
			return err
		}
		s.blocks[b] = nil
	}
	if last >= 0 {
		s.cur = s.blocks[last]
	} else {
		s.cur = make([]int32, blockSize)
	}
	s.blocks = nil
	if last > 0 {
		// The blocks written out are garbage that no collection would
		// reclaim soon (counting allocates little): hand them back to the
		// system now, since the corpus moved to a file because memory is
		// short. One collection per training run at most.
		debug.FreeOSMemory()
	}
	return nil
}

// seal writes what is left in memory to the file and maps it: from then on
// at reads the mapping. It does nothing for a store in memory.
func (s *tokenStore) seal() error {
	if s.file == nil || s.cur == nil {
		return nil
	}
	if tail := s.n - (s.n-1)&^blockMask; s.n > 0 {
		if err := s.file.write(s.cur[:tail], s.n-tail); err != nil {
			return err
		}
	}
	s.cur = nil
	ids, err := s.file.mapIDs(s.n)
	if err != nil {
		return err
	}
	s.blocks = nil
	for lo := int64(0); lo < s.n; lo += blockSize {
		s.blocks = append(s.blocks, ids[lo:min(lo+blockSize, s.n)])
	}
	return nil
}

// close releases the store: the file's mapping and descriptor (the file
// itself has no name since it was created), or the blocks in memory. It is
// safe to call more than once, and on the zero store.
func (s *tokenStore) close() {
	if s.file != nil {
		s.file.close()
	}
	*s = tokenStore{}
}

// counted is the result of the counting pass: the vocabulary (words and
// their counts) and the text as word ids.
//
// While counting, a word's index in words and counts is its slot and the
// stored corpus holds provisional ids, numbered in order of first
// appearance. Until the first pruning (prune) both are the same and
// slotFirst and slotOf are nil; after it a pruned word's slot is reused by
// a later new word, and the two tables translate.
type counted struct {
	words       []string // by slot; by descending count after finish
	counts      []int64
	tokens      tokenStore // provisional ids and sentinels; in-vocabulary ids after finish
	corpusWords int64      // every token read, in vocabulary or not
	trainWords  int64      // tokens kept (sum of counts of kept words)
	sentences   int64

	cfg      Config           // with defaults: spilling and pruning settings
	ids      map[string]int32 // word -> slot, while counting
	frequent int              // words in the table seen MinCount times or more

	// Pruning (CountLimit): slotFirst[slot] is the provisional id of the
	// slot's word (-1: free slot), slotOf[id] the slot of a provisional id
	// (-1: pruned). distinct counts provisional ids.
	slotFirst, slotOf []int32
	free              []int32
	distinct          int
	threshold         int64 // the last pruning dropped words counted this often or less
	prunes            int   // times the table was pruned
	prunedWords       int64 // words dropped by pruning, each time they were
}

// countEntryBytes is what a distinct word costs the count table beyond its
// letters: its map entry (Go's swiss table at its usual load), the string
// header in words, its count, and the slot tables of pruning (8 bytes).
// BenchmarkCountTable measures 86 bytes without the slot tables.
const countEntryBytes = 96

// countLimit is the size of the count table from which counting prunes
// rare words: cfg.CountLimit, or, when it is 0 and there is a memory
// limit, as many words as fit in half the limit; else no limit (0).
func countLimit(cfg Config) int {
	if cfg.CountLimit > 0 {
		return cfg.CountLimit
	}
	if cfg.MemoryLimit > 0 {
		return int(max(1000, min(cfg.MemoryLimit/2/countEntryBytes, maxDistinct)))
	}
	return 0
}

// countWords is the counting pass: it reads every sentence, assigns
// provisional ids in order of first appearance, counts them and stores the
// id stream, pruning rare words when the table passes countLimit (prune)
// and moving the stream to a temporary file when it would not fit in the
// memory limit beside the weights (or from the start with
// cfg.DiskCorpus). On error the stream is released.
func countWords(ctx context.Context, src Sentences, cfg Config, report func(words int64, fraction float64)) (_ *counted, err error) {
	cfg = cfg.withDefaults()
	c := &counted{cfg: cfg, ids: make(map[string]int32, 1<<16)}
	defer func() {
		if err != nil {
			c.tokens.close()
		}
	}()
	if cfg.DiskCorpus {
		if err := c.tokens.spill(cfg.TempDir); err != nil {
			return nil, err
		}
	}
	limit := countLimit(cfg)
	minCount := int64(cfg.MinCount)
	bc, _ := src.(byteCounter)
	var n int64
	for src.Scan() {
		sent := src.Sentence()
		if len(sent) == 0 {
			continue
		}
		for _, tok := range sent {
			slot, seen := c.ids[string(tok)]
			if !seen {
				if slot, err = c.add(string(tok)); err != nil {
					return nil, err
				}
			}
			c.counts[slot]++
			if c.counts[slot] == minCount {
				c.frequent++
			}
			id := slot
			if c.slotFirst != nil {
				id = c.slotFirst[slot]
			}
			if err := c.tokens.push(id); err != nil {
				return nil, c.diskError(err, bc)
			}
			if !seen && limit > 0 && len(c.ids) > limit {
				c.prune(limit) // after this occurrence is stored: it may go too
			}
		}
		if err := c.tokens.push(sentinel); err != nil {
			return nil, c.diskError(err, bc)
		}
		c.sentences++
		c.corpusWords += int64(len(sent))
		if c.corpusWords-n >= 1<<20 {
			n = c.corpusWords
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if err := c.checkMemory(); err != nil {
				return nil, c.diskError(err, bc)
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
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := c.tokens.seal(); err != nil {
		return nil, c.diskError(err, bc)
	}
	report(c.corpusWords, 1)
	return c, nil
}

// add gives the new word w a slot: a free one after pruning, else the
// next.
func (c *counted) add(w string) (int32, error) {
	if c.distinct >= maxDistinct {
		return 0, fmt.Errorf("more than %d distinct words", maxDistinct)
	}
	id := int32(c.distinct)
	c.distinct++
	var slot int32
	if k := len(c.free); k > 0 {
		slot = c.free[k-1]
		c.free = c.free[:k-1]
		c.words[slot] = w
	} else {
		slot = int32(len(c.words))
		c.words = append(c.words, w)
		c.counts = append(c.counts, 0)
		if c.slotFirst != nil {
			c.slotFirst = append(c.slotFirst, 0)
		}
	}
	if c.slotFirst != nil {
		c.slotFirst[slot] = id
		c.slotOf = append(c.slotOf, slot)
	}
	c.ids[w] = slot
	return slot, nil
}

// prune drops rare words from the count table once it holds more than
// limit words, as word2vec.c's ReduceVocab does: every word counted at
// most threshold times so far goes, threshold rising by one each time,
// until the table is down to 7/8 of the limit (the slack spares a scan of
// the table for every new word when it sits at the limit). A dropped word
// seen again starts from a count of one, and its earlier occurrences are
// left out of the stored corpus: a word whose total count reaches
// MinCount is lost when its occurrences before its last pruning are what
// it needed. Each distinct word ever seen keeps 4 bytes (slotOf) until
// counting ends.
func (c *counted) prune(limit int) {
	if c.slotFirst == nil {
		c.slotFirst = make([]int32, len(c.words))
		c.slotOf = make([]int32, len(c.words))
		for i := range c.slotFirst {
			c.slotFirst[i], c.slotOf[i] = int32(i), int32(i)
		}
	}
	target := limit - limit/8
	minCount := int64(c.cfg.MinCount)
	for len(c.ids) > target {
		c.threshold++
		c.prunes++
		for slot, n := range c.counts {
			if n == 0 || n > c.threshold {
				continue
			}
			delete(c.ids, c.words[slot])
			c.slotOf[c.slotFirst[slot]] = -1
			c.slotFirst[slot] = -1
			c.words[slot], c.counts[slot] = "", 0
			c.free = append(c.free, int32(slot))
			c.prunedWords++
			if n >= minCount {
				c.frequent--
			}
		}
	}
}

// checkMemory moves the stored corpus to a file when, in memory, it would
// not fit in the memory limit beside the count table or the weights of the
// words frequent so far (a lower bound of what training needs, since the
// vocabulary only grows), so the memory counting holds stays under the
// limit. Without a place for the file (other systems) the corpus stays in
// memory and the limit is a *MemoryError, as before files.
func (c *counted) checkMemory() error {
	limit := c.cfg.MemoryLimit
	if limit <= 0 || c.tokens.onFile() {
		return nil
	}
	vocab := c.frequent
	if c.cfg.MaxVocab > 0 {
		vocab = min(vocab, c.cfg.MaxVocab)
	}
	others := max(int64(len(c.ids))*countEntryBytes, EstimateMemory(c.cfg, vocab))
	if c.tokens.bytes()+others <= limit {
		return nil
	}
	if !fileStoreSupported {
		return &MemoryError{What: "keeping the corpus in memory", Need: c.tokens.bytes() + others, Limit: limit}
	}
	return c.tokens.spill(c.cfg.TempDir)
}

// diskError turns a full disk into a *DiskSpaceError that says how much
// room the whole corpus needs: the ids stored so far scaled by the share
// of the input read, when its size is known; else more than they take. Other errors pass unchanged.
func (c *counted) diskError(err error, bc byteCounter) error {
	var de *DiskSpaceError
	if !errors.As(err, &de) {
		return err
	}
	de.Need, de.AtLeast = c.tokens.n*4, true
	if bc != nil && c.cfg.InputBytes > 0 && bc.Bytes() > 0 && bc.Bytes() < c.cfg.InputBytes {
		de.Need = int64(float64(c.tokens.n) * 4 * float64(c.cfg.InputBytes) / float64(bc.Bytes()))
		de.AtLeast = false
	}
	return de
}

// finish sorts the vocabulary by descending count (ties in order of first
// appearance), drops words under minCount or beyond maxVocab, and rewrites
// the stored corpus in place with the final ids, dropping the words left
// out and empty sentences. A corpus still in memory then moves to a file
// when, beside the weights, it would pass the memory limit and the
// weights alone would not. On error the stored corpus is released.
func (c *counted) finish(minCount, maxVocab int) (err error) {
	defer func() {
		if err != nil {
			c.tokens.close()
		}
	}()
	c.ids = nil
	order := make([]int32, 0, len(c.words))
	var maxCount int64
	for slot, n := range c.counts {
		maxCount = max(maxCount, n)
		if n >= int64(minCount) && n > 0 {
			order = append(order, int32(slot))
		}
	}
	if len(order) == 0 {
		return &VocabularyError{CorpusWords: c.corpusWords, DistinctWords: c.distinct, MaxCount: maxCount, MinCount: minCount}
	}
	first := func(slot int32) int32 { return slot }
	if c.slotFirst != nil {
		first = func(slot int32) int32 { return c.slotFirst[slot] }
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c.counts[a] != c.counts[b] {
			return cmp.Compare(c.counts[b], c.counts[a])
		}
		return cmp.Compare(first(a), first(b))
	})
	if maxVocab > 0 && len(order) > maxVocab {
		order = order[:maxVocab]
	}
	remap := make([]int32, len(c.words)) // slot -> final id
	for i := range remap {
		remap[i] = -1
	}
	words := make([]string, len(order))
	counts := make([]int64, len(order))
	for final, slot := range order {
		remap[slot] = int32(final)
		words[final] = c.words[slot]
		counts[final] = c.counts[slot]
		c.trainWords += c.counts[slot]
	}
	c.words, c.counts = words, counts
	if c.slotOf != nil {
		// Provisional id -> final id, in place of id -> slot.
		for id, slot := range c.slotOf {
			if slot >= 0 {
				c.slotOf[id] = remap[slot]
			}
		}
		remap, c.slotOf, c.slotFirst, c.free = c.slotOf, nil, nil, nil
	}

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

	if lim := c.cfg.MemoryLimit; lim > 0 && !c.tokens.onFile() && fileStoreSupported {
		weights := EstimateMemory(c.cfg, len(c.words))
		if weights+c.tokens.bytes() > lim && weights <= lim {
			if err := c.tokens.spill(c.cfg.TempDir); err != nil {
				return c.diskError(err, nil)
			}
			if err := c.tokens.seal(); err != nil {
				return c.diskError(err, nil)
			}
		}
	}
	return nil
}
