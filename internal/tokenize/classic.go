package tokenize

// classicLower maps the bytes that are letters in classic mode, A-Z and a-z,
// to lower case and every other byte to 0.
var classicLower = func() (t [256]byte) {
	for c := byte('a'); c <= 'z'; c++ {
		t[c] = c
		t[c-'a'+'A'] = c
	}
	return t
}()

func (s *Scanner) scanClassic() bool {
	for {
		buf, i, n := s.buf, s.r, s.w
		for i < n {
			b := buf[i]
			if classicLower[b] != 0 {
				if !s.inWord {
					s.startWord()
				}
				i = s.copyLowerRun(buf, i, n, &classicLower)
				s.crlf = 0
				continue
			}
			if s.inWord {
				s.endWord()
				if len(s.toks) >= s.max {
					s.r = i
					return true
				}
			}
			i++
			// Track how much of "\r\n\r\n" was just seen (a KMP automaton):
			// s.crlf is the length of the longest prefix of it that ends here.
			switch b {
			case '\r':
				if s.crlf == 0 || s.crlf == 2 {
					s.crlf++
				} else {
					s.crlf = 1
				}
			case '\n':
				switch s.crlf {
				case 1:
					s.crlf = 2
				case 3:
					s.crlf = 0 // a paragraph break; the next one starts afresh
					if len(s.toks) > 0 {
						s.r = i
						return true
					}
				default:
					s.crlf = 0
				}
			default:
				s.crlf = 0
			}
		}
		s.r = i
		if !s.fill() {
			if s.err != nil {
				return false
			}
			if s.inWord {
				s.endWord()
			}
			return len(s.toks) > 0
		}
	}
}
