package http

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/ophicleide/ophicleide"
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

// Precheck is told of a model about to be created whose text is all in
// the request (uploads, no URLs) and may refuse it, e.g. because training
// it would need more memory than a job may use. It may read the uploads;
// the server rewinds them afterwards.
type Precheck func(ctx context.Context, p ophicleide.Params, uploads map[string]io.Reader) error

// WithPrecheck sets the check of models whose text is uploaded.
func (s *Server) WithPrecheck(p Precheck) *Server {
	s.precheck = p
	return s
}

// precheckUploads runs the precheck on a model trained only from uploads.
func (s *Server) precheckUploads(ctx context.Context, m *ophicleide.Model, uploads map[string]io.Reader) error {
	if s.precheck == nil || len(m.URLs) > 0 || len(uploads) == 0 {
		return nil
	}
	if err := s.precheck(ctx, m.Params, uploads); err != nil {
		return err
	}
	for name, u := range uploads {
		sk, ok := u.(io.Seeker)
		if !ok {
			return fmt.Errorf("upload %q cannot be rewound after the precheck", name)
		}
		if _, err := sk.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("rewinding upload %q: %w", name, err)
		}
	}
	return nil
}
