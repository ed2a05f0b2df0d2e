package http

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ophicleide/ophicleide"
)

// rateAPI is the API behind the rate limiter, with a clock the test
// moves, and requests whose principal the test names (the role of the
// authentication middleware).
type rateAPI struct {
	t   *testing.T
	lim *limiter
	h   http.Handler
	mu  sync.Mutex
	at  time.Time
}

func newRateAPI(t *testing.T, cfg RateLimits) *rateAPI {
	t.Helper()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	mem := newMemService()
	s := NewServer(mem, mem, slog.New(slog.NewTextHandler(io.Discard, nil)), "test")
	a := &rateAPI{t: t, lim: newLimiter(cfg), at: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	a.lim.now = func() time.Time {
		a.mu.Lock()
		defer a.mu.Unlock()
		return a.at
	}
	a.h = s.limitWith(a.lim)(s)
	return a
}

func (a *rateAPI) advance(d time.Duration) {
	a.mu.Lock()
	a.at = a.at.Add(d)
	a.mu.Unlock()
}

// as is who sends a request: a key's name, an anonymous address ("-"
// for none), or the process (open server); from remote, if set.
type as struct {
	key, anon, remote string
}

func (a *rateAPI) send(who as, method, path string) *httptest.ResponseRecorder {
	var body io.Reader
	if method == "POST" {
		body = strings.NewReader(`{"model": "m", "word": "w"}`)
	}
	r := httptest.NewRequest(method, path, body)
	if body != nil {
		r.Header.Set("Content-Type", "application/json")
	}
	r.RemoteAddr = "192.0.2.200:40000"
	if who.remote != "" {
		r.RemoteAddr = who.remote
	}
	switch {
	case who.key != "":
		r = r.WithContext(ophicleide.WithPrincipal(r.Context(), ophicleide.Principal{Name: who.key, Role: ophicleide.RoleWrite, Addr: r.RemoteAddr}))
	case who.anon != "":
		addr := strings.TrimPrefix(who.anon, "-") // "-": no Addr
		r = r.WithContext(ophicleide.WithPrincipal(r.Context(), ophicleide.Principal{Role: ophicleide.RoleRead, Anonymous: true, Addr: addr}))
	}
	w := httptest.NewRecorder()
	a.h.ServeHTTP(w, r)
	return w
}

// passes sends n requests that must all pass the limiter.
func (a *rateAPI) passes(who as, method, path string, n int) {
	a.t.Helper()
	for i := range n {
		if w := a.send(who, method, path); w.Code == http.StatusTooManyRequests {
			a.t.Fatalf("%+v %s %s, request %d of %d: 429 %s", who, method, path, i+1, n, w.Body)
		}
	}
}

// refused checks that the next request is a 429 with Retry-After
// retry and details containing words, and returns the details.
func (a *rateAPI) refused(who as, method, path, retry string, words ...string) string {
	a.t.Helper()
	w := a.send(who, method, path)
	var got struct {
		Errors []apiError `json:"errors"`
	}
	json.Unmarshal(w.Body.Bytes(), &got)
	if w.Code != http.StatusTooManyRequests || len(got.Errors) != 1 || got.Errors[0].Status != 429 {
		a.t.Fatalf("%+v %s %s: %d %s; want 429 with an error body", who, method, path, w.Code, w.Body)
	}
	if h := w.Header().Get("Retry-After"); h != retry {
		a.t.Errorf("%+v %s %s: Retry-After %q, want %q", who, method, path, h, retry)
	}
	for _, word := range words {
		if !strings.Contains(got.Errors[0].Details, word) {
			a.t.Errorf("%+v %s %s: details %q, want %q in them", who, method, path, got.Errors[0].Details, word)
		}
	}
	return got.Errors[0].Details
}

var defaultRates = RateLimits{Read: Rate{50, 100}, Write: Rate{2, 10}}

func TestRateLimitBurstThen429(t *testing.T) {
	a := newRateAPI(t, defaultRates)
	alice := as{key: "alice"}
	a.passes(alice, "GET", "/models", 100)
	msg := a.refused(alice, "GET", "/models", "1", "too many requests for this key: 50 per second", "bursts of 100", "try again in 1s")
	t.Log(msg)
	a.refused(alice, "GET", "/api/models", "1") // a refusal takes no token: still 429, still 1 s
	a.advance(20 * time.Millisecond)            // one token at 50/s
	a.passes(alice, "GET", "/models", 1)
	a.refused(alice, "GET", "/models", "1")
	a.advance(2 * time.Second) // full again
	a.passes(alice, "GET", "/models", 100)
	a.refused(alice, "GET", "/models", "1")
}

func TestRateLimitRetryAfterRoundsUp(t *testing.T) {
	a := newRateAPI(t, RateLimits{Read: Rate{0.25, 1}})
	a.passes(as{key: "k"}, "GET", "/models", 1)
	a.refused(as{key: "k"}, "GET", "/models", "4", "0.25 per second", "try again in 4s")
	a.advance(2500 * time.Millisecond) // 1.5 s to go: 2
	a.refused(as{key: "k"}, "GET", "/models", "2", "try again in 2s")
	a.advance(1400 * time.Millisecond) // 0.1 s to go: at least 1
	a.refused(as{key: "k"}, "GET", "/models", "1")
}

func TestRateLimitWritesStricterThanReads(t *testing.T) {
	a := newRateAPI(t, defaultRates)
	bob := as{key: "bob"}
	a.passes(bob, "POST", "/models", 10)
	a.refused(bob, "POST", "/models", "1", "too many writes for this key: 2 per second", "bursts of 10")
	a.refused(bob, "DELETE", someModel, "1")
	a.refused(bob, "POST", "/api/models/import?name=x", "1")
	// Reads have their own bucket, and POST /queries and the batch
	// vectors POST are reads.
	a.passes(bob, "GET", "/models", 50)
	a.passes(bob, "POST", "/api"+someModel+"/vectors", 1)
	a.passes(bob, "POST", "/queries", 49)
	a.refused(bob, "POST", "/api/queries", "1", "too many requests")
	a.advance(500 * time.Millisecond) // one write token at 2/s
	a.passes(bob, "DELETE", someModel, 1)
	a.refused(bob, "POST", "/models", "1")
}

func TestRateLimitPerKey(t *testing.T) {
	a := newRateAPI(t, defaultRates)
	a.passes(as{key: "flood"}, "GET", "/models", 100)
	a.passes(as{key: "flood"}, "POST", "/models", 10)
	a.refused(as{key: "flood"}, "GET", "/models", "1")
	a.refused(as{key: "flood"}, "POST", "/models", "1")
	// Another key, from the same address, is not limited by the flood.
	a.passes(as{key: "calm"}, "GET", "/models", 100)
	a.passes(as{key: "calm"}, "POST", "/models", 10)
	// One key from several addresses is one caller.
	a.refused(as{key: "flood", remote: "198.51.100.7:1"}, "GET", "/models", "1")
}

func TestRateLimitAnonymousPerAddress(t *testing.T) {
	a := newRateAPI(t, defaultRates)
	a.passes(as{anon: "192.0.2.1:1000"}, "GET", "/models", 100)
	a.refused(as{anon: "192.0.2.1:2000"}, "GET", "/models", "1", "too many requests from this address")
	a.passes(as{anon: "192.0.2.2:1000"}, "GET", "/models", 100)
	// An IPv6 host is its /64; IPv4-mapped addresses are IPv4.
	a.passes(as{anon: "[2001:db8:1:2::1]:1"}, "GET", "/models", 100)
	a.refused(as{anon: "[2001:db8:1:2:ffff::9]:2"}, "GET", "/models", "1")
	a.passes(as{anon: "[2001:db8:1:3::1]:1"}, "GET", "/models", 1)
	a.refused(as{anon: "[::ffff:192.0.2.1]:3"}, "GET", "/models", "1")
	// Without Principal.Addr, the connection's address.
	a.refused(as{anon: "-", remote: "192.0.2.1:4"}, "GET", "/models", "1")
	// A key named like an address is not that address.
	a.passes(as{key: "192.0.2.1"}, "GET", "/models", 100)
}

func TestRateLimitOpenServer(t *testing.T) {
	// An open loopback server (no principal): not limited.
	a := newRateAPI(t, defaultRates)
	a.passes(as{}, "POST", "/models", 200)
	a.passes(as{}, "GET", "/models", 500)
	// LimitOpen (an open server on a shared address): per address.
	cfg := defaultRates
	cfg.LimitOpen = true
	a = newRateAPI(t, cfg)
	a.passes(as{remote: "192.0.2.1:1"}, "POST", "/models", 10)
	a.refused(as{remote: "192.0.2.1:2"}, "POST", "/models", "1", "too many writes from this address")
	a.passes(as{remote: "192.0.2.2:1"}, "POST", "/models", 10)
}

func TestRateLimitProbesUnlimited(t *testing.T) {
	cfg := defaultRates
	cfg.LimitOpen = true
	a := newRateAPI(t, cfg)
	for _, who := range []as{{key: "k"}, {anon: "192.0.2.9:1"}, {remote: "192.0.2.8:1"}} {
		a.passes(who, "GET", "/models", 100)
		a.refused(who, "GET", "/models", "1")
		for _, p := range []string{"/healthz", "/readyz", "/api/healthz", "/api/readyz"} {
			for range 200 {
				if w := a.send(who, "GET", p); w.Code != http.StatusOK {
					t.Fatalf("%+v GET %s after the burst: %d %s", who, p, w.Code, w.Body)
				}
			}
		}
	}
}

func TestRateLimitMemoryBounded(t *testing.T) {
	cfg := defaultRates
	cfg.MaxCallers = 100
	a := newRateAPI(t, cfg)
	// A flood of addresses keeps at most MaxCallers.
	for i := range 5000 {
		a.passes(as{anon: fmt.Sprintf("10.%d.%d.%d:1", i>>16, (i>>8)&255, i&255)}, "GET", "/models", 1)
		if n := a.lim.callers(); n > 100 {
			t.Fatalf("after %d addresses: %d callers kept, want at most 100", i+1, n)
		}
	}
	// The most recent callers are kept: the last address's bucket
	// still counts its request.
	last := as{anon: "10.0.19.135:1"} // i = 4999
	a.passes(last, "GET", "/models", 99)
	a.refused(last, "GET", "/models", "1")
	// Callers unused for Idle are dropped.
	a.advance(defaultRateIdle - time.Second)
	a.passes(as{key: "fresh"}, "GET", "/models", 1)
	if n := a.lim.callers(); n != 100 {
		t.Errorf("before the idle time: %d callers, want 100", n)
	}
	a.advance(2 * time.Second)
	a.passes(as{key: "other"}, "GET", "/models", 1)
	if n := a.lim.callers(); n != 2 {
		t.Errorf("after the idle time: %d callers, want 2 (fresh, other)", n)
	}
}

func TestRateLimitIdleNotBelowRefill(t *testing.T) {
	// A bucket that takes 20 minutes to fill is kept 20 minutes.
	l := newLimiter(RateLimits{Write: Rate{0.01, 12}, Idle: time.Minute})
	if l.idle != 20*time.Minute {
		t.Errorf("idle %v, want 20m", l.idle)
	}
}

func TestRateLimitDisabled(t *testing.T) {
	a := newRateAPI(t, RateLimits{})
	a.passes(as{key: "k"}, "POST", "/models", 100)
	a.passes(as{key: "k"}, "GET", "/models", 1000)
	if n := a.lim.callers(); n != 0 {
		t.Errorf("%d callers kept with no limits", n)
	}
	// Writes only: reads pass.
	a = newRateAPI(t, RateLimits{Write: Rate{1, 1}})
	a.passes(as{key: "k"}, "GET", "/models", 1000)
	a.passes(as{key: "k"}, "POST", "/models", 1)
	a.refused(as{key: "k"}, "POST", "/models", "1")
}

func TestRateLimitsValidate(t *testing.T) {
	for _, c := range []RateLimits{
		{Read: Rate{-1, 10}},
		{Read: Rate{10, 0}},
		{Write: Rate{1, -1}},
	} {
		if err := c.Validate(); err == nil {
			t.Errorf("%+v: no error", c)
		}
	}
	for _, c := range []RateLimits{{}, {Read: Rate{0, 0}, Write: Rate{0.5, 1}}, defaultRates} {
		if err := c.Validate(); err != nil {
			t.Errorf("%+v: %v", c, err)
		}
	}
}

// TestRateLimitConcurrent: callers in parallel, under -race; exactly the
// burst passes for one key however the requests interleave.
func TestRateLimitConcurrent(t *testing.T) {
	a := newRateAPI(t, defaultRates)
	var mu sync.Mutex
	passed := map[string]int{}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			key := fmt.Sprintf("k%d", g%2)
			for range 100 {
				if w := a.send(as{key: key}, "GET", "/models"); w.Code != http.StatusTooManyRequests {
					mu.Lock()
					passed[key]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if passed["k0"] != 100 || passed["k1"] != 100 {
		t.Errorf("passed %v, want 100 each (the burst)", passed)
	}
}

// BenchmarkRateLimit is the limiter's own cost per request (a key's
// bucket, never refusing), one key for all goroutines and one key each.
func BenchmarkRateLimit(b *testing.B) {
	l := newLimiter(RateLimits{Read: Rate{1e9, 1e9}, Write: Rate{1e9, 1e9}})
	for _, keys := range []int{1, 1000} {
		b.Run(fmt.Sprintf("keys=%d", keys), func(b *testing.B) {
			reqs := make([]*http.Request, keys)
			for i := range reqs {
				r := httptest.NewRequest("POST", "/queries", nil)
				reqs[i] = r.WithContext(ophicleide.WithPrincipal(r.Context(), ophicleide.Principal{Name: fmt.Sprintf("k%d", i), Role: ophicleide.RoleRead}))
			}
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if err := l.allow(reqs[i%keys]); err != nil {
						b.Fatal(err)
					}
					i++
				}
			})
		})
	}
}
