package corpus

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/ophicleide/ophicleide/internal/tokenize"
)

func text(name, s string) Source {
	return Source{Name: name, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(strings.NewReader(s)), nil
	}}
}

func gz(t *testing.T, name, s string) Source {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	zw.Write([]byte(s))
	zw.Close()
	return Source{Name: name, Open: func(context.Context) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b.Bytes())), nil
	}}
}

func readAll(t *testing.T, r *Reader) []string {
	t.Helper()
	var out []string
	for r.Scan() {
		var toks []string
		for _, tok := range r.Sentence() {
			toks = append(toks, string(tok))
		}
		out = append(out, strings.Join(toks, " "))
	}
	return out
}

func TestChainsSourcesWithStats(t *testing.T) {
	r := New(context.Background(), []Source{
		text("a.txt", "One two three.\n\nFour five."),
		gz(t, "b.txt.gz", "Six seven"),
		text("empty.txt", ""),
	}, tokenize.Options{})
	got := readAll(t, r)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	want := []string{"one two three", "four five", "six seven"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("sentences %q, want %q", got, want)
	}
	st := r.Stats()
	if len(st) != 3 || st[0] != (SourceStats{"a.txt", 26, 5}) || st[1] != (SourceStats{"b.txt.gz", 9, 2}) || st[2] != (SourceStats{"empty.txt", 0, 0}) {
		t.Fatalf("stats %+v", st)
	}
	if r.Bytes() != 35 {
		t.Fatalf("Bytes() = %d", r.Bytes())
	}
}

func TestErrorsNameTheSource(t *testing.T) {
	boom := errors.New("connection reset")
	for _, c := range []struct {
		src  Source
		want string
	}{
		{Source{Name: "http://x/y", Open: func(context.Context) (io.ReadCloser, error) { return nil, boom }}, "http://x/y: connection reset"},
		{Source{Name: "broken.txt", Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(iotest.TimeoutReader(strings.NewReader(strings.Repeat("word ", 100000)))), nil
		}}, "broken.txt"},
		{Source{Name: "bad.gz", Open: func(context.Context) (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0})), nil
		}}, "bad.gz"},
	} {
		r := New(context.Background(), []Source{text("ok.txt", "fine words"), c.src}, tokenize.Options{})
		readAll(t, r)
		if err := r.Err(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error naming %q", err, c.want)
		}
		r.Close()
	}
}

func TestCancelledContextStopsBeforeOpening(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	opened := false
	r := New(ctx, []Source{{Name: "x", Open: func(context.Context) (io.ReadCloser, error) {
		opened = true
		return io.NopCloser(strings.NewReader("a")), nil
	}}}, tokenize.Options{})
	if r.Scan() || !errors.Is(r.Err(), context.Canceled) || opened {
		t.Fatalf("scan after cancel: err %v, opened %v", r.Err(), opened)
	}
}
