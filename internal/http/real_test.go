package http

import (
	"log/slog"

	"github.com/ophicleide/ophicleide"
	"github.com/ophicleide/ophicleide/internal/params"
	"github.com/ophicleide/ophicleide/internal/service"
	"github.com/ophicleide/ophicleide/internal/trainer/native"
)

// validate is the parameter check cmd/ophicleide wires: the native
// engine's, then the default limits.
func validate(p ophicleide.Params) error {
	if err := native.Validate(p); err != nil {
		return err
	}
	return params.DefaultLimits().Check(p)
}

// newRealServer is the API over the real services on store, as
// cmd/ophicleide wires them (native parameters, default limits, no
// precheck).
func newRealServer(store ophicleide.Store, cacheBytes int64, log *slog.Logger) *Server {
	models, queries := service.New(store, cacheBytes, service.Config{Validate: validate})
	return NewServer(models, queries, log, "test")
}

// newModel validates a request as POST /models does and builds the model
// it would store.
func newModel(req createModelRequest) (*ophicleide.Model, error) {
	return service.NewModels(nil, nil, service.Config{Validate: validate}).NewModel(req.request(nil))
}
