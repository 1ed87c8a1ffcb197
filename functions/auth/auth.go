// Package auth is the Auth HTTP function: accounts, passwords, MFA, sessions, organizations and roles, audit read, data export and deletion.
// Locally it is mounted by `gatehouse serve`; on Cloud Run the Functions
// Framework serves the entry point registered in init.
package auth

import (
	"context"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/entrypoint"
)

func init() {
	entrypoint.HTTP("Auth", func(ctx context.Context) (http.Handler, error) {
		return bootstrap.Build(ctx, func(d *bootstrap.Deps, l *config.Loader) (http.Handler, error) {
			return New(d, LoadConfig(l))
		})
	})
}

// Config holds the function's own settings.
type Config struct{}

// LoadConfig reads the function's settings, recording problems in l.
func LoadConfig(l *config.Loader) Config { return Config{} }

// New returns the function's handler. Routes are relative to the
// function's URL.
func New(d *bootstrap.Deps, cfg Config) (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", d.Health())
	return d.Wrap(mux)
}
