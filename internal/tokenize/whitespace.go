package tokenize

import (
	"unicode"
	"unicode/utf8"
)

// Byte classes of whitespace mode.
const (
	wsToken uint8 = iota // an ASCII byte that is not white space
	wsSpace              // ASCII white space other than a line end
	wsLine               // '\n' or '\r'
	wsMulti              // a byte of a multi-byte sequence, decoded as a rune
)

// wsTokenByte marks the ASCII bytes that are token bytes in whitespace mode.
var wsTokenByte = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = wsClass[c] == wsToken
	}
	return t
}()

var wsClass = func() (t [256]uint8) {
	for c := range t {
		if c >= utf8.RuneSelf {
			t[c] = wsMulti
		}
	}
	t[' '], t['\t'], t['\v'], t['\f'] = wsSpace, wsSpace, wsSpace, wsSpace
	t['\n'], t['\r'] = wsLine, wsLine
	return t
}()

func (s *Scanner) scanWhitespace() bool {
	for {
		buf, i, n := s.buf, s.r, s.w
		for i < n {
			b := buf[i]
			c := wsClass[b]
			if c == wsToken {
				if !s.inWord {
					s.startWord()
				}
				i = s.copyRun(buf, i, n, &wsTokenByte)
				continue
			}
			size, lineEnd := 1, c == wsLine
			if c == wsMulti {
				if !s.eof && !utf8.FullRune(buf[i:n]) {
					break // refill to complete the rune
				}
				var r rune
				r, size = utf8.DecodeRune(buf[i:n])
				if r != utf8.RuneError && !unicode.IsSpace(r) {
					if !s.inWord {
						s.startWord()
					}
					s.appendRaw(buf[i : i+size])
					i += size
					continue
				}
				lineEnd = r == '\u0085' || r == '\u2028' || r == '\u2029'
			}
			// A separator.
			if s.inWord {
				s.endWord()
				if len(s.toks) >= s.max {
					s.r = i
					return true
				}
			}
			i += size
			if lineEnd && len(s.toks) > 0 {
				s.r = i
				return true
			}
		}
		s.r = i
		if !s.fill() {
			if s.err != nil {
				return false
			}
			if s.r < s.w {
				continue // an incomplete rune at the end of the input
			}
			if s.inWord {
				s.endWord()
			}
			return len(s.toks) > 0
		}
	}
}
