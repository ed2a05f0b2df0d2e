package tokenize

import (
	"io"
	"unicode/utf8"
)

// bomReader drops a leading UTF-8 byte order mark.
type bomReader struct {
	r       io.Reader
	done    bool    // the first three bytes have been read
	head    [3]byte // the first bytes, unless they were a BOM
	nhead   int     // bytes of head read, then still to return
	headOff int
	headErr error // error met while reading the head, returned after it
}

const bom = "\xef\xbb\xbf"

func (b *bomReader) Read(p []byte) (int, error) {
	for !b.done {
		n, err := b.r.Read(b.head[b.nhead:])
		b.nhead += n
		if b.nhead == len(b.head) || err != nil {
			b.done, b.headErr = true, err
			if string(b.head[:b.nhead]) == bom {
				b.nhead = 0
			}
			break
		}
		if n == 0 {
			return 0, nil // let the caller count reads that make no progress
		}
	}
	if b.nhead > 0 {
		n := copy(p, b.head[b.headOff:b.headOff+b.nhead])
		b.headOff += n
		b.nhead -= n
		return n, nil
	}
	if b.headErr != nil {
		return 0, b.headErr
	}
	return b.r.Read(p)
}

// latin1Reader decodes ISO-8859-1 to UTF-8: byte b becomes rune b.
type latin1Reader struct {
	r    io.Reader
	in   []byte // raw bytes
	obuf []byte // decoded bytes, twice the size of in
	out  []byte // decoded bytes not yet returned, a suffix of obuf
	err  error
}

func (l *latin1Reader) Read(p []byte) (int, error) {
	for len(l.out) == 0 {
		if l.err != nil {
			return 0, l.err
		}
		if l.in == nil {
			l.in = make([]byte, 32<<10)
			l.obuf = make([]byte, 0, 2*len(l.in))
		}
		n, err := l.r.Read(l.in)
		l.err = err
		out := l.obuf[:2*n]
		k := 0
		for _, c := range l.in[:n] {
			if c < utf8.RuneSelf {
				out[k] = c
				k++
			} else {
				out[k] = 0xc0 | c>>6
				out[k+1] = 0x80 | c&0x3f
				k += 2
			}
		}
		l.out = out[:k]
		if n == 0 && err == nil {
			return 0, nil // let the caller count reads that make no progress
		}
	}
	n := copy(p, l.out)
	l.out = l.out[n:]
	return n, nil
}
