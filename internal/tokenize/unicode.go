package tokenize

import (
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Character classes of unicode mode. Word characters come first so that
// "k <= cDigit" tests for a letter or digit.
const (
	cLetter  uint8 = iota
	cDigit         // unicode.IsDigit
	cMark          // Mn or Mc: continues a word, never starts one
	cApos          // ' or U+2019
	cSpace         // white space other than a line end
	cLineEnd       // '\n', '\r', U+0085, U+2028
	cPara          // U+2029: ends a sentence
	cDot           // '.': ends a sentence if white space, a closing quote, a bracket or the end follows
	cStop          // ! ? … 。！？: end a sentence
	cClose         // closing bracket or quote
	cOther         // any other separator
)

// asciiClass classifies bytes; bytes from 0x80 on are cOther here, so that
// the fast path stops at them, and are classified as runes elsewhere.
var asciiClass = func() (t [256]uint8) {
	for c := range t {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
			t[c] = cLetter
		case '0' <= c && c <= '9':
			t[c] = cDigit
		default:
			t[c] = cOther
		}
	}
	t['\''] = cApos
	t[' '], t['\t'], t['\v'], t['\f'] = cSpace, cSpace, cSpace, cSpace
	t['\n'], t['\r'] = cLineEnd, cLineEnd
	t['.'] = cDot
	t['!'], t['?'] = cStop, cStop
	t[')'], t[']'], t['}'], t['"'] = cClose, cClose, cClose, cClose
	return t
}()

// classifyRune returns the class of a non-ASCII rune; invalid UTF-8 decodes
// as U+FFFD, a separator.
func classifyRune(r rune) uint8 {
	switch {
	case r == utf8.RuneError:
		return cOther
	case unicode.IsLetter(r):
		return cLetter
	case unicode.IsDigit(r):
		return cDigit
	case unicode.In(r, unicode.Mn, unicode.Mc):
		return cMark
	}
	switch r {
	case '\u2019':
		return cApos
	case '\u0085', '\u2028':
		return cLineEnd
	case '\u2029':
		return cPara
	case '…', '。', '！', '？':
		return cStop
	}
	switch {
	case unicode.IsSpace(r):
		return cSpace
	case unicode.In(r, unicode.Pe, unicode.Pf):
		return cClose
	}
	return cOther
}

// What a step did with the character it was given.
type stepResult int

const (
	stepNext     stepResult = iota // consumed; go on
	stepSentence                   // consumed; a non-empty sentence is complete
	stepFull                       // not consumed; the sentence reached MaxSentence tokens
)

func (s *Scanner) scanUnicode() bool {
	for {
		buf, i, n := s.buf, s.r, s.w
		for i < n {
			b := buf[i]
			var k uint8
			size := 1
			if b < utf8.RuneSelf {
				k = asciiClass[b]
				if k <= cDigit && !s.pendingApos {
					// Fast path: a run of ASCII letters and digits.
					if !s.inWord {
						s.startWord()
						s.pendingDot = false
						s.lineEnds = 0
						s.afterCR = false
					}
					i = s.copyLowerRun(buf, i, n, &asciiWordLower)
					s.lastLetter = asciiClass[buf[i-1]] == cLetter
					continue
				}
				if b == ' ' && !s.pendingApos && !s.pendingDot {
					// Fast path: a space, usually after a word.
					if s.inWord {
						if s.wordASCII {
							s.endWord()
						} else {
							s.endUnicodeWord()
						}
						if len(s.toks) >= s.max {
							s.r = i
							return true
						}
					}
					s.afterCR = false
					i++
					continue
				}
			} else {
				if !s.eof && !utf8.FullRune(buf[i:n]) {
					break // refill to complete the rune
				}
				var r rune
				r, size = utf8.DecodeRune(buf[i:n])
				k = classifyRune(r)
			}
			switch s.unicodeStep(k, buf[i:i+size]) {
			case stepNext:
				i += size
			case stepSentence:
				s.r = i + size
				return true
			case stepFull:
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
				s.endUnicodeWord()
			}
			s.pendingDot = false
			return len(s.toks) > 0
		}
	}
}

// unicodeStep handles one character of class k whose encoding is unit.
func (s *Scanner) unicodeStep(k uint8, unit []byte) stepResult {
	if s.inWord {
		if s.pendingApos {
			s.pendingApos = false
			if k == cLetter {
				if 1+len(unit) <= s.room() {
					s.arena = append(s.arena, '\'')
					s.appendWordUnit(unit)
				} else {
					s.wordFull = true
				}
				s.lastLetter = true
				return stepNext
			}
		} else {
			switch k {
			case cLetter, cDigit:
				s.appendWordUnit(unit)
				s.lastLetter = k == cLetter
				return stepNext
			case cMark:
				s.appendWordUnit(unit)
				return stepNext
			case cApos:
				if s.lastLetter {
					s.pendingApos = true
					return stepNext
				}
			}
		}
		s.endUnicodeWord()
		if len(s.toks) >= s.max {
			return stepFull
		}
	}

	end := false
	if s.pendingDot {
		s.pendingDot = false
		switch k {
		case cSpace, cLineEnd, cPara, cClose, cApos:
			end = true
		}
	}
	switch k {
	case cLetter, cDigit:
		s.startWord()
		s.appendWordUnit(unit)
		s.lastLetter = k == cLetter
		s.lineEnds = 0
	case cSpace:
	case cLineEnd:
		if unit[0] != '\n' || !s.afterCR {
			s.lineEnds++
			if s.lineEnds >= 2 {
				end = true
			}
		}
	case cPara, cStop:
		end = true
		s.lineEnds = 0
	case cDot:
		s.pendingDot = true
		s.lineEnds = 0
	default:
		s.lineEnds = 0
	}
	s.afterCR = unit[0] == '\r'
	if end && len(s.toks) > 0 {
		return stepSentence
	}
	return stepNext
}

// appendWordUnit appends one word character to the current word.
func (s *Scanner) appendWordUnit(unit []byte) {
	if len(unit) == 1 {
		if s.room() > 0 {
			s.arena = append(s.arena, lowerASCII[unit[0]])
		} else {
			s.wordFull = true
		}
		return
	}
	s.wordASCII = false
	s.appendRaw(unit)
}

// endUnicodeWord normalises the current word if it is not ASCII and closes
// it.
func (s *Scanner) endUnicodeWord() {
	s.pendingApos = false
	if !s.wordASCII {
		s.normalizeWord()
	}
	s.endWord()
}

// normalizeWord replaces the current word by its NFKC form, lower-cased,
// keeping only letters, digits, marks and inner apostrophes, truncated to
// MaxTokenBytes.
func (s *Scanner) normalizeWord() {
	s.scratch = norm.NFKC.Append(s.scratch[:0], s.arena[s.wordStart:]...)
	a := s.arena[:s.wordStart]
	for i := 0; i < len(s.scratch); {
		r, size := utf8.DecodeRune(s.scratch[i:])
		i += size
		mark := len(a)
		switch {
		case r == '\'':
			a = append(a, '\'')
		case r < utf8.RuneSelf:
			if asciiClass[r] <= cDigit {
				a = append(a, lowerASCII[r])
			}
		case r == utf8.RuneError:
		case unicode.IsLetter(r), unicode.IsDigit(r), unicode.In(r, unicode.Mn, unicode.Mc):
			a = utf8.AppendRune(a, unicode.ToLower(r))
		}
		if len(a)-s.wordStart > MaxTokenBytes {
			a = a[:mark]
			break
		}
	}
	// Removed characters may leave an apostrophe at an edge.
	w := a[s.wordStart:]
	for len(w) > 0 && w[0] == '\'' {
		w = w[1:]
	}
	for len(w) > 0 && w[len(w)-1] == '\'' {
		w = w[:len(w)-1]
	}
	n := copy(a[s.wordStart:], w)
	s.arena = a[:s.wordStart+n]
}

// asciiWordLower maps the bytes that are word characters by themselves in
// unicode mode, ASCII letters and digits, to lower case, and every other
// byte to 0.
var asciiWordLower = func() (t [256]byte) {
	for c := range utf8.RuneSelf {
		if asciiClass[c] <= cDigit {
			t[c] = lowerASCII[c]
		}
	}
	return t
}()
