package http

import (
	"net/http"

	"github.com/ophicleide/ophicleide/internal/params"
)

// Limits are what this server accepts and enforces, published at
// GET /limits and in GET /'s info so clients can check a request before
// sending it. The training parameters are checked when a model is
// created; the others are enforced by the workers and the fetcher and are
// shown here because a request that exceeds them fails.
type Limits struct {
	Params params.Limits `json:"params"`
	// MaxJobMemoryBytes is the memory one training job may use (0: none).
	MaxJobMemoryBytes int64 `json:"maxJobMemoryBytes"`
	// MaxURLBytes is the text accepted per URL or upload, after
	// decompression; MaxModelBytes all of a model's inputs together.
	MaxURLBytes   int64 `json:"maxURLBytes"`
	MaxModelBytes int64 `json:"maxModelBytes"`
	// MaxUploadBytes is the largest multipart POST /models body.
	MaxUploadBytes int64 `json:"maxUploadBytes"`
	// MaxJobSeconds is a job's wall-clock limit, fetching included (0: none).
	MaxJobSeconds float64 `json:"maxJobSeconds"`
	// MaxAttempts is how many times a job is claimed before it fails.
	MaxAttempts int `json:"maxAttempts"`
}

// DefaultLimits are the limits of a server not told otherwise; the byte
// and time limits are zero (unknown) until the caller sets them.
func DefaultLimits() Limits {
	return Limits{Params: params.DefaultLimits(), MaxUploadBytes: MaxUploadBytes}
}

// WithLimits sets the limits the server checks and publishes.
func (s *Server) WithLimits(l Limits) *Server {
	if l.MaxUploadBytes == 0 {
		l.MaxUploadBytes = MaxUploadBytes
	}
	s.limits = l
	return s
}

func (s *Server) getLimits(w http.ResponseWriter, r *http.Request) {
	s.json(w, http.StatusOK, map[string]any{"limits": s.limits})
}
