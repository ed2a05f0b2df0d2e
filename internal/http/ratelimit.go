package http

import (
	"container/list"
	"context"
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
// the read role's (a query, not a change to models) and counts as a read,
// as do POST /models/{id}/vectors and POST /models/{id}/search; a search
// counts one read a query (chargeReads, once its body is read).
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
			charge, err := l.take(r)
			if err != nil {
				s.fail(w, r, err) // with Retry-After, from err.RetryAfter
				return
			}
			if charge != nil {
				r = r.WithContext(context.WithValue(r.Context(), chargeKey{}, charge))
			}
			next.ServeHTTP(w, r)
		})
	}
}

// allow takes a token from the caller's bucket for r, or returns the
// ELIMITED error that refuses it (no token is then taken).
func (l *limiter) allow(r *http.Request) *ophicleide.Error {
	_, err := l.take(r)
	return err
}

// take is allow that also returns, for a read it let through, the
// charge that takes more reads for it (chargeReads); nil when r is not
// limited.
func (l *limiter) take(r *http.Request) (*readCharge, *ophicleide.Error) {
	if isProbe(r.URL.Path) {
		return nil, nil
	}
	key, who, ok := l.caller(r)
	if !ok {
		return nil, nil
	}
	write := isWrite(r)
	rt, what := l.cfg.Read, "requests"
	if write {
		rt, what = l.cfg.Write, "writes"
	}
	if rt.PerSecond == 0 {
		return nil, nil
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
		if write {
			return nil, nil
		}
		return &readCharge{lim: lim, rt: rt, who: who, first: res, now: l.now}, nil
	}
	res.CancelAt(now) // a refused request takes no token
	secs := max(1, int(math.Ceil(delay.Seconds())))
	if !res.OK() { // cannot happen with Burst >= 1 (Validate)
		secs = max(1, int(math.Ceil(1/rt.PerSecond)))
	}
	return nil, &ophicleide.Error{Code: ophicleide.ELIMITED, RetryAfter: time.Duration(secs) * time.Second,
		Message: fmt.Sprintf("too many %s %s: %s per second (bursts of %d), try again in %ds",
			what, who, strconv.FormatFloat(rt.PerSecond, 'f', -1, 64), rt.Burst, secs)}
}

// chargeKey is the context key of a read's readCharge.
type chargeKey struct{}

// readCharge is what the limiter leaves in the context of a read it let
// through, for a handler that learns from the body how many reads the
// request is (chargeReads).
type readCharge struct {
	lim   *rate.Limiter
	rt    Rate
	who   string
	first *rate.Reservation // the request's own read, given back if the rest is refused
	now   func() time.Time
}

// chargeReads counts r, already counted as one read, as reads in all
// (a batch: one a query). A request may never need more than a full
// bucket, or it could never pass: it passes when the caller's bucket
// holds min(reads, Burst) now, and the reads beyond the burst are owed
// (the bucket goes below empty, so the caller's next reads wait until
// they are paid). Refused, r takes no read at all and the error is
// ELIMITED with Retry-After; what (a format of args) names the request
// in its message. A request that is not limited is never refused.
func chargeReads(r *http.Request, reads int, what string, args ...any) error {
	c, _ := r.Context().Value(chargeKey{}).(*readCharge)
	if c == nil || reads <= 1 {
		return nil
	}
	extra := reads - 1
	now := c.now()
	need := min(extra, c.rt.Burst-1) // with the request's own: a full bucket at most
	if have := c.lim.TokensAt(now); have < float64(need) {
		c.first.CancelAt(now) // the last reservation at now: given back whole
		secs := max(1, int(math.Ceil((float64(need)-have)/c.rt.PerSecond)))
		return &ophicleide.Error{Code: ophicleide.ELIMITED, RetryAfter: time.Duration(secs) * time.Second,
			Message: fmt.Sprintf("too many requests %s: %s counts as %d reads, at %s per second (bursts of %d); try again in %ds",
				c.who, fmt.Sprintf(what, args...), reads, strconv.FormatFloat(c.rt.PerSecond, 'f', -1, 64), c.rt.Burst, secs)}
	}
	if need > 0 {
		c.lim.ReserveN(now, need) // at once: the tokens are there
	}
	for owed := extra - need; owed > 0; owed -= c.rt.Burst {
		c.lim.ReserveN(now, min(owed, c.rt.Burst)) // in the future: a debt
	}
	return nil
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
		// POST /queries, the batch vectors read and the batch search are
		// reads.
		p := strings.TrimPrefix(r.URL.Path, "/api")
		return p != "/queries" && !(strings.HasPrefix(p, "/models/") && (strings.HasSuffix(p, "/vectors") || strings.HasSuffix(p, "/search")))
	case http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}
