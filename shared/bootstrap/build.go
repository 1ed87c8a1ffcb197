package bootstrap

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/entrypoint"
	"github.com/gatehouse-dev/gatehouse/shared/telemetry"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// HTTP registers the HTTP function name (see [entrypoint.HTTP]) whose
// handler build makes from the Deps and the Loader, as [Build] runs it.
// Function packages call it from init.
func HTTP(name string, build func(*Deps, *config.Loader) (http.Handler, error)) {
	entrypoint.HTTP(name, func(ctx context.Context) (http.Handler, error) {
		return Build(ctx, build)
	})
}

// CloudEvent registers the CloudEvent function name (see
// [entrypoint.CloudEvent]) whose handler build makes from the Deps and the
// Loader, as [Build] runs it. Function packages call it from init.
func CloudEvent(name string, build func(*Deps, *config.Loader) (func(context.Context, event.Event) error, error)) {
	entrypoint.CloudEvent(name, func(ctx context.Context) (entrypoint.Event, error) {
		return Build(ctx, func(d *Deps, l *config.Loader) (entrypoint.Event, error) {
			fn, err := build(d, l)
			return entrypoint.Event{Handle: fn, Health: d.Health()}, err
		})
	})
}

// Build opens the Deps from the environment and hands them, with the
// Loader, to build, which reads its own settings. If the configuration has
// any problem, or build fails, the Deps are closed and the error returned:
// the function does not start.
func Build[T any](ctx context.Context, build func(*Deps, *config.Loader) (T, error)) (T, error) {
	var zero T
	d, l, err := FromEnv(ctx)
	if err != nil {
		return zero, err
	}
	v, err := build(d, l)
	if err == nil {
		err = l.Err()
	}
	if err != nil {
		d.Close()
		return zero, fmt.Errorf("configuration: %w", err)
	}
	d.StartSequencer()
	return v, nil
}

// Health answers GET /healthz: 200 when the database answers within two
// seconds, 503 otherwise.
func (d *Deps) Health() http.Handler {
	return web.Handler(d.Logger, func(w http.ResponseWriter, r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := d.Store.Ping(ctx); err != nil {
			return web.Unavailable(fmt.Errorf("database ping: %w", err))
		}
		return web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
}

// Wrap adds what every function's responses need: the request's span and
// latency metric (named by route), request ids, trace correlation, security
// headers, no caching of any response to a request with credentials
// (APP-8), when origins are configured CORS, and for a ServeMux the JSON
// error shape on requests no route matches.
func (d *Deps) Wrap(h http.Handler) (http.Handler, error) {
	t := d.Telemetry
	if t == nil {
		t = telemetry.Nop()
	}
	mws := []web.Middleware{t.Middleware, web.RequestID(d.Rand), web.Trace, web.SecurityHeaders, web.NoStoreCredentialed}
	if len(d.Config.AllowedOrigins) > 0 {
		cors, err := web.CORS(d.Config.AllowedOrigins)
		if err != nil {
			return nil, fmt.Errorf("CORS: %w", err)
		}
		mws = append(mws, cors)
	}
	if mux, ok := h.(*http.ServeMux); ok {
		h = t.Routes(web.Routes(mux))
	}
	return web.Chain(h, mws...), nil
}
