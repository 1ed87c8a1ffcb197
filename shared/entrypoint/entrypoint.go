// Package entrypoint registers Gatehouse's Cloud Run functions with the
// Functions Framework. Each function package calls [HTTP] or [CloudEvent]
// from its init (through bootstrap.HTTP or bootstrap.CloudEvent, which open
// the shared dependencies first) with a constructor that returns an error.
//
// On Cloud Run, where FUNCTION_TARGET names the function, the constructor
// runs at start and a failure (a missing secret, an unreachable database)
// stops the instance before it serves anything: fail closed. Elsewhere
// (the local server and tests import every function package) nothing is
// built at import time; the registered handler builds on first use and
// answers 503 while it cannot.
package entrypoint

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"sync"

	"github.com/GoogleCloudPlatform/functions-framework-go/functions"
	"github.com/cloudevents/sdk-go/v2/event"
)

// startFailed is called when an eagerly built function cannot start.
var startFailed = func(name string, err error) {
	slog.Error("function cannot start", "function", name, "error", err.Error())
	os.Exit(1)
}

// targeted reports whether this process was started to serve name.
func targeted(name string) bool { return os.Getenv("FUNCTION_TARGET") == name }

// HTTP registers an HTTP function built by build.
func HTTP(name string, build func(context.Context) (http.Handler, error)) {
	functions.HTTP(name, httpHandler(name, build))
}

// httpHandler builds at once when targeted, else on first request, and
// answers 503 while it cannot build.
func httpHandler(name string, build func(context.Context) (http.Handler, error)) http.HandlerFunc {
	get := lazy(name, build)
	if targeted(name) {
		if _, err := get(); err != nil {
			startFailed(name, err)
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		h, err := get()
		if err != nil {
			unavailable(w)
			return
		}
		h.ServeHTTP(w, r)
	}
}

// Event is a built event function: Handle runs one CloudEvent, and Health
// answers GET /healthz for what Handle depends on (the database).
type Event struct {
	Handle func(context.Context, event.Event) error
	Health http.Handler
}

// CloudEvent registers an event function built by build. It is delivered
// by a Pub/Sub push subscription, so it is registered with the Functions
// Framework as an HTTP function: GET /healthz answers Health, and every
// other request is a push, turned into the messagePublished CloudEvent
// that Handle runs ([pushHandler]). An error from Handle answers 500, and
// Pub/Sub redelivers.
func CloudEvent(name string, build func(context.Context) (Event, error)) {
	functions.HTTP(name, eventHandler(name, build))
}

func eventHandler(name string, build func(context.Context) (Event, error)) http.HandlerFunc {
	get := lazy(name, build)
	if targeted(name) {
		if _, err := get(); err != nil {
			startFailed(name, err)
		}
	}
	return func(w http.ResponseWriter, r *http.Request) {
		fn, err := get()
		if err != nil {
			unavailable(w)
			return
		}
		if r.Method == http.MethodGet && r.URL.Path == "/healthz" {
			fn.Health.ServeHTTP(w, r)
			return
		}
		pushHandler(name, fn.Handle).ServeHTTP(w, r)
	}
}

func unavailable(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusServiceUnavailable)
	io.WriteString(w, `{"error":{"code":"unavailable","message":"Service unavailable."}}`)
}

// lazy builds once; a failed build is retried on the next call so a
// transient start-up failure does not wedge the instance.
func lazy[T any](name string, build func(context.Context) (T, error)) func() (T, error) {
	var mu sync.Mutex
	var built T
	var ok bool
	return func() (T, error) {
		mu.Lock()
		defer mu.Unlock()
		if ok {
			return built, nil
		}
		v, err := build(context.Background())
		if err != nil {
			var zero T
			return zero, fmt.Errorf("build %s: %w", name, err)
		}
		built, ok = v, true
		return built, nil
	}
}
