package http

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// Cross-origin resource sharing (CORS), for notebooks and other web apps
// on named origins that call the API from a browser. Off unless cmd
// wraps a handler with CORS (--cors-origins).
//
// CORS wraps the whole API handler, outside the server: a browser sends
// its preflight (OPTIONS with Origin and Access-Control-Request-Method)
// without the key, so the preflight is answered here, before the guard
// and authentication. For an allowed origin it is 204 with
// Access-Control-Allow-Origin (that origin, never "*"), -Methods,
// -Headers (Authorization, X-API-Key, Content-Type) and -Max-Age; for
// another origin 403 with the API's error body, which names the flag.
// Other requests go on to h; those from an allowed origin get
// Access-Control-Allow-Origin and -Expose-Headers (Location, Retry-After,
// Content-Disposition, WWW-Authenticate), and every answer Vary: Origin.
// Credentials (cookies) are not allowed: keys travel in headers.
//
// CORS lets a page read the answers; the server's write guard
// (HostPolicy.AllowedOrigins, net/http.CrossOriginProtection) decides
// whether a page may write at all, and refuses other origins' writes
// whatever the CORS answer. cmd/ophicleide therefore adds every CORS
// origin to the guard's AllowedOrigins in the same wiring: an origin
// allowed for CORS may read and write, with a key that allows it.

// corsOriginsFlag is cmd/ophicleide's flag, named in refusals.
const corsOriginsFlag = "--cors-origins"

// CORS preflight answers.
const (
	corsMethods = "GET, HEAD, POST, DELETE"
	corsHeaders = "Authorization, X-API-Key, Content-Type"
	corsExpose  = "Location, Retry-After, Content-Disposition, WWW-Authenticate"
	corsMaxAge  = "7200" // seconds; Chromium's cap
)

// CORSOrigins returns the origins, normalised (lower case, no trailing
// slash; empty entries dropped), or an error naming one that is not
// scheme://host[:port] with scheme http or https ("*" and "null" are
// refused: an allowed origin is a named site).
func CORSOrigins(origins []string) ([]string, error) {
	var out []string
	for _, o := range origins {
		o = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(o)), "/")
		if o == "" {
			continue
		}
		u, err := url.Parse(o)
		if o == "*" || o == "null" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
			u.User != nil || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
			return nil, fmt.Errorf("%s %q: want an origin such as https://notebooks.example or http://localhost:8888 (scheme, host and port only; \"*\" is not allowed)", corsOriginsFlag, o)
		}
		out = append(out, o)
	}
	return out, nil
}

// CORS returns h answering cross-origin requests from origins (see
// CORSOrigins for their form, and above for what it answers). With no
// origin it returns h itself.
func CORS(h http.Handler, origins []string) (http.Handler, error) {
	list, err := CORSOrigins(origins)
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return h, nil
	}
	allowed := map[string]bool{}
	for _, o := range list {
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hdr := w.Header()
		hdr.Add("Vary", "Origin")
		origin := r.Header.Get("Origin")
		if origin == "" {
			h.ServeHTTP(w, r)
			return
		}
		ok := allowed[strings.ToLower(origin)]
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			hdr.Add("Vary", "Access-Control-Request-Method")
			hdr.Add("Vary", "Access-Control-Request-Headers")
			if !ok {
				corsRefuse(w, origin)
				return
			}
			hdr.Set("Access-Control-Allow-Origin", origin)
			hdr.Set("Access-Control-Allow-Methods", corsMethods)
			hdr.Set("Access-Control-Allow-Headers", corsHeaders)
			hdr.Set("Access-Control-Max-Age", corsMaxAge)
			w.WriteHeader(http.StatusNoContent)
			return
		}
		if ok {
			hdr.Set("Access-Control-Allow-Origin", origin)
			hdr.Set("Access-Control-Expose-Headers", corsExpose)
		}
		h.ServeHTTP(w, r)
	}), nil
}

// corsRefuse answers a preflight from an origin that is not allowed.
func corsRefuse(w http.ResponseWriter, origin string) {
	const status = http.StatusForbidden
	msg := fmt.Sprintf("cross-origin requests from %s are not allowed on this server", origin)
	if origin != "null" {
		msg += fmt.Sprintf("; if that site is yours, start the server with %s %s", corsOriginsFlag, origin)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string][]apiError{"errors": {{Status: status, Title: http.StatusText(status), Details: msg}}})
}
