package http

import (
	"io"
	"net/http"
	"time"
)

// Deadlines makes every read of a request body and every write of a
// response extend the connection's deadline by idle, instead of bounding
// the whole exchange: a client that stops sending (a slow-body attack) or
// stops reading is cut off idle after its last byte, while a long export
// or upload that keeps moving is never cut by design. Put it outermost,
// with http.Server's ReadHeaderTimeout and IdleTimeout for the rest.
func Deadlines(h http.Handler, idle time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		// (http.Server keeps a write deadline from one request of a
		// connection to the next unless WriteTimeout is set: reset it.)
		rc.SetWriteDeadline(time.Now().Add(idle))
		if r.Body != nil && r.Body != http.NoBody {
			// (Once the body is read, net/http clears the read deadline
			// itself before it reads the connection in the background,
			// so a handler may work longer than idle afterwards.)
			rc.SetReadDeadline(time.Now().Add(idle))
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, idle: idle}
		}
		h.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: rc, idle: idle}, r)
	})
}

type deadlineBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	idle time.Duration
	last time.Time
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	// Extending costs a timer reset; do it at most every idle/8.
	if now := time.Now(); now.Sub(b.last) > b.idle/8 {
		b.rc.SetReadDeadline(now.Add(b.idle))
		b.last = now
	}
	return b.ReadCloser.Read(p)
}

type deadlineWriter struct {
	http.ResponseWriter
	rc   *http.ResponseController
	idle time.Duration
	last time.Time
}

func (w *deadlineWriter) Write(p []byte) (int, error) {
	if now := time.Now(); now.Sub(w.last) > w.idle/8 {
		w.rc.SetWriteDeadline(now.Add(w.idle))
		w.last = now
	}
	return w.ResponseWriter.Write(p)
}

func (w *deadlineWriter) WriteHeader(status int) {
	if now := time.Now(); now.Sub(w.last) > w.idle/8 {
		w.rc.SetWriteDeadline(now.Add(w.idle))
		w.last = now
	}
	w.ResponseWriter.WriteHeader(status)
}

// Flush makes the writer an http.Flusher, as the connection's is, for
// handlers that assert it rather than use http.ResponseController.
func (w *deadlineWriter) Flush() { w.rc.Flush() }

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *deadlineWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
