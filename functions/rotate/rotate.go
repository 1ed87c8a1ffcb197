// Package rotate is the Rotate CloudEvent function: scheduled key rotation,
// re-encryption, purges and retention, triggered by Cloud Scheduler through
// Pub/Sub. Locally `gatehouse serve` mounts its HTTP form at /rotate.
package rotate

import (
	"context"
	"net/http"

	"github.com/cloudevents/sdk-go/v2/event"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/entrypoint"
)

func init() {
	entrypoint.CloudEvent("Rotate", func(ctx context.Context) (func(context.Context, event.Event) error, error) {
		return bootstrap.Build(ctx, func(d *bootstrap.Deps, l *config.Loader) (func(context.Context, event.Event) error, error) {
			r, err := New(d, LoadConfig(l))
			if err != nil {
				return nil, err
			}
			return r.HandleEvent, nil
		})
	})
}

// Config holds the function's own settings.
type Config struct{}

// LoadConfig reads the function's settings, recording problems in l.
func LoadConfig(l *config.Loader) Config { return Config{} }

// Rotator runs rotation tasks.
type Rotator struct {
	d   *bootstrap.Deps
	cfg Config
}

// New returns a Rotator.
func New(d *bootstrap.Deps, cfg Config) (*Rotator, error) {
	return &Rotator{d: d, cfg: cfg}, nil
}

// HandleEvent handles one Pub/Sub CloudEvent.
func (r *Rotator) HandleEvent(ctx context.Context, e event.Event) error {
	r.d.Logger.InfoContext(ctx, "rotation message received", "event_id", e.ID())
	return nil
}

// Handler is the local HTTP form, mounted at /rotate by `gatehouse serve`.
func (r *Rotator) Handler() (http.Handler, error) {
	mux := http.NewServeMux()
	mux.Handle("GET /healthz", r.d.Health())
	return r.d.Wrap(mux)
}
