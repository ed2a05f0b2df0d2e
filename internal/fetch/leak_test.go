package fetch

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dnsServer is a small real DNS server on 127.0.0.1 (UDP), so that tests
// resolve names without any traffic beyond this machine: names ending in
// ".invalid" get NXDOMAIN, "flaky.invalid" SERVFAIL, every other name the
// address 127.0.0.1 (A) and no AAAA record.
func dnsServer(t *testing.T) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			if resp := dnsAnswer(buf[:n]); resp != nil {
				pc.WriteTo(resp, from)
			}
		}
	}()
	return pc.LocalAddr().String()
}

func dnsAnswer(q []byte) []byte {
	if len(q) < 12 {
		return nil
	}
	// The question: labels up to the root, then type and class.
	i, name := 12, ""
	for i < len(q) && q[i] != 0 {
		l := int(q[i])
		if i+1+l > len(q) {
			return nil
		}
		name += string(q[i+1:i+1+l]) + "."
		i += 1 + l
	}
	if i+5 > len(q) {
		return nil
	}
	question := q[12 : i+5]
	qtype := binary.BigEndian.Uint16(q[i+1:])
	name = strings.ToLower(name)

	rcode, answers := byte(0), 0
	switch {
	case name == "flaky.invalid.":
		rcode = 2 // SERVFAIL
	case strings.HasSuffix(name, ".invalid."):
		rcode = 3 // NXDOMAIN
	case qtype == 1: // A
		answers = 1
	}
	resp := []byte{q[0], q[1], 0x80 | q[2]&0x01, 0x80 | rcode, 0, 1, 0, byte(answers), 0, 0, 0, 0}
	resp = append(resp, question...)
	if answers == 1 {
		resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1)
	}
	return resp
}

// testResolver resolves through dnsServer.
func testResolver(t *testing.T) *net.Resolver {
	addr := dnsServer(t)
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

// resetServer accepts connections on 127.0.0.1 and resets each (a TCP
// RST) after reading the request and writing head.
func resetServer(t *testing.T, head string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				c.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				var req []byte
				for !strings.Contains(string(req), "\r\n\r\n") {
					n, err := c.Read(buf)
					req = append(req, buf[:n]...)
					if err != nil {
						break
					}
				}
				io.WriteString(c, head)
				time.Sleep(50 * time.Millisecond) // lets the client read what was written
				c.(*net.TCPConn).SetLinger(0)     // Close sends RST
				c.Close()
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

var (
	leakedAddr = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}\b|\[[0-9A-Fa-f:.%]+\]|::1\b|->`)
	leakedPath = regexp.MustCompile(`(^|[\s("'=])/[\w.]|/tmp`)
)

// The reasons shown to users never show what the server's network looks
// like: what host names resolve to, the name server's address, the local
// ends of connections.
func TestFailureReasonsDoNotLeak(t *testing.T) {
	resolver := testResolver(t)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closedPort, _ := net.SplitHostPort(closed.Addr().String())
	closed.Close()
	resetBefore := resetServer(t, "")
	resetDuring := resetServer(t, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n"+strings.Repeat("word ", 2000))

	for _, c := range []struct {
		name         string
		allowPrivate bool
		url          string
		kind         Kind
		want         string // in the message
		detail       func(error) bool
	}{
		{"no such host", true, "http://books.invalid/pg1342.txt", KindDNS,
			"fetching http://books.invalid/pg1342.txt: could not find the host books.invalid (no such host)",
			func(err error) bool { var d *net.DNSError; return errors.As(err, &d) && d.Server != "" }},
		{"name server failure", true, "http://flaky.invalid/pg1342.txt", KindDNS,
			"fetching http://flaky.invalid/pg1342.txt: could not find the host flaky.invalid (server misbehaving)",
			func(err error) bool { var d *net.DNSError; return errors.As(err, &d) && d.Server != "" }},
		{"private by name", false, "http://wiki.corp.test/secret.txt", KindPrivateAddress,
			"fetching http://wiki.corp.test/secret.txt: resolves to a private address; private addresses are refused unless the server runs with --allow-private-urls",
			func(err error) bool { var p *privateAddressError; return errors.As(err, &p) && p.addr == "127.0.0.1" }},
		{"private: localhost", false, "http://localhost:" + closedPort + "/", KindPrivateAddress,
			"resolves to a private address; private addresses are refused",
			nil},
		{"connection refused", true, "http://closed.test:" + closedPort + "/book.txt", KindConnect,
			"fetching http://closed.test:" + closedPort + "/book.txt: could not connect: connection refused",
			func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) }},
		{"reset before the answer", true, "http://reset.test:" + resetBefore + "/book.txt", KindConnect,
			"connection reset by peer",
			func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }},
		{"reset while reading", true, "http://reset.test:" + resetDuring + "/book.txt", KindRead,
			"fetching http://reset.test:" + resetDuring + "/book.txt: the connection failed while reading: connection reset by peer",
			func(err error) bool { return errors.Is(err, syscall.ECONNRESET) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := New(Options{AllowPrivate: c.allowPrivate, Retries: -1, Timeout: 10 * time.Second})
			f.dialer.Resolver = resolver
			defer f.CloseIdleConnections()
			b, err := f.Fetch(context.Background(), c.url)
			if err == nil {
				_, err = io.ReadAll(b)
				b.Close()
			}
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			t.Log(msg)
			if k := KindOf(err); k != c.kind {
				t.Errorf("kind %s, want %s (%s)", k, c.kind, msg)
			}
			if !strings.Contains(msg, c.want) {
				t.Errorf("message %q, want one with %q", msg, c.want)
			}
			if m := leakedAddr.FindString(msg); m != "" {
				t.Errorf("message %q shows an address (%q)", msg, m)
			}
			if m := leakedPath.FindString(msg); m != "" {
				t.Errorf("message %q shows a path (%q)", msg, m)
			}
			if c.detail != nil && !c.detail(err) {
				t.Errorf("the error %#v lost the detail logs need", err)
			}
		})
	}
}

func TestStripAddrs(t *testing.T) {
	for in, want := range map[string]string{
		"dial tcp 127.0.0.1:54321->1.2.3.4:80: i/o timeout":        "dial tcp (address)->(address): i/o timeout",
		"read tcp [::1]:1234->[fe80::1%eth0]:80: connection reset": "read tcp (address)->(address): connection reset",
		"lookup x on 10.0.0.2:53: no such host":                    "lookup x on (address): no such host",
		"dial udp 2001:db8::53: network is unreachable":            "dial udp (address): network is unreachable",
		"no such host": "no such host",
		"certificate is valid for a.example, not b.example": "certificate is valid for a.example, not b.example",
	} {
		if got := stripAddrs(in); got != want {
			t.Errorf("stripAddrs(%q) = %q, want %q", in, got, want)
		}
	}
}
