package http

import (
	"container/list"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ophicleide/ophicleide"
)

// Rate limits per caller: a token bucket (golang.org/x/time/rate) for
// each caller's reads and a stricter one for its writes.
//
// Who a caller is comes from the request's principal (set by the
// authentication middleware, before this one):
//
//   - a key: its name (all clients holding one key share its buckets);
//   - an anonymous --public-read caller: its client address
//     (Principal.Addr, else the connection's), an IPv6 address by its
//     /64, which one host usually holds whole;
//   - the process principal (no principal: a server without keys): not
//     limited, unless RateLimits.LimitOpen, then per client address as
//     for anonymous callers. cmd/ophicleide sets LimitOpen when an open
//     server listens on a non-loopback address (--no-auth): there callers
//     share the server and one must not starve the others. An open server
//     on loopback serves one user, whose scripts, tests and the original
//     front end's proxy (one address for every browser behind it) would
//     be throttled for no one's benefit; it is exempt.
//
// Writes are POST, PUT, PATCH and DELETE, except POST /queries, which is
// the read role's (a query, not a change to models) and counts as a read.
// The probes (/healthz, /readyz) are never limited.
//
// Memory is bounded: a caller's buckets are dropped once unused for Idle
// (a bucket idle that long is full again, so nothing is lost) and, beyond
// MaxCallers, the least recently used caller's are dropped (it starts
// again with full buckets), so a flood of client addresses cannot grow
// the table.

// Rate is one token bucket: PerSecond requests a second on average,
// bursts of up to Burst. A zero PerSecond does not limit.
type Rate struct {
	PerSecond float64
	Burst     int
}

// RateLimits configures Server.RateLimit.
type RateLimits struct {
	Read  Rate // GET, HEAD, OPTIONS and POST /queries
	Write Rate // POST, PUT, PATCH, DELETE but POST /queries
	// LimitOpen limits the process principal (an open server's callers)
	// per client address; otherwise they are not limited.
	LimitOpen bool
	// Idle is how long a caller's unused buckets are kept (0: 10
	// minutes; never less than an empty bucket takes to fill).
	Idle time.Duration
	// MaxCallers bounds the callers whose buckets are kept (0: 10,000,
	// about 3 MB).
	MaxCallers int
}

// Defaults of RateLimits' zero fields.
const (
	defaultRateIdle       = 10 * time.Minute
	defaultRateMaxCallers = 10_000
)

// Validate reports a rate whose burst cannot pass a single request, or a
// negative one.
func (l RateLimits) Validate() error {
	for _, r := range []struct {
		what string
		Rate
	}{{"read", l.Read}, {"write", l.Write}} {
		if r.PerSecond < 0 || math.IsNaN(r.PerSecond) || math.IsInf(r.PerSecond, 0) {
			return fmt.Errorf("the %s rate must be 0 (no limit) or a positive number of requests per second", r.what)
		}
		if r.PerSecond > 0 && r.Burst < 1 {
			return fmt.Errorf("the %s burst must be at least 1 when its rate is set", r.what)
		}
	}
	return nil
}

// callerKey names a caller in the table: a key's name, or a client
// address (or IPv6 /64).
type callerKey struct {
	addr bool
	id   string
}

// callerLimits are one caller's buckets.
type callerLimits struct {
	key         callerKey
	read, write *rate.Limiter // nil: not limited
	used        time.Time
}

// limiter holds the callers' buckets: a map and a list in order of use,
// most recent first.
type limiter struct {
	cfg  RateLimits
	idle time.Duration // Idle, or longer: the time an empty bucket takes to fill
	now  func() time.Time
	mu   sync.Mutex
	byID map[callerKey]*list.Element // of *callerLimits
	lru  *list.List
}

func newLimiter(cfg RateLimits) *limiter {
	if cfg.Idle <= 0 {
		cfg.Idle = defaultRateIdle
	}
	if cfg.MaxCallers <= 0 {
		cfg.MaxCallers = defaultRateMaxCallers
	}
	l := &limiter{cfg: cfg, idle: cfg.Idle, now: time.Now, byID: map[callerKey]*list.Element{}, lru: list.New()}
	for _, r := range []Rate{cfg.Read, cfg.Write} {
		if r.PerSecond > 0 {
			l.idle = max(l.idle, time.Duration(float64(r.Burst)/r.PerSecond*float64(time.Second)))
		}
	}
	return l
}

// RateLimit returns the middleware that limits each caller's requests to
// cfg's rates, for Server.Use (it reads the principal authentication
// put in the request's context). Over a rate it answers 429 (ELIMITED)
// with Retry-After, the whole seconds until the bucket has a token. It
// panics on a cfg that Validate refuses.
func (s *Server) RateLimit(cfg RateLimits) func(http.Handler) http.Handler {
	if err := cfg.Validate(); err != nil {
		panic("http: RateLimit: " + err.Error())
	}
	return s.limitWith(newLimiter(cfg))
}

func (s *Server) limitWith(l *limiter) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		if l.cfg.Read.PerSecond == 0 && l.cfg.Write.PerSecond == 0 {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := l.allow(r); err != nil {
				s.fail(w, r, err) // with Retry-After, from err.RetryAfter
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// allow takes a token from the caller's bucket for r, or returns the
// ELIMITED error that refuses it (no token is then taken).
func (l *limiter) allow(r *http.Request) *ophicleide.Error {
	if isProbe(r.URL.Path) {
		return nil
	}
	key, who, ok := l.caller(r)
	if !ok {
		return nil
	}
	write := isWrite(r)
	rt, what := l.cfg.Read, "requests"
	if write {
		rt, what = l.cfg.Write, "writes"
	}
	if rt.PerSecond == 0 {
		return nil
	}
	now := l.now()
	c := l.get(key, now)
	lim := c.read
	if write {
		lim = c.write
	}
	res := lim.ReserveN(now, 1)
	delay := res.DelayFrom(now)
	if res.OK() && delay == 0 {
		return nil
	}
	res.CancelAt(now) // a refused request takes no token
	secs := max(1, int(math.Ceil(delay.Seconds())))
	if !res.OK() { // cannot happen with Burst >= 1 (Validate)
		secs = max(1, int(math.Ceil(1/rt.PerSecond)))
	}
	return &ophicleide.Error{Code: ophicleide.ELIMITED, RetryAfter: time.Duration(secs) * time.Second,
		Message: fmt.Sprintf("too many %s %s: %s per second (bursts of %d), try again in %ds",
			what, who, strconv.FormatFloat(rt.PerSecond, 'f', -1, 64), rt.Burst, secs)}
}

// caller returns the key of r's caller in the table and how a refusal
// names it; ok is false for a caller that is not limited.
func (l *limiter) caller(r *http.Request) (key callerKey, who string, ok bool) {
	p := ophicleide.PrincipalFrom(r.Context())
	switch {
	case !p.Anonymous && p.Name != "":
		return callerKey{id: p.Name}, "for this key", true
	case p.Anonymous || l.cfg.LimitOpen:
		addr := p.Addr
		if addr == "" {
			addr = r.RemoteAddr
		}
		return callerKey{addr: true, id: clientNet(addr)}, "from this address", true
	}
	return callerKey{}, "", false // the process principal of an open server
}

// clientNet is a client address without its port; an IPv6 address is
// its /64 network.
func clientNet(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		addr = h
	}
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.WithZone("").Prefix(64)
	return p.String()
}

// get returns key's buckets, made if new, marked used at now; it drops
// the callers idle since before now-Idle and those beyond MaxCallers.
func (l *limiter) get(key callerKey, now time.Time) *callerLimits {
	l.mu.Lock()
	defer l.mu.Unlock()
	for e := l.lru.Back(); e != nil && now.Sub(e.Value.(*callerLimits).used) >= l.idle; e = l.lru.Back() {
		l.drop(e)
	}
	if e, ok := l.byID[key]; ok {
		c := e.Value.(*callerLimits)
		c.used = now
		l.lru.MoveToFront(e)
		return c
	}
	for l.lru.Len() >= l.cfg.MaxCallers {
		l.drop(l.lru.Back())
	}
	c := &callerLimits{key: key, used: now}
	if l.cfg.Read.PerSecond > 0 {
		c.read = rate.NewLimiter(rate.Limit(l.cfg.Read.PerSecond), l.cfg.Read.Burst)
	}
	if l.cfg.Write.PerSecond > 0 {
		c.write = rate.NewLimiter(rate.Limit(l.cfg.Write.PerSecond), l.cfg.Write.Burst)
	}
	l.byID[key] = l.lru.PushFront(c)
	return c
}

func (l *limiter) drop(e *list.Element) {
	l.lru.Remove(e)
	delete(l.byID, e.Value.(*callerLimits).key)
}

// callers is how many callers' buckets are kept (for tests).
func (l *limiter) callers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// isProbe reports whether path is a health probe, at the root or under
// /api/.
func isProbe(path string) bool {
	path = strings.TrimPrefix(path, "/api")
	return path == "/healthz" || path == "/readyz"
}

// isWrite reports whether r counts against the write bucket.
func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost:
		// POST /queries and the batch vectors read are reads.
		p := strings.TrimPrefix(r.URL.Path, "/api")
		return p != "/queries" && !(strings.HasPrefix(p, "/models/") && strings.HasSuffix(p, "/vectors"))
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}
