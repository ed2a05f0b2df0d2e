package fetch

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

func TestRefused(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		refused bool
	}{
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"10.0.0.5", true},
		{"172.16.0.1", true},
		{"172.31.255.255", true},
		{"192.168.1.1", true},
		{"169.254.169.254", true}, // cloud metadata
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"255.255.255.255", true},
		{"198.18.0.1", true},
		{"::", true},
		{"::1", true},
		{"fc00::1", true},
		{"fd12:3456::1", true},
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"ff02::1", true},
		{"ff05::2", true},
		{"::ffff:127.0.0.1", true},
		{"::ffff:10.0.0.5", true},
		{"::ffff:169.254.169.254", true},
		{"::10.0.0.5", true},                           // IPv4-compatible
		{"64:ff9b::a00:5", true},                       // NAT64 of 10.0.0.5
		{"64:ff9b::7f00:1", true},                      // NAT64 of 127.0.0.1
		{"192.0.2.1", true},                            // documentation
		{"198.51.100.7", true},                         // documentation
		{"203.0.113.255", true},                        // documentation
		{"::ffff:0:a00:5", true},                       // IPv4-translated 10.0.0.5
		{"::ffff:0:7f00:1", true},                      // IPv4-translated 127.0.0.1
		{"2002:a00:1::1", true},                        // 6to4 of 10.0.0.1
		{"2002:7f00:1::", true},                        // 6to4 of 127.0.0.1
		{"2002:a9fe:a9fe::1", true},                    // 6to4 of 169.254.169.254
		{"2002:808:808::1", true},                      // 6to4 of 8.8.8.8: the whole range is refused
		{"64:ff9b:1::a00:5", true},                     // local-use NAT64 (RFC 8215)
		{"64:ff9b:1:ffff::1", true},                    // local-use NAT64, last of the /48
		{"2001::1", true},                              // Teredo
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", true}, // Teredo, RFC 4380's example
		{"100::1", true},                               // discard-only
		{"100::ffff:ffff:ffff:ffff", true},
		{"2001:db8::1", true}, // documentation
		{"2001:db8:ffff::1", true},
		{"2001:10::1", true}, // ORCHID
		{"2001:1f:ffff::1", true},
		{"2001:20::1", true}, // ORCHIDv2
		{"2001:2f:ffff::1", true},
		{"fec0::1", true}, // site-local
		{"feff:ffff::1", true},
		{"8.8.8.8", false},
		{"192.0.3.1", false},
		{"2003::1", false},          // next to 6to4
		{"2001:1::1", false},        // next to Teredo (a PCP anycast address)
		{"2001:30::1", false},       // after ORCHIDv2
		{"2001:db9::1", false},      // after documentation
		{"100:0:0:1::1", false},     // after discard-only
		{"64:ff9b:2::1", false},     // after local-use NAT64
		{"::ffff:0:808:808", false}, // IPv4-translated 8.8.8.8
		{"fe00::1", false},          // neither link- nor site-local (unallocated, not refused)
		{"100.63.255.255", false},
		{"100.128.0.0", false},
		{"172.32.0.1", false},
		{"152.19.134.47", false}, // gutenberg.org
		{"::ffff:8.8.8.8", false},
		{"64:ff9b::808:808", false},
		{"2001:4860:4860::8888", false},
		{"2606:4700::1111", false},
	} {
		if got := refused(netip.MustParseAddr(tc.addr)); got != tc.refused {
			t.Errorf("refused(%s) = %v, want %v", tc.addr, got, tc.refused)
		}
	}
	if !refused(netip.Addr{}) {
		t.Error("the zero Addr is not refused")
	}
}

func TestCheckDial(t *testing.T) {
	for _, tc := range []struct {
		address string
		ok      bool
	}{
		{"8.8.8.8:80", true},
		{"[2001:4860:4860::8888]:443", true},
		{"127.0.0.1:80", false},
		{"[::1]:80", false},
		{"[fe80::1%eth0]:80", false},
		{"example.org:80", false}, // not an address: fail closed
	} {
		err := checkDial("tcp", tc.address, nil)
		var pe *privateAddressError
		if tc.ok != (err == nil) || (err != nil && !errors.As(err, &pe)) {
			t.Errorf("checkDial(%q) = %v", tc.address, err)
		}
	}
}

// TestRedirectChecked shows that the address check sees the connection of
// a redirect, not only the first one: server a, which the check lets
// through, redirects to server b, which it refuses.
func TestRedirectChecked(t *testing.T) {
	b := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("server b got a request")
	}))
	defer b.Close()
	a := httptest.NewServer(http.RedirectHandler(b.URL+"/book.txt", http.StatusFound))
	defer a.Close()

	f := New(Options{AllowPrivate: true, Backoff: time.Millisecond})
	f.dialer.Control = func(network, address string, c syscall.RawConn) error {
		if address == b.Listener.Addr().String() {
			return &privateAddressError{addr: address}
		}
		return nil
	}
	_, err := f.Fetch(context.Background(), a.URL)
	if KindOf(err) != KindPrivateAddress {
		t.Fatalf("error %v, want kind %s", err, KindPrivateAddress)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		v    string
		want time.Duration
	}{
		{"", 0},
		{"0", 0},
		{"7", 7 * time.Second},
		{" 12 ", 12 * time.Second},
		{"3600", MaxRetryAfter},
		{"-5", 0},
		{"soon", 0},
		{now.Add(10 * time.Second).Format(http.TimeFormat), 10 * time.Second},
		{now.Add(time.Hour).Format(http.TimeFormat), MaxRetryAfter},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0},
	} {
		if got := parseRetryAfter(tc.v, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestBackoff(t *testing.T) {
	f := New(Options{Backoff: 100 * time.Millisecond})
	for attempt, base := range []time.Duration{100, 200, 400, 800} {
		base *= time.Millisecond
		for range 20 {
			if d := f.backoff(attempt + 1); d < base/2 || d >= base*3/2 {
				t.Fatalf("backoff(%d) = %v, want within ±50%% of %v", attempt+1, d, base)
			}
		}
	}
	if d := f.backoff(60); d >= 45*time.Second {
		t.Errorf("backoff(60) = %v, want it capped near 30s", d)
	}
}

func TestGuessCharset(t *testing.T) {
	for _, tc := range []struct {
		head  string
		atEOF bool
		want  string
	}{
		{"plain ascii", true, "utf-8"},
		{"café", true, "utf-8"},
		{"caf\xc3", false, "utf-8"}, // é cut by the end of the sniffed bytes
		{"caf\xc3", true, "windows-1252"},
		{"caf\xe9 au lait", false, "windows-1252"},
	} {
		if got := guessCharset([]byte(tc.head), tc.atEOF); got != tc.want {
			t.Errorf("guessCharset(%q, %v) = %q, want %q", tc.head, tc.atEOF, got, tc.want)
		}
	}
}

func TestLimitReader(t *testing.T) {
	mk := func() error { return errors.New("too large") }
	for _, tc := range []struct {
		n, size int
		fail    bool
	}{{10, 10, false}, {10, 11, true}, {10, 0, false}, {0, 1, true}} {
		l := &limitReader{r: io.LimitReader(zeros{}, int64(tc.size)), n: int64(tc.n), tooLarge: mk}
		data, err := io.ReadAll(l)
		if (err != nil) != tc.fail || len(data) > tc.n {
			t.Errorf("limit %d of %d bytes: read %d, %v", tc.n, tc.size, len(data), err)
		}
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// TestDNSError resolves through a resolver whose server cannot be reached,
// so no query leaves the machine.
func TestDNSError(t *testing.T) {
	f := New(Options{AllowPrivate: true, Retries: -1})
	f.dialer.Resolver = &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, address string) (net.Conn, error) {
			return nil, errors.New("no DNS server in tests")
		},
	}
	_, err := f.Fetch(context.Background(), "http://books.example/pg1342.txt")
	if KindOf(err) != KindDNS {
		t.Fatalf("error %v, want kind %s", err, KindDNS)
	}
	t.Log(err)
}
