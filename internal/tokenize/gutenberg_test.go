package tokenize

import (
	"bytes"
	"io"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"
)

// stripReference applies the Project Gutenberg rules of the package
// documentation to a whole text, line by line: the simple version that the
// streaming filter must agree with byte for byte.
func stripReference(text string) string {
	var lines []string // each with its line end: "\n", "\r\n", "\r" or none
	for len(text) > 0 {
		i := strings.IndexAny(text, "\r\n")
		switch {
		case i < 0:
			i = len(text)
		case text[i] == '\r' && i+1 < len(text) && text[i+1] == '\n':
			i += 2
		default:
			i++
		}
		lines = append(lines, text[:i])
		text = text[i:]
	}
	markerOf := func(line string) marker {
		if len(line) > markerLookahead {
			line = line[:markerLookahead]
		}
		if i := strings.IndexAny(line, "\r\n"); i >= 0 {
			line = line[:i]
		}
		return matchMarker([]byte(line))
	}
	first, off := 0, 0
	for i, l := range lines {
		if i >= GutenbergWindowLines || off >= GutenbergWindowBytes {
			break
		}
		if markerOf(l) == startMarker {
			first = i + 1
			break
		}
		off += len(l)
	}
	var out strings.Builder
	body := true
	for _, l := range lines[first:] {
		switch m := markerOf(l); {
		case body && m == endMarker:
			body = false
		case !body && m == startMarker:
			body = true
		case body:
			out.WriteString(l)
		}
	}
	return out.String()
}

// stripStream runs text through the streaming filter, reading with r.
func stripStream(t testing.TB, r io.Reader) string {
	t.Helper()
	out, err := io.ReadAll(newGutenbergReader(r))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func checkStrip(t *testing.T, name, text string) {
	t.Helper()
	want := stripReference(text)
	for rname, r := range map[string]io.Reader{
		"whole":    strings.NewReader(text),
		"one byte": iotest.OneByteReader(strings.NewReader(text)),
		"half":     iotest.HalfReader(strings.NewReader(text)),
	} {
		if got := stripStream(t, r); got != want {
			t.Errorf("%s (%s reads):\n got %.300q\nwant %.300q", name, rname, got, want)
		}
	}
}

func TestGutenbergMarkers(t *testing.T) {
	for _, c := range []struct {
		line string
		want marker
	}{
		{"*** START OF THIS PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***", startMarker},
		{"*** START OF THE PROJECT GUTENBERG EBOOK 1984 ***", startMarker},
		{"***START OF THE PROJECT GUTENBERG EBOOK", startMarker},
		{"*** start of the project gutenberg ebook", startMarker},
		{"  \t*** START OF THE PROJECT GUTENBERG", startMarker},
		{"*** END OF THIS PROJECT GUTENBERG EBOOK PRIDE AND PREJUDICE ***", endMarker},
		{"***END OF THE PROJECT GUTENBERG EBOOK", endMarker},
		{"End of the Project Gutenberg EBook of Pride and Prejudice, by Jane Austen", endMarker},
		{"End of Project Gutenberg’s Alice’s Adventures in Wonderland", endMarker},
		{"END OF PROJECT GUTENBERG", endMarker},
		{"*** START OF A PROJECT GUTENBERG", noMarker},
		{"** START OF THE PROJECT GUTENBERG", noMarker},
		{"*** START OF THE PROJECT", noMarker},
		{"The end of the Project Gutenberg EBook", noMarker},
		{"End of this Project Gutenberg EBook", noMarker},
		{"Produced by Project Gutenberg volunteers", noMarker},
		{"", noMarker},
	} {
		if got := matchMarker([]byte(c.line)); got != c.want {
			t.Errorf("matchMarker(%q) = %d, want %d", c.line, got, c.want)
		}
	}
}

func TestGutenbergStripRules(t *testing.T) {
	filler := func(lines int, eol string) string {
		return strings.Repeat("filler text line"+eol, lines)
	}
	const start = "*** START OF THE PROJECT GUTENBERG EBOOK X ***"
	const end = "*** END OF THE PROJECT GUTENBERG EBOOK X ***"
	cases := []struct {
		name, text, want string
	}{
		{"no markers", "just text\nmore\n", "just text\nmore\n"},
		{"header and licence", "header\r\n" + start + "\r\nbody\r\n" + end + "\r\nlicence\r\n", "body\r\n"},
		{"CR line ends", "header\r" + start + "\rbody\r" + end + "\rlicence", "body\r"},
		{"End of line", "h\n" + start + "\nbody\nEnd of the Project Gutenberg EBook\n\n" + end + "\nlicence", "body\n"},
		{"END without START", "body\n" + end + "\nlicence\n", "body\n"},
		{"START at the end", "header\n" + start, ""},
		{"START without line end, then nothing", start, ""},
		{"second book resumes after START", start + "\nbook one\n" + end + "\nlicence\n" + start + "\r\nbook two\n" + end + "\nlicence",
			"book one\nbook two\n"},
		{"a START inside the body is kept", start + "\nbody\n" + start + "\nmore\n", "body\n" + start + "\nmore\n"},
		{"marker in the middle of a line", "a *** START OF THE PROJECT GUTENBERG\nb\n", "a *** START OF THE PROJECT GUTENBERG\nb\n"},
		{"START on the last line of the window", filler(GutenbergWindowLines-1, "\r\n") + start + "\r\nbody", "body"},
		{"START just after the window", filler(GutenbergWindowLines, "\r\n") + start + "\r\nbody\r\n" + end + "\r\nlicence",
			filler(GutenbergWindowLines, "\r\n") + start + "\r\nbody\r\n"},
		{"START after a window of long lines", strings.Repeat(strings.Repeat("x", 1000)+"\n", 300) + start + "\nbody\n",
			strings.Repeat(strings.Repeat("x", 1000)+"\n", 300) + start + "\nbody\n"},
		{"one long line before START", strings.Repeat("y", GutenbergWindowBytes+readBufSize+10) + "\n" + start + "\nbody\n",
			strings.Repeat("y", GutenbergWindowBytes+readBufSize+10) + "\n" + start + "\nbody\n"},
	}
	for _, c := range cases {
		if got := stripReference(c.text); got != c.want {
			t.Errorf("%s: reference gives %.200q, want %.200q", c.name, got, c.want)
		}
		checkStrip(t, c.name, c.text)
	}
}

func TestGutenbergBooks(t *testing.T) {
	for _, name := range []string{"pride-and-prejudice_1342-0.txt", "alice-in-wonderland_11-0.txt"} {
		data := readTestdata(t, name)
		text := strings.TrimPrefix(string(data), "\ufeff")
		checkStrip(t, name, text)
		// The stripped text is the part of the book between the markers:
		// one piece of it, at least 80% of it, and Gutenberg is not mentioned.
		got := stripReference(text)
		if !strings.Contains(text, got) || len(got) < len(text)*8/10 {
			t.Errorf("%s: the body is not an 80%% piece of the book (%d of %d bytes)", name, len(got), len(text))
		}
		if strings.Contains(strings.ToLower(got), "gutenberg") {
			t.Errorf("%s: the stripped text still mentions Gutenberg", name)
		}
	}
}

func TestGutenbergPrideAndPrejudice(t *testing.T) {
	data := readTestdata(t, "pride-and-prejudice_1342-0.txt")
	stripped := scanAll(t, bytes.NewReader(data), Options{})
	kept := scanAll(t, bytes.NewReader(data), Options{KeepGutenberg: true})

	if slices.Contains(flatten(stripped), "gutenberg") {
		t.Error(`"gutenberg" is a token after stripping`)
	}
	if !slices.Contains(flatten(kept), "gutenberg") {
		t.Error(`"gutenberg" is not a token with KeepGutenberg`)
	}
	wantFirst := [][]string{
		{"produced", "by", "anonymous", "volunteers"},
		{"pride", "and", "prejudice"},
		{"by", "jane", "austen"},
		{"chapter", "1"},
		{"it", "is", "a", "truth", "universally", "acknowledged", "that", "a", "single", "man", "in",
			"possession", "of", "a", "good", "fortune", "must", "be", "in", "want", "of", "a", "wife"},
	}
	if !reflect.DeepEqual(stripped[:len(wantFirst)], wantFirst) {
		t.Errorf("first sentences:\n got %q\nwant %q", stripped[:len(wantFirst)], wantFirst)
	}
	last := stripped[len(stripped)-1]
	if got := last[len(last)-4:]; !reflect.DeepEqual(got, []string{"means", "of", "uniting", "them"}) {
		t.Errorf("last tokens %q, want the last words of the novel", got)
	}
	if !reflect.DeepEqual(kept[0][:4], []string{"the", "project", "gutenberg", "ebook"}) {
		t.Errorf("with KeepGutenberg the first tokens are %q", kept[0][:4])
	}
	// Stripping removes the header and the licence, and nothing else.
	body := stripReference(strings.TrimPrefix(string(data), "\ufeff"))
	if want := scanAll(t, strings.NewReader(body), Options{KeepGutenberg: true}); !reflect.DeepEqual(stripped, want) {
		t.Error("the stripped book does not tokenise like its body")
	}
	// Whitespace mode strips too, and keeps case and punctuation.
	ws := scanAll(t, bytes.NewReader(data), Options{Mode: Whitespace})
	if want := []string{"Produced", "by", "Anonymous", "Volunteers"}; !reflect.DeepEqual(ws[0], want) {
		t.Errorf("whitespace mode: first line %q, want %q", ws[0], want)
	}
	for _, tok := range flatten(ws) {
		if strings.Contains(strings.ToLower(tok), "gutenberg") {
			t.Fatalf("whitespace mode: token %q after stripping", tok)
		}
	}
	t.Logf("Pride and Prejudice: %d sentences and %d tokens stripped, %d and %d kept",
		len(stripped), len(flatten(stripped)), len(kept), len(flatten(kept)))
}

func TestGutenbergAlice(t *testing.T) {
	data := readTestdata(t, "alice-in-wonderland_11-0.txt")
	got := scanAll(t, bytes.NewReader(data), Options{})
	want := [][]string{
		{"alice's", "adventures", "in", "wonderland"},
		{"lewis", "carroll"},
		{"the", "millennium", "fulcrum", "edition", "3", "0"},
	}
	if !reflect.DeepEqual(got[:3], want) {
		t.Errorf("first sentences:\n got %q\nwant %q", got[:3], want)
	}
	if last := got[len(got)-1]; !reflect.DeepEqual(last, []string{"the", "end"}) {
		t.Errorf("last sentence %q, want [the end]", last)
	}
	if slices.Contains(flatten(got), "gutenberg") {
		t.Error(`"gutenberg" is a token after stripping`)
	}
}
