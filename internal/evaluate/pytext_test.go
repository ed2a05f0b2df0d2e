package evaluate

import (
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

func lines(t *testing.T, in string, oneByte bool) []string {
	t.Helper()
	r := iotest.DataErrReader(strings.NewReader(in))
	if oneByte {
		r = iotest.OneByteReader(r)
	}
	var got []string
	if err := scanLines(context.Background(), r, func(_ int, line string) error {
		got = append(got, line)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func TestScanLinesUniversalNewlines(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a\n", []string{"a"}},
		{"a\nb\r\nc\rd", []string{"a", "b", "c", "d"}},
		{"a\r\r\nb\n\n", []string{"a", "", "b", ""}},
		{"a\r", []string{"a"}},
		{"\r\n\r\n", []string{"", ""}},
		{"x\ty \u00a0z\r\n", []string{"x\ty \u00a0z"}},
	} {
		for _, oneByte := range []bool{false, true} {
			if got := lines(t, c.in, oneByte); !slices.Equal(got, c.want) {
				t.Errorf("lines of %q (one byte a read: %v) = %q, want %q", c.in, oneByte, got, c.want)
			}
		}
	}
}

func TestScanLinesErrors(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := scanLines(ctx, strings.NewReader("a\n"), func(int, string) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
	long := strings.Repeat("x", maxLine+1)
	err = scanLines(context.Background(), strings.NewReader("a\n"+long), func(int, string) error { return nil })
	if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("long line: %v", err)
	}
	boom := errors.New("boom")
	err = scanLines(context.Background(), iotest.ErrReader(boom), func(int, string) error { return nil })
	if !errors.Is(err, boom) {
		t.Errorf("read error: %v", err)
	}
}

func TestPyFields(t *testing.T) {
	// Python's str.split() also splits on U+001C..U+001F, which Go's
	// unicode.IsSpace does not count as space.
	got := pyFields(" a\tb\u00a0c\x1fd\x1ce\u3000f\u2028 ")
	if want := []string{"a", "b", "c", "d", "e", "f"}; !slices.Equal(got, want) {
		t.Errorf("pyFields = %q, want %q", got, want)
	}
	if got := pyStrip("\x1e\u00a0 a b \t"); got != "a b" {
		t.Errorf("pyStrip = %q", got)
	}
}

func TestPyUpperLower(t *testing.T) {
	// Expected values from Python 3.11.
	for in, want := range map[string]string{
		"athens":   "ATHENS",
		"Athens":   "ATHENS",
		"straße":   "STRASSE",
		"ﬁx":       "FIX",
		"ärger":    "ÄRGER",
		"ǆ":        "Ǆ",
		"a\xffb":   "A\uFFFDB",
		"":         "",
		"ΐ":        "\u0399\u0308\u0301",
		"ﬃ-ﬄ":      "FFI-FFL",
		"İstanbul": "İSTANBUL",
	} {
		if got := pyUpper(in); got != want {
			t.Errorf("pyUpper(%q) = %q, want %q", in, got, want)
		}
	}
	if got, want := pyLower("SİM"), "si\u0307m"; got != want {
		t.Errorf("pyLower = %q, want %q", got, want)
	}
	if got := pyLower("SimLex999"); got != "simlex999" {
		t.Errorf("pyLower = %q", got)
	}
}

func TestPyFloat(t *testing.T) {
	// Expected values from Python 3.11's float().
	nan := math.NaN()
	for _, c := range []struct {
		in   string
		want float64 // NaN: want NaN
		ok   bool
	}{
		{"1.5", 1.5, true},
		{" 7\u00a0", 7, true},
		{"1_0", 10, true},
		{"1e1_0", 1e10, true},
		{"1__0", 0, false},
		{"_1", 0, false},
		{"1_", 0, false},
		{"1_.5", 0, false},
		{"1._5", 0, false},
		{"0x1p4", 0, false},
		{"0x10", 0, false},
		{".5", 0.5, true},
		{"5.", 5, true},
		{".", 0, false},
		{"e5", 0, false},
		{"1e", 0, false},
		{"1.5e+3", 1500, true},
		{"+-1", 0, false},
		{"1.5.2", 0, false},
		{"+inf", math.Inf(1), true},
		{"-Infinity", math.Inf(-1), true},
		{"infinit", 0, false},
		{"nan", nan, true},
		{"-NaN", nan, true},
		{"1e400", math.Inf(1), true},
		{"-1e400", math.Inf(-1), true},
		{"1e-400", 0, true},
		{"", 0, false},
		{"abc", 0, false},
		{"in f", 0, false},
		{"\u0661\u0662", 12, true},   // Arabic-Indic
		{"\u0661.\u0665", 1.5, true}, // Arabic-Indic
		{"\u0663e\u0662", 300, true}, // Arabic-Indic
		{"\U0001D7D9", 1, true},      // mathematical double-struck one
		{"\U0001D7FF", 9, true},      // mathematical monospace nine
		{"\uff17", 7, true},          // full-width seven
		{"\u096f", 9, true},          // Devanagari nine
		{"\u00bd", 0, false},         // vulgar fraction, not a decimal digit
	} {
		got, ok := pyFloat(c.in)
		if ok != c.ok || (ok && !(got == c.want || math.IsNaN(got) && math.IsNaN(c.want))) {
			t.Errorf("pyFloat(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
