package word2vec

import (
	"bufio"
	"bytes"
	"io"
)

// fieldsSource is a minimal sentence source for tests: white-space
// separated tokens, one sentence per line, cut every maxLen tokens.
type fieldsSource struct {
	sc     *bufio.Scanner
	maxLen int
	toks   [][]byte
	err    error
}

func newFieldsSource(r io.Reader, maxLen int) *fieldsSource {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	// Split into words but report line ends as an empty token.
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		i := 0
		for i < len(data) && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r') {
			i++
		}
		if i < len(data) && data[i] == '\n' {
			return i + 1, []byte{}, nil
		}
		j := i
		for j < len(data) && !bytes.ContainsRune([]byte(" \t\r\n"), rune(data[j])) {
			j++
		}
		if j < len(data) || (atEOF && j > i) {
			return j, data[i:j], nil
		}
		if atEOF {
			return len(data), nil, nil
		}
		return i, nil, nil
	})
	return &fieldsSource{sc: sc, maxLen: maxLen}
}

func (s *fieldsSource) Scan() bool {
	s.toks = s.toks[:0]
	for s.sc.Scan() {
		t := s.sc.Bytes()
		if len(t) == 0 {
			if len(s.toks) > 0 {
				return true
			}
			continue
		}
		s.toks = append(s.toks, append([]byte(nil), t...))
		if len(s.toks) == s.maxLen {
			return true
		}
	}
	s.err = s.sc.Err()
	return len(s.toks) > 0
}

func (s *fieldsSource) Sentence() [][]byte { return s.toks }
func (s *fieldsSource) Err() error         { return s.err }
