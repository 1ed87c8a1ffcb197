// Package oauthcallback is the OAuthCallback HTTP function: connect and disconnect third-party platforms, sign-in with Google, GitHub and OIDC, and the internal token broker.
// Locally it is mounted by `gatehouse serve`; on Cloud Run the Functions
// Framework serves the entry point registered in init.
package oauthcallback

import (
	"context"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/entrypoint"
)

func init() {
	entrypoint.HTTP("OAuthCallback", func(ctx context.Context) (http.Handler, error) {
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
