package http

import (
	"io"
	"net/http"
	"strings"
)

// root serves GET /: the web page or the home page to browsers, the
// server's name, version and figures to the others.
func (s *Server) root(w http.ResponseWriter, r *http.Request) {
	if strings.Contains(r.Header.Get("Accept"), "text/html") {
		if s.page != nil && r.URL.Path == "/" {
			s.page.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, homePage)
		return
	}
	n, err := s.models.QueueLength(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.json(w, http.StatusOK, map[string]any{"name": "ophicleide", "version": s.version, "info": map[string]any{"training_queue_len": n, "limits": s.limits()}})
}

// homePage is what browsers get at / from a server without the page (the
// `api` role).
const homePage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ophicleide API</title></head>
<body><h1>Ophicleide API</h1>
<p>This is the REST API (<code>GET /models</code>, <code>POST /models</code>, <code>POST /queries</code>,
the whole document at <a href="/openapi.yaml">/openapi.yaml</a>). The web page is served by
<code>ophicleide serve</code> and <code>ophicleide web</code>.</p></body></html>
`
