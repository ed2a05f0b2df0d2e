package http

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"strings"

	"github.com/ophicleide/ophicleide"
)

// Requests from other sites. A server on 127.0.0.1 is reachable from every
// web page its user opens, so the server refuses what a page of another
// site could make a browser send:
//
//   - writes (any method but GET, HEAD and OPTIONS) from another origin:
//     net/http.CrossOriginProtection, which trusts Sec-Fetch-Site and
//     falls back to comparing Origin with Host; requests with neither
//     header (curl, the CLI, the original front end's proxy) pass;
//   - JSON sent as another content type (a page can POST text/plain or
//     an untyped Blob without a CORS preflight): decode requires a JSON
//     content type;
//   - on a loopback address, Host names that are not loopback names (DNS
//     rebinding: evil.example resolving to 127.0.0.1 makes the page's
//     origin "same-origin" with the server), unless configured.
//
// What the unmodified 2016 front end (ophicleide-web, Node.js) sends, from
// its server.js and app/js: the browser talks only to the Node.js server;
// server.js re-issues each API call with the "request" library (GET
// /models, POST /models with {"name", "urls", "callback": "not
// implemented"}, DELETE /models/{id}, GET and POST /queries) to
// http://OPHICLEIDE_TRAINING_ADDR:OPHICLEIDE_TRAINING_PORT. Those are new
// requests: POSTs carry Content-Type application/json ("json: true"), the
// Host header is the training address (127.0.0.1:8080 by default, a
// service name on OpenShift), and there is no Origin and no Sec-Fetch-*
// header, so every rule here lets them through. This project's web role
// (internal/web) forwards the browser's headers instead, with Host
// rewritten to the training server's: its Sec-Fetch-Site (same-origin)
// lets the page's writes through; a browser too old to send Sec-Fetch-Site
// (before 2023) would be refused there, as Origin then differs from Host.

// HTTP-only error codes for requests refused before any handler runs.
const (
	unsupportedMediaType = "unsupported_media_type" // 415: a JSON body without a JSON content type
	crossOrigin          = "cross_origin"           // 403: a browser write from another origin
	misdirectedRequest   = "misdirected_request"    // 421: a Host name this server does not serve
)

// Flag names of cmd/ophicleide, named in the refusals' messages.
const (
	publicHostFlag    = "--public-host"
	allowedOriginFlag = "--allowed-origin"
)

// HostPolicy says which host names and which browser origins the server
// answers besides its own (see Server.WithHostPolicy). The zero value
// checks no Host header and trusts no other origin.
type HostPolicy struct {
	// Addr is the address the server listens on (host:port, as --addr).
	// When its host is a loopback address or name (127.0.0.0/8, ::1,
	// localhost), only requests whose Host header names a loopback host
	// (localhost, *.localhost, 127.x.x.x, [::1], any port) or one of
	// PublicHosts are served; others get 421. Any other address (":8080",
	// "0.0.0.0:8080", a pod IP) serves every Host.
	Addr string
	// PublicHosts are further host names served on a loopback address,
	// for example the name a reverse proxy on the same machine forwards.
	// An entry without a port matches any port. Empty entries are ignored.
	PublicHosts []string
	// AllowedOrigins are origins ("https://tools.example:8443") whose
	// pages may write (POST, PUT, PATCH, DELETE) to the server from a
	// browser. Empty entries are ignored; anything else that is not
	// scheme://host[:port] is an error.
	AllowedOrigins []string
}

// guard holds the server's checks of where a request comes from.
type guard struct {
	cop          *http.CrossOriginProtection
	loopbackOnly bool
	addr         string
	hosts        map[string]bool // PublicHosts, lower case, with or without port
}

func newGuard() *guard { return &guard{cop: http.NewCrossOriginProtection()} }

// WithHostPolicy applies p: cmd/ophicleide passes the listen address and
// the operator's --public-host and --allowed-origin values. It returns an
// error naming an invalid origin or host; s is then unchanged.
func (s *Server) WithHostPolicy(p HostPolicy) (*Server, error) {
	g, err := newGuardFor(p)
	if err != nil {
		return s, err
	}
	s.guard = g
	return s, nil
}

// GuardHosts wraps h with p's checks (Host names on a loopback address,
// browser writes from other origins), for handlers that are not a Server:
// the web role, whose proxy forwards to a training server that checks
// only its own Host header. Refusals get the API's JSON error body.
func GuardHosts(h http.Handler, p HostPolicy) (http.Handler, error) {
	g, err := newGuardFor(p)
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := g.check(r); err != nil {
			var e *ophicleide.Error
			errors.As(err, &e) // check returns only *ophicleide.Error
			status := errorStatus[e.Code]
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			json.NewEncoder(w).Encode(map[string][]apiError{"errors": {{Status: status, Title: http.StatusText(status), Details: e.Message}}})
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}

func newGuardFor(p HostPolicy) (*guard, error) {
	g := newGuard()
	for _, o := range p.AllowedOrigins {
		o = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(o)), "/")
		if o == "" {
			continue
		}
		if err := g.cop.AddTrustedOrigin(o); err != nil {
			return nil, fmt.Errorf("%s: %w", allowedOriginFlag, err)
		}
	}
	g.hosts = map[string]bool{}
	for _, h := range p.PublicHosts {
		h = normHost(strings.TrimSpace(h))
		if h == "" {
			continue
		}
		if strings.ContainsAny(h, "/ ,") {
			return nil, fmt.Errorf("%s %q: want a host name, optionally with a port", publicHostFlag, h)
		}
		g.hosts[h] = true
	}
	if host, _, err := net.SplitHostPort(p.Addr); err == nil && host != "" {
		g.loopbackOnly = isLoopbackHost(normHost(host))
	}
	g.addr = p.Addr
	return g, nil
}

// check refuses a request from elsewhere: a Host this server does not
// serve (421), then a browser write from another origin (403).
func (g *guard) check(r *http.Request) error {
	if g.loopbackOnly && !g.hostAllowed(r.Host) {
		name, _ := splitHost(r.Host)
		return &ophicleide.Error{Code: misdirectedRequest, Message: fmt.Sprintf(
			"this server listens on a loopback address (%s) and answers only localhost and loopback addresses, not the host name %q; "+
				"if that name is yours (a reverse proxy, say), start the server with %s %s",
			g.addr, name, publicHostFlag, name)}
	}
	if err := g.cop.Check(r); err != nil {
		from := r.Header.Get("Origin")
		if from == "" {
			from = "another site (Sec-Fetch-Site: " + r.Header.Get("Sec-Fetch-Site") + ")"
		}
		msg := fmt.Sprintf("cross-origin request refused: a web page from %s may not %s %s on this server", from, r.Method, r.URL.Path)
		if o := r.Header.Get("Origin"); o != "" && o != "null" {
			msg += fmt.Sprintf("; if that page is yours, start the server with %s %s", allowedOriginFlag, o)
		}
		return &ophicleide.Error{Code: crossOrigin, Message: msg}
	}
	return nil
}

// hostAllowed reports whether the Host header names a loopback host or a
// configured public one. A request without Host (HTTP/1.0) is no browser's.
func (g *guard) hostAllowed(hostport string) bool {
	if hostport == "" {
		return true
	}
	name, _ := splitHost(hostport)
	return isLoopbackHost(name) || g.hosts[name] || g.hosts[normHost(hostport)]
}

// splitHost returns the lower-case host name of a Host header (without
// brackets or a trailing dot) and its port, if any.
func splitHost(hostport string) (name, port string) {
	if h, p, err := net.SplitHostPort(hostport); err == nil {
		return normHost(h), p
	}
	return normHost(hostport), ""
}

func normHost(h string) string {
	h = strings.ToLower(h)
	if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	return strings.TrimSuffix(h, ".")
}

// isLoopbackHost reports whether name (no port, no brackets) is always
// this machine: localhost, a subdomain of localhost (RFC 6761), or a
// loopback IP address.
func isLoopbackHost(name string) bool {
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return true
	}
	a, err := netip.ParseAddr(name)
	return err == nil && a.Unmap().IsLoopback()
}

// requireJSON refuses a body that is not declared as JSON (application/json
// or application/*+json, any parameters): a page of another site can POST
// text/plain or an untyped body without a CORS preflight. An empty body
// without a content type is left to decode, which says it is empty.
func requireJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		var one [1]byte
		n, err := io.ReadFull(r.Body, one[:])
		if n == 0 && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)) {
			return nil
		}
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(one[:n]), r.Body), r.Body}
	} else if mt, _, err := mime.ParseMediaType(ct); err == nil &&
		(mt == "application/json" || strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")) {
		return nil
	}
	got := "no Content-Type"
	if ct != "" {
		got = fmt.Sprintf("Content-Type %q", ct)
	}
	return &ophicleide.Error{Code: unsupportedMediaType,
		Message: fmt.Sprintf("the request body must be JSON sent with Content-Type: application/json (got %s)", got)}
}
