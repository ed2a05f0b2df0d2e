package vectors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"io"
	"math"
	"unicode/utf8"
)

// StreamOptions are the checks StreamCompact makes beyond those of Read.
// The zero value makes none: StreamCompact then accepts exactly what Read
// accepts.
type StreamOptions struct {
	// UTF8 refuses a word that is not valid UTF-8 (Read keeps such words
	// as bytes; a JSON API can neither show nor be asked for them).
	UTF8 bool
}

// streamBufSize is StreamCompact's output buffer: the batch of rows it
// writes at once (~650 rows of dimension 100).
const streamBufSize = 256 << 10

// StreamCompact reads a word2vec file from src, in the text or binary
// format (told apart as Read does), and writes it to dst in the Compact
// format, row by row: the matrix is never held, only one row, the input
// and output buffers (64 KiB and 256 KiB) and the word list, which goes
// at the end (O(words): each word's bytes and 11 to 22 bytes of hash
// table, see wordList).
// It returns the number of words written and their dimension.
//
// It accepts and refuses exactly what Read does (duplicate words keep
// their first vector; COUNT must be the number of rows; values finite),
// plus what opt refuses, and what it writes loads (Load, ReadCompact) as
// the set Read returns for src. The header's COUNT is never used to
// allocate. Malformed input yields a *ParseError as Read's do, an error
// from src a *ParseError wrapping it; an error from dst is returned
// wrapped, not as a *ParseError. Whatever the error, dst has received a
// part of the file that is not valid Compact: write to a temporary file
// and keep it only when StreamCompact returns nil.
func StreamCompact(dst io.Writer, src io.Reader, opt StreamOptions) (words, dim int, err error) {
	rr, err := openRows(src)
	if err != nil {
		return 0, 0, err
	}
	dim = rr.h.dim
	wfail := func(err error) (int, int, error) {
		return 0, 0, fmt.Errorf("vectors: writing compact: %w", err)
	}
	bw := bufio.NewWriterSize(dst, streamBufSize)
	hdr := make([]byte, 0, compactHeaderLen)
	hdr = append(hdr, streamMagic...)
	hdr = binary.LittleEndian.AppendUint64(hdr, 0)
	hdr = binary.LittleEndian.AppendUint64(hdr, uint64(dim))
	hdr = binary.LittleEndian.AppendUint64(hdr, 0)
	if _, err := bw.Write(hdr); err != nil {
		return wfail(err)
	}
	seen := newWordList()
	row := make([]float32, dim)
	out := make([]byte, 4*dim)
	for {
		word, err := rr.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, 0, err
		}
		if opt.UTF8 && !utf8.Valid(word) {
			return 0, 0, rr.fail(malformed("word %q is not valid UTF-8", clip(word)))
		}
		if err := rr.values(row); err != nil {
			return 0, 0, err
		}
		if len(seen.chunks) == 1<<(posBits-20) {
			return 0, 0, rr.fail(malformed("more than %d bytes of words", uint64(1)<<posBits))
		}
		if !seen.add(word) {
			continue // seen before: the first vector wins, as in Read
		}
		for j, v := range row {
			binary.LittleEndian.PutUint32(out[4*j:], math.Float32bits(v))
		}
		if _, err := bw.Write(out); err != nil {
			return wfail(err)
		}
	}
	for _, c := range seen.chunks {
		bw.Write(c)
	}
	var tail [compactTrailerLen]byte
	binary.LittleEndian.PutUint64(tail[:], uint64(seen.n))
	binary.LittleEndian.PutUint64(tail[8:], seen.size)
	copy(tail[16:], streamMagic)
	bw.Write(tail[:])
	if err := bw.Flush(); err != nil {
		return wfail(err)
	}
	return seen.n, dim, nil
}

// wordList holds the words StreamCompact has written, each once, in
// order: their bytes, each ended by '\n' as in the Compact word list, in
// chunks of at most wordChunk bytes (a word never spans two, so a chunk
// wastes at most MaxWordLen bytes), and an open-addressing hash table
// (linear probing, at most 3/4 full) of their positions. It holds no
// pointers but the chunks': the garbage collector has next to nothing to
// scan, and a word costs its bytes plus 11 to 22 bytes of table, against
// ~80 for a map of strings. The hash is seeded per list (hash/maphash):
// a file cannot be crafted to collide.
type wordList struct {
	seed   maphash.Seed
	chunks [][]byte
	table  []uint64 // 0: empty; else the hash's top 24 bits << 40 | position+1
	n      int      // words
	size   uint64   // bytes of the chunks (the Compact wordsLen)
}

const (
	wordChunk     = 1 << 20 // longest chunk: a position is chunk<<20 | offset
	firstChunk    = 4 << 10
	posBits       = 40
	posMask       = 1<<posBits - 1
	minTableSlots = 1 << 10
)

func newWordList() *wordList {
	return &wordList{seed: maphash.MakeSeed(), table: make([]uint64, minTableSlots)}
}

// add appends word unless the list holds it, and reports whether it did.
func (l *wordList) add(word []byte) bool {
	if 4*(l.n+1) > 3*len(l.table) {
		l.grow()
	}
	h := maphash.Bytes(l.seed, word)
	tag := h >> posBits << posBits
	mask := uint64(len(l.table) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := l.table[i]
		if e == 0 {
			l.table[i] = tag | (l.append(word) + 1)
			l.n++
			return true
		}
		if e&^posMask == tag && l.holds(e&posMask-1, word) {
			return false
		}
	}
}

// append stores word and its '\n' and returns its position.
func (l *wordList) append(word []byte) uint64 {
	need := len(word) + 1
	last := len(l.chunks) - 1
	if last < 0 || len(l.chunks[last])+need > cap(l.chunks[last]) {
		c := firstChunk
		if last >= 0 {
			c = min(2*cap(l.chunks[last]), wordChunk)
		}
		l.chunks = append(l.chunks, make([]byte, 0, max(c, need)))
		last++
	}
	pos := uint64(last)<<20 | uint64(len(l.chunks[last]))
	l.chunks[last] = append(append(l.chunks[last], word...), '\n')
	l.size += uint64(need)
	return pos
}

// at returns the word at pos.
func (l *wordList) at(pos uint64) []byte {
	c := l.chunks[pos>>20][pos&(wordChunk-1):]
	return c[:bytes.IndexByte(c, '\n')]
}

// holds reports whether the word at pos is word.
func (l *wordList) holds(pos uint64, word []byte) bool {
	c := l.chunks[pos>>20][pos&(wordChunk-1):]
	return len(c) > len(word) && c[len(word)] == '\n' && bytes.Equal(c[:len(word)], word)
}

// grow doubles the table.
func (l *wordList) grow() {
	old := l.table
	l.table = make([]uint64, 2*len(old))
	mask := uint64(len(l.table) - 1)
	for _, e := range old {
		if e == 0 {
			continue
		}
		i := maphash.Bytes(l.seed, l.at(e&posMask-1)) & mask
		for l.table[i] != 0 {
			i = (i + 1) & mask
		}
		l.table[i] = e
	}
}
