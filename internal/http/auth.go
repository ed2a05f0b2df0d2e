package http

import (
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/ophicleide/ophicleide"
)

// Access control. Every request that reaches a route passes through
// authenticate (after the guard, before the middleware of Use and the
// handlers), which puts an ophicleide.Principal in the request's context
// for the services (ownership and redaction are theirs):
//
//   - an open server (no Authenticator: loopback without keys, or
//     --no-auth) makes every request an admin named "" (the process, as
//     before keys existed);
//   - with keys, the secret comes from `Authorization: Bearer SECRET` or
//     `X-API-Key: SECRET`; a missing or unknown one is 401 with
//     `WWW-Authenticate: Bearer realm="ophicleide"`; with PublicRead a
//     request without a key is an anonymous reader told apart by its
//     address (an unknown key is still a 401);
//   - each route needs a role (routeRole): read for every GET and POST
//     /queries; write for POST /models, POST /models/import, DELETE
//     /models/{id} and GET /models/{id}/export (the service then checks
//     that the caller owns the model). A key whose role is below is 403
//     naming the role needed; an anonymous caller is 401 instead, so a
//     client knows a key would help;
//   - always open, with or without a key (an unknown one is ignored):
//     /healthz, /readyz, /openapi.yaml, the page (GET / from a browser)
//     and its static files, OPTIONS (CORS preflights carry no key), and
//     /metrics unless MetricsAuth.

// Authenticator recognises API keys: it returns the principal (name and
// role) of the key whose secret is secret. Implementations must be safe
// for concurrent use and should compare in constant time
// (internal/auth.Keyring).
type Authenticator interface {
	Authenticate(secret string) (ophicleide.Principal, bool)
}

// AuthConfig is a server's access control (see WithAuth).
type AuthConfig struct {
	// Keys recognises the keys; nil makes an open server, whatever the
	// other fields say.
	Keys Authenticator
	// PublicRead lets requests without a key read (the read role,
	// anonymous).
	PublicRead bool
	// MetricsAuth makes GET /metrics need a key (any role).
	MetricsAuth bool
}

// maxSecretBytes bounds a presented secret; a longer one is unknown,
// refused before it is hashed.
const maxSecretBytes = 4096

// authRealm is the WWW-Authenticate challenge of every 401.
const authRealm = `Bearer realm="ophicleide"`

// WithAuth sets the server's access control. Call it before serving.
func (s *Server) WithAuth(c AuthConfig) *Server {
	s.auth = c
	return s
}

// Use adds middleware that runs for every API request after
// authentication, with the principal in the request's context
// (ophicleide.PrincipalFrom) and r.Pattern set to the route's pattern
// ("GET /models/{id}", "" for a path no route has), and before the
// route's handler (a rate limiter, CORS). It also runs for the open
// routes (probes, metrics, the document, OPTIONS), whose principal may
// be anonymous with no role: middleware that must spare them looks at
// r.Pattern. A middleware that refuses a request answers it itself,
// with WriteError for the API's error body. The first Use is the
// outermost. Not for the page's static files, which are served apart.
// Call it before serving.
func (s *Server) Use(mw func(http.Handler) http.Handler) *Server {
	s.middleware = append(s.middleware, mw)
	h := s.dispatch
	for i := len(s.middleware) - 1; i >= 0; i-- {
		h = s.middleware[i](h)
	}
	s.chain = h
	return s
}

// WriteError writes err as the API's error body with its status (the
// code table of errors.go; Retry-After for an ophicleide.ELIMITED error
// with RetryAfter, WWW-Authenticate for EUNAUTHORIZED), for middleware.
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) { s.fail(w, r, err) }

// need is what a route asks of its caller.
type need int

const (
	needNothing need = iota // open
	needKey                 // any key (not an anonymous reader)
	needRead
	needWrite
)

// routeRole returns what the route of pattern (the API router's, "" for
// none) asks when a server has keys.
func (s *Server) routeRole(r *http.Request, pattern string) need {
	switch pattern {
	case "GET /healthz", "GET /readyz", "GET /openapi.yaml":
		return needNothing
	case "GET /metrics":
		if s.auth.MetricsAuth {
			return needKey
		}
		return needNothing
	case "GET /{$}":
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			return needNothing // the page, or the home page: no data
		}
		return needRead
	case "POST /models", "POST /models/import", "DELETE /models/{id}", "GET /models/{id}/export", "POST /models/{id}/evaluate":
		return needWrite
	}
	if r.Method == http.MethodOptions {
		return needNothing
	}
	return needRead // every other route, and paths no route has (404, 405)
}

// authenticate returns r with its principal in the context, or the error
// that refuses it (EUNAUTHORIZED, EFORBIDDEN).
func (s *Server) authenticate(r *http.Request, pattern string) (*http.Request, error) {
	addr := clientAddr(r)
	if s.auth.Keys == nil {
		return r.WithContext(ophicleide.WithPrincipal(r.Context(), ophicleide.Principal{Role: ophicleide.RoleAdmin, Addr: addr})), nil
	}
	need := s.routeRole(r, pattern)
	secret, given, bad := presentedSecret(r)
	var p ophicleide.Principal
	known := false
	if given && !bad {
		p, known = s.auth.Keys.Authenticate(secret)
	}
	switch {
	case known:
		p.Anonymous = false
		p.Addr = addr
	case need == needNothing:
		// Open routes: a missing or unknown key refuses nothing.
		p = ophicleide.Principal{Anonymous: true, Addr: addr}
		if s.auth.PublicRead {
			p.Role = ophicleide.RoleRead
		}
	case given:
		return r, unauthorized("the API key is not valid (unknown or revoked); send a valid key as Authorization: Bearer KEY or X-API-Key: KEY")
	case s.auth.PublicRead && need == needRead:
		p = ophicleide.Principal{Role: ophicleide.RoleRead, Anonymous: true, Addr: addr}
	default:
		return r, unauthorized("%s %s needs an API key%s: send it as Authorization: Bearer KEY or X-API-Key: KEY", r.Method, r.URL.Path, roleWords(need))
	}
	if !known || p.Role.Allows(roleOf(need)) || need == needNothing || need == needKey {
		return r.WithContext(ophicleide.WithPrincipal(r.Context(), p)), nil
	}
	return r, &ophicleide.Error{Code: ophicleide.EFORBIDDEN,
		Message: fmt.Sprintf("%s %s needs a key with the %s role; the key %q has the %s role", r.Method, r.URL.Path, roleOf(need), p.Name, p.Role)}
}

func roleOf(n need) ophicleide.Role {
	if n == needWrite {
		return ophicleide.RoleWrite
	}
	return ophicleide.RoleRead
}

func roleWords(n need) string {
	if n == needWrite {
		return " with the write role"
	}
	return ""
}

func unauthorized(format string, args ...any) error {
	return ophicleide.Errorf(ophicleide.EUNAUTHORIZED, format, args...)
}

// presentedSecret returns the secret a request carries: given reports
// whether it carries one at all, bad that it is not usable (another
// Authorization scheme, several values, an empty or oversized secret),
// which makes it an unknown key.
func presentedSecret(r *http.Request) (secret string, given, bad bool) {
	authz, keys := r.Header.Values("Authorization"), r.Header.Values("X-API-Key")
	if len(authz) == 0 && len(keys) == 0 {
		return "", false, false
	}
	if len(authz)+len(keys) > 1 {
		if len(authz) == 1 && len(keys) == 1 {
			a, ok := bearer(authz[0])
			if ok && a == strings.TrimSpace(keys[0]) {
				return a, true, len(a) == 0 || len(a) > maxSecretBytes
			}
		}
		return "", true, true
	}
	if len(authz) == 1 {
		secret, ok := bearer(authz[0])
		return secret, true, !ok || secret == "" || len(secret) > maxSecretBytes
	}
	secret = strings.TrimSpace(keys[0])
	return secret, true, secret == "" || len(secret) > maxSecretBytes
}

// bearer returns the token of an `Authorization: Bearer TOKEN` value (the
// scheme's case ignored).
func bearer(v string) (string, bool) {
	scheme, token, ok := strings.Cut(strings.TrimSpace(v), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(token), true
}

// clientAddr is the client's IP address (the connection's peer; a
// reverse proxy's requests all have the proxy's).
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
