package http

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestDeadlines: a client that stalls mid-body is cut after the idle
// time; a response that keeps moving for several idle times is not cut;
// a handler that works longer than the idle time after reading its body
// is not cancelled (net/http's background read must not see a lapsed
// read deadline); and a kept-alive connection's next request gets fresh
// deadlines.
func TestDeadlines(t *testing.T) {
	const idle = 300 * time.Millisecond
	mux := http.NewServeMux()
	mux.HandleFunc("POST /body", func(w http.ResponseWriter, r *http.Request) {
		_, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			t.Error("a handler working after its body was read was cancelled")
		case <-time.After(3 * idle):
		}
		io.WriteString(w, "done")
	})
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i < 12; i++ { // 12 x idle/2 = 6 idle times in all
			fmt.Fprintf(w, "line %d\n", i)
			w.(http.Flusher).Flush()
			time.Sleep(idle / 2)
		}
	})
	srv := httptest.NewUnstartedServer(Deadlines(mux, idle))
	srv.Config.ReadHeaderTimeout = time.Second
	srv.Start()
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")

	// Stalled body: the server closes the connection.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\nabc")
	start := time.Now()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	io.ReadAll(c)
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("a stalled body was not cut (%s)", el)
	}

	// Slow handler after a complete body, twice on one connection.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	br := bufio.NewReader(c2)
	for i := range 2 {
		fmt.Fprintf(c2, "POST /body HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		if string(b) != "done" {
			t.Fatalf("request %d: %q", i, b)
		}
		time.Sleep(2 * idle) // idle between requests: next one must still work
	}

	// A long response that keeps moving.
	resp, err := http.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || strings.Count(string(b), "\n") != 12 {
		t.Fatalf("stream: %d lines, %v", strings.Count(string(b), "\n"), err)
	}
}
