package http

import (
	"log/slog"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/service"
)

// newRealServer is the API over the real services on store, as
// cmd/ophicleide wires them (default parameter limits, no precheck).
func newRealServer(store ophicleide.Store, cacheBytes int64, log *slog.Logger) *Server {
	models, queries := service.New(store, cacheBytes, service.Config{})
	return NewServer(models, queries, log, "test")
}

// newModel validates a request as POST /models does, against the default
// limits, and builds the model it would store.
func newModel(req createModelRequest) (*ophicleide.Model, error) {
	return service.NewModels(nil, nil, service.Config{}).NewModel(req.request(nil))
}
