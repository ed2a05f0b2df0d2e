package fetch

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestPost(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = r.Method + " " + r.Header.Get("Content-Type") + " " + string(b)
		if r.URL.Path == "/gone" {
			w.WriteHeader(http.StatusGone)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if err := New(Options{}).Post(ctx, srv.URL+"/hook", "application/json", []byte(`{}`)); KindOf(err) != KindPrivateAddress {
		t.Fatalf("a loopback webhook without AllowPrivate: %v", err)
	}
	f := New(Options{AllowPrivate: true})
	if err := f.Post(ctx, srv.URL+"/hook", "application/json", []byte(`{"a":1}`)); err != nil || got != `POST application/json {"a":1}` {
		t.Fatalf("post: %v, server saw %q", err, got)
	}
	if err := f.Post(ctx, srv.URL+"/gone", "application/json", nil); KindOf(err) != KindHTTPStatus {
		t.Fatalf("410: %v", err)
	}
	if err := f.Post(ctx, "ftp://x/y", "application/json", nil); KindOf(err) != KindScheme {
		t.Fatalf("ftp: %v", err)
	}
}
