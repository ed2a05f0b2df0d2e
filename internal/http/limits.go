package http

import (
	"net/http"

	"github.com/ophicleide/ophicleide"
)

// limits are what the server publishes at GET /limits and in GET /'s info:
// the model service's (ophicleide.Limits), with this server's upload and
// import limits when the service does not say.
func (s *Server) limits() ophicleide.Limits {
	l := s.models.Limits()
	if l.MaxUploadBytes == 0 {
		l.MaxUploadBytes = MaxUploadBytes
	}
	if l.MaxImportBytes <= 0 {
		l.MaxImportBytes = DefaultMaxImportBytes
	}
	return l
}

func (s *Server) getLimits(w http.ResponseWriter, r *http.Request) {
	s.json(w, http.StatusOK, map[string]any{"limits": s.limits()})
}
