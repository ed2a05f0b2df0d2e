package fetch

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"strings"
	"unicode/utf8"

	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/transform"
)

// sniffLen is how many bytes of the content Fetch looks at before it returns.
const sniffLen = 4096

var gzipMagic = []byte{0x1f, 0x8b}

// mediaType splits a Content-Type header into its lower-case media type
// and its parameters; a malformed header keeps what precedes ";".
func mediaType(header string) (string, map[string]string) {
	if header == "" {
		return "", nil
	}
	mt, params, err := mime.ParseMediaType(header)
	if err != nil {
		mt, _, _ = strings.Cut(header, ";")
		return strings.ToLower(strings.TrimSpace(mt)), nil
	}
	return mt, params
}

// mayBeGzip reports whether a body of media type mt is gunzipped when it
// starts with the gzip magic number: a .gz file served as such, as
// application/octet-stream, without a type, or under a text type by a
// misconfigured server (text never starts with byte 0x1f).
func mayBeGzip(mt string) bool {
	switch mt {
	case "application/gzip", "application/x-gzip", "application/octet-stream", "":
		return true
	}
	return strings.HasPrefix(mt, "text/")
}

// mustSniff reports whether the content of a body of media type mt decides
// whether it is text.
func mustSniff(mt string) bool {
	switch mt {
	case "application/gzip", "application/x-gzip", "application/octet-stream", "":
		return true
	}
	return false
}

// sniff returns the media type and charset http.DetectContentType sees in
// head, and whether that is text.
func sniff(head []byte) (mt, charset string, text bool) {
	mt, params := mediaType(http.DetectContentType(head))
	return mt, params["charset"], strings.HasPrefix(mt, "text/")
}

// bomCharset returns the charset a byte order mark at the start of head
// announces, or "".
func bomCharset(head []byte) string {
	switch {
	case bytes.HasPrefix(head, []byte("\xef\xbb\xbf")):
		return "utf-8"
	case bytes.HasPrefix(head, []byte("\xfe\xff")):
		return "utf-16be"
	case bytes.HasPrefix(head, []byte("\xff\xfe")):
		return "utf-16le"
	}
	return ""
}

// guessCharset is the charset of a text served without one: UTF-8 if head
// is valid UTF-8 (a character cut at its end excepted when more follows),
// else windows-1252, the superset of Latin-1 that browsers use.
func guessCharset(head []byte, atEOF bool) string {
	if !atEOF {
		// Drop a character cut by the end of head.
		for i := len(head) - 1; i >= 0 && i >= len(head)-utf8.UTFMax; i-- {
			if utf8.RuneStart(head[i]) {
				if !utf8.FullRune(head[i:]) {
					head = head[:i]
				}
				break
			}
		}
	}
	if utf8.Valid(head) {
		return "utf-8"
	}
	return "windows-1252"
}

// decoder returns a reader of r converted from charset label to UTF-8, and
// the charset's canonical WHATWG name ("utf-8", "windows-1252",
// "iso-8859-2", ...). UTF-8 passes through unchanged, byte order mark and
// invalid bytes included.
func decoder(r io.Reader, label string) (io.Reader, string, error) {
	enc, err := htmlindex.Get(label)
	if err != nil {
		return nil, "", &decodeError{what: "unknown charset " + label, err: err}
	}
	name, err := htmlindex.Name(enc)
	if err != nil {
		name = strings.ToLower(label)
	}
	if name == "utf-8" {
		return r, name, nil
	}
	return transform.NewReader(r, enc.NewDecoder()), name, nil
}

// limitReader returns at most n bytes of r and then, if r has more, the
// error made by tooLarge; errors are sticky.
type limitReader struct {
	r        io.Reader
	n        int64 // bytes still allowed
	tooLarge func() error
	err      error
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1] // one byte more than allowed tells whether there is more
	}
	n, err := l.r.Read(p)
	if int64(n) > l.n {
		n = int(l.n)
		l.n = 0
		l.err = l.tooLarge()
		return n, l.err
	}
	l.n -= int64(n)
	if err != nil {
		l.err = err
	}
	return n, err
}
