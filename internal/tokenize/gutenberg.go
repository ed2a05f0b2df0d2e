package tokenize

import (
	"bytes"
	"errors"
	"io"
)

// gutenbergReader drops the Project Gutenberg header and licence from a
// stream, whole lines at a time; see the package documentation for the rules.
type gutenbergReader struct {
	src io.Reader
	buf []byte
	// buf[out:pos] is examined text ready to be returned (never returned in
	// state gHeader); buf[pos:w] is not examined yet.
	out, pos, w int
	eof         bool
	err         error // returned once everything before it is returned
	state       gutenbergState
	atLineStart bool // pos is at the start of a line
	lines       int  // lines started, counted in state gHeader
}

type gutenbergState int

const (
	gHeader   gutenbergState = iota // buffering the window, looking for START
	gBody                           // passing text, looking for END
	gSkip                           // dropping text, looking for START
	gDropLine                       // dropping the rest of a START line
)

type marker int

const (
	noMarker marker = iota
	startMarker
	endMarker
)

// markerLookahead is how much of a line is examined for a marker: enough for
// the longest marker prefix after some indentation.
const markerLookahead = 64

func newGutenbergReader(src io.Reader) *gutenbergReader {
	return &gutenbergReader{
		src:         src,
		buf:         make([]byte, GutenbergWindowBytes+readBufSize),
		atLineStart: true,
	}
}

func (g *gutenbergReader) Read(p []byte) (int, error) {
	for {
		if g.out < g.pos && g.state != gHeader {
			n := copy(p, g.buf[g.out:g.pos])
			g.out += n
			return n, nil
		}
		if g.step() {
			continue
		}
		// step needs more input.
		if g.eof {
			return 0, g.err
		}
		if err := g.readMore(); err != nil {
			return 0, err
		}
	}
}

// readMore reads into buf, keeping buf[out:w]. An error from the source is
// kept in g.err, to be returned after the text before it; readMore itself
// fails only if the source makes no progress.
func (g *gutenbergReader) readMore() error {
	if g.out > 0 {
		g.w = copy(g.buf, g.buf[g.out:g.w])
		g.pos -= g.out
		g.out = 0
	}
	if g.w == len(g.buf) {
		return errors.New("gutenberg filter: buffer full") // unreachable: step never waits on a full buffer
	}
	for range 100 {
		n, err := g.src.Read(g.buf[g.w:])
		g.w += n
		if err != nil {
			g.eof, g.err = true, err
			return nil
		}
		if n > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}

// step examines input in the current state. It returns false when it cannot
// go on without more input (or, at the end of the input, when everything has
// been examined).
func (g *gutenbergReader) step() bool {
	switch g.state {
	case gHeader:
		return g.stepHeader()
	case gBody:
		return g.stepBody()
	case gSkip:
		return g.stepSkip()
	default:
		return g.stepDropLine()
	}
}

func (g *gutenbergReader) stepHeader() bool {
	for {
		if g.atLineStart {
			if g.pos >= GutenbergWindowBytes || g.lines >= GutenbergWindowLines {
				return g.giveUp()
			}
			m, ok := g.marker()
			if !ok {
				return false
			}
			if m == startMarker {
				g.out = g.pos
				g.state = gDropLine
				g.atLineStart = false
				return true
			}
		}
		q := nextLineStart(g.buf[g.pos:g.w])
		if q < 0 {
			g.pos = g.w
			g.atLineStart = false
			if g.eof || g.w == len(g.buf) {
				return g.giveUp()
			}
			return false
		}
		end := g.pos + q
		if g.buf[end-1] == '\r' && end == g.w && !g.eof && g.w < len(g.buf) {
			// Wait for the next byte to tell "\r" from "\r\n".
			g.pos = end - 1
			g.atLineStart = false
			return false
		}
		g.pos = end
		g.atLineStart = true
		// Count "\r\n" as one line end.
		if g.buf[end-1] == '\n' || end == g.w || g.buf[end] != '\n' {
			g.lines++
		}
	}
}

// giveUp ends the search for a START line: the buffered window is passed on
// as body text.
func (g *gutenbergReader) giveUp() bool {
	g.state = gBody
	g.pos = g.out
	g.atLineStart = true
	return true
}

func (g *gutenbergReader) stepBody() bool {
	start := g.pos
	for {
		if g.atLineStart {
			m, ok := g.marker()
			if !ok {
				break
			}
			if m == endMarker {
				if g.out < g.pos {
					return true // return the text before the marker first
				}
				g.state = gSkip
				return true
			}
		}
		q := nextLineStart(g.buf[g.pos:g.w])
		if q < 0 {
			g.pos = g.w
			g.atLineStart = false
			break
		}
		g.pos += q
		g.atLineStart = true
	}
	return g.pos > start
}

func (g *gutenbergReader) stepSkip() bool {
	start := g.pos
	for {
		if g.atLineStart {
			m, ok := g.marker()
			if !ok {
				break
			}
			if m == startMarker {
				g.out = g.pos
				g.state = gDropLine
				g.atLineStart = false
				return true
			}
		}
		q := nextLineStart(g.buf[g.pos:g.w])
		if q < 0 {
			g.pos = g.w
			g.atLineStart = false
			break
		}
		g.pos += q
		g.atLineStart = true
	}
	g.out = g.pos
	return g.pos > start
}

func (g *gutenbergReader) stepDropLine() bool {
	q := nextLineStart(g.buf[g.pos:g.w])
	if q < 0 {
		moved := g.pos < g.w
		g.pos = g.w
		g.out = g.pos
		return moved
	}
	end := g.pos + q
	if g.buf[end-1] == '\r' {
		if end == g.w && !g.eof {
			// Wait for the next byte: a "\r\n" is dropped whole.
			moved := end-1 > g.pos
			g.pos = end - 1
			g.out = g.pos
			return moved
		}
		if end < g.w && g.buf[end] == '\n' {
			end++
		}
	}
	g.pos = end
	g.out = end
	g.state = gBody
	g.atLineStart = true
	return true
}

// marker reports which marker, if any, the line starting at pos is. ok is
// false if more input is needed to tell.
func (g *gutenbergReader) marker() (m marker, ok bool) {
	b := g.buf[g.pos:g.w]
	if len(b) > 0 {
		switch b[0] {
		case ' ', '\t', '*', 'E', 'e':
		default:
			return noMarker, true // the common case: decided by one byte
		}
	}
	if len(b) > markerLookahead {
		b = b[:markerLookahead]
	}
	if i := bytes.IndexAny(b, "\r\n"); i >= 0 {
		b = b[:i]
	} else if len(b) < markerLookahead && !g.eof {
		return noMarker, false
	}
	return matchMarker(b), true
}

// matchMarker reports which marker the beginning of line is.
func matchMarker(line []byte) marker {
	line = bytes.TrimLeft(line, " \t")
	if rest, ok := cutPrefixFold(line, "***"); ok {
		if len(rest) > 0 && rest[0] == ' ' {
			rest = rest[1:]
		}
		m := noMarker
		if r, ok := cutPrefixFold(rest, "START OF "); ok {
			rest, m = r, startMarker
		} else if r, ok := cutPrefixFold(rest, "END OF "); ok {
			rest, m = r, endMarker
		} else {
			return noMarker
		}
		if hasPrefixFold(rest, "THE PROJECT GUTENBERG") || hasPrefixFold(rest, "THIS PROJECT GUTENBERG") {
			return m
		}
		return noMarker
	}
	if rest, ok := cutPrefixFold(line, "END OF "); ok {
		if hasPrefixFold(rest, "THE PROJECT GUTENBERG") || hasPrefixFold(rest, "PROJECT GUTENBERG") {
			return endMarker
		}
	}
	return noMarker
}

// hasPrefixFold reports whether b begins with upper, ignoring ASCII case.
// upper holds no lower-case letter.
func hasPrefixFold(b []byte, upper string) bool {
	if len(b) < len(upper) {
		return false
	}
	for i := range len(upper) {
		c := b[i]
		if 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		if c != upper[i] {
			return false
		}
	}
	return true
}

func cutPrefixFold(b []byte, upper string) ([]byte, bool) {
	if !hasPrefixFold(b, upper) {
		return b, false
	}
	return b[len(upper):], true
}

// nextLineStart returns the index just after the first '\n' or '\r' in b, or
// -1. A "\r\n" is thus seen as a line end followed by a line holding "\n",
// which is never a marker.
func nextLineStart(b []byte) int {
	i := bytes.IndexByte(b, '\n')
	head := b
	if i >= 0 {
		head = b[:i]
	}
	if j := bytes.IndexByte(head, '\r'); j >= 0 {
		return j + 1
	}
	if i >= 0 {
		return i + 1
	}
	return -1
}
