// Package web is Ophicleide's web page: static HTML, CSS and JavaScript
// embedded in the binary (no build step, no external requests), and the
// `web` role's handler, which serves the page and proxies /api/ to a
// training server as the original Node.js front end did. The page itself
// only ever calls /api/..., so the same files work behind `serve` and
// behind the proxy.
package web

import (
	"embed"
	"encoding/json"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

//go:embed static
var files embed.FS

// static is the files under static/.
var static, _ = fs.Sub(files, "static")

// securityHeaders keep the page to its own origin: scripts, styles,
// images and API calls from the server that served it, nothing else.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-cache")
}

// Page serves the page: index.html for "/" (and any path the caller routes
// here that is not a file) and the assets under /static/.
func Page() http.Handler {
	assets := http.StripPrefix("/static/", http.FileServerFS(static))
	index, err := fs.ReadFile(static, "index.html")
	if err != nil {
		panic("web: index.html not embedded: " + err.Error()) // a build error
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w.Header())
		if strings.HasPrefix(r.URL.Path, "/static/") {
			assets.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(index)
	})
}

// ProxyHeader marks the proxy's own answers (the training server is
// unreachable), so that the page can tell them from the API's.
const ProxyHeader = "X-Ophicleide-Proxy"

// Handler is the web role: the page, /healthz, /readyz, metrics (served
// by the given handler at /metrics), and /api/ proxied to the training
// server at target (whose API is served under /api/ as well).
// A training server that is down gives 503 with the API's error body; the
// web process keeps running.
func Handler(target *url.URL, log *slog.Logger, metrics http.Handler) http.Handler {
	proxy := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(target)
			r.SetXForwarded()
		},
		// Progress polls and queries are small; flush streamed exports as
		// they come.
		FlushInterval: 100 * time.Millisecond,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			log.Warn("training service unavailable", "target", target.String(), "path", r.URL.Path, "err", err)
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set(ProxyHeader, "unavailable")
			w.WriteHeader(http.StatusServiceUnavailable)
			json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{
				"status": http.StatusServiceUnavailable, "title": http.StatusText(http.StatusServiceUnavailable),
				"details": "training service unavailable: the web front end cannot reach the training server at " + target.Host,
			}}})
		},
	}
	page := Page()
	mux := http.NewServeMux()
	mux.Handle("/api/", proxy)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.Handle("GET /metrics", metrics)
	mux.Handle("/", page)
	return mux
}
