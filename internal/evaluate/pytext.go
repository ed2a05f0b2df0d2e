package evaluate

// Python's text rules, as eval.py meets them: it reads the evaluation files
// in text mode (universal newlines), splits and strips on Unicode white
// space, folds case with str.upper and parses scores with float(). Each
// helper here reproduces one of those so that a file yields the same
// questions and pairs in both.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxLine is the longest line the readers accept.
const maxLine = 1 << 20

// scanLines calls fn for every line of r, numbered from 1. Lines end at
// "\n", "\r\n" or a lone "\r" (Python's universal newlines); the terminator
// is not part of the line and a last line without one still counts. It
// returns fn's first error, ctx's error if ctx ends, a read error, or an
// ErrFormat error for a line longer than maxLine.
func scanLines(ctx context.Context, r io.Reader, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	sc.Split(splitUniversal)
	n := 0
	for sc.Scan() {
		n++
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if err := fn(n, sc.Text()); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("%w: line %d is longer than %d bytes", ErrFormat, n+1, maxLine)
		}
		return err
	}
	return ctx.Err()
}

// splitUniversal is a bufio.SplitFunc for universal newlines.
func splitUniversal(data []byte, atEOF bool) (advance int, token []byte, err error) {
	if i := bytes.IndexAny(data, "\r\n"); i >= 0 {
		if data[i] == '\n' {
			return i + 1, data[:i], nil
		}
		if i+1 < len(data) {
			if data[i+1] == '\n' {
				return i + 2, data[:i], nil
			}
			return i + 1, data[:i], nil
		}
		if atEOF {
			return i + 1, data[:i], nil
		}
		return 0, nil, nil // a '\r' at the end of the buffer: is a '\n' next?
	}
	if atEOF && len(data) > 0 {
		return len(data), data, nil
	}
	return 0, nil, nil
}

// isPySpace reports whether Python's str.isspace holds for r: Go's
// unicode.IsSpace plus the ASCII separators U+001C to U+001F.
func isPySpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyFields is Python's s.split().
func pyFields(s string) []string { return strings.FieldsFunc(s, isPySpace) }

// pyStrip is Python's s.strip().
func pyStrip(s string) string { return strings.TrimFunc(s, isPySpace) }

// pyUpper is Python's s.upper(): full case mapping, so "ß" becomes "SS".
// Bytes that are not UTF-8 become U+FFFD.
func pyUpper(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToUpper(s)
	}
	var b strings.Builder
	b.Grow(len(s) + 4)
	for _, r := range s {
		if u, ok := fullUpper[r]; ok {
			b.WriteString(u)
		} else {
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	return b.String()
}

// pyLower is Python's s.lower() as far as matching ASCII words in it goes:
// the one multi-rune lower-case mapping (U+0130, "İ" to "i" plus U+0307) is
// kept, which Go's unicode.ToLower would reduce to a plain "i".
func pyLower(s string) string {
	return strings.ReplaceAll(strings.Map(func(r rune) rune {
		if r == 0x130 {
			return r
		}
		return unicode.ToLower(r)
	}, s), "\u0130", "i\u0307")
}

// pyFloat is Python's float(s): surrounding white space, an optional sign,
// then digits with an optional point and exponent (single underscores
// allowed between digits, any Unicode decimal digit counted as its ASCII
// twin) or "inf", "infinity", "nan" in any case. ok is false where Python
// raises ValueError; values too large become ±Inf as in Python.
func pyFloat(s string) (v float64, ok bool) {
	s = pyStrip(s)
	if s == "" {
		return 0, false
	}
	var b []byte
	for _, r := range s {
		switch {
		case r < utf8.RuneSelf:
			b = append(b, byte(r))
		case unicode.IsDigit(r):
			b = append(b, byte('0'+digitValue(r)))
		default:
			return 0, false
		}
	}
	// Underscores: only single ones, each between two digits.
	if bytes.IndexByte(b, '_') >= 0 {
		out := b[:0:0]
		for i, c := range b {
			if c == '_' {
				if i == 0 || i == len(b)-1 || !isDigit(b[i-1]) || !isDigit(b[i+1]) {
					return 0, false
				}
				continue
			}
			out = append(out, c)
		}
		b = out
	}
	t := b
	if len(t) > 0 && (t[0] == '+' || t[0] == '-') {
		t = t[1:]
	}
	switch strings.ToLower(string(t)) {
	case "nan": // signed too, which strconv rejects
		return math.NaN(), true
	case "inf", "infinity":
	default:
		if !isDecimal(t) {
			return 0, false
		}
	}
	v, err := strconv.ParseFloat(string(b), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, false
	}
	return v, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isDecimal reports whether t is digits [ "." digits ] [ ("e"|"E") [sign]
// digits ] with at least one digit before the exponent.
func isDecimal(t []byte) bool {
	i, mant := 0, 0
	for i < len(t) && isDigit(t[i]) {
		i, mant = i+1, mant+1
	}
	if i < len(t) && t[i] == '.' {
		i++
		for i < len(t) && isDigit(t[i]) {
			i, mant = i+1, mant+1
		}
	}
	if mant == 0 {
		return false
	}
	if i < len(t) && (t[i] == 'e' || t[i] == 'E') {
		i++
		if i < len(t) && (t[i] == '+' || t[i] == '-') {
			i++
		}
		exp := 0
		for i < len(t) && isDigit(t[i]) {
			i, exp = i+1, exp+1
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(t)
}

// digitValue is the value of a Unicode decimal digit (category Nd). Unicode
// encodes those in runs of ten, zero first, so the value is the distance
// to the start of the run of digits modulo ten.
func digitValue(r rune) int {
	k := 0
	for unicode.IsDigit(r - rune(k) - 1) {
		k++
	}
	return k % 10
}

// finite reports whether v is neither infinite nor NaN.
func finite(v float64) bool { return !math.IsInf(v, 0) && !math.IsNaN(v) }
