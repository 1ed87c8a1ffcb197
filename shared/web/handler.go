package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/debug"
)

// HandlerFunc is an HTTP handler that returns its failure instead of writing
// it. A handler that has started writing its response must not return an
// error it expects the client to see.
type HandlerFunc func(w http.ResponseWriter, r *http.Request) error

// Handler adapts h to http.Handler; logger must not be nil. An error
// returned by h is written by [WriteError]. A panic in h is recovered, logged
// with its stack at ERROR, and answered with a generic 500 if nothing was
// written yet: the process never crashes and the client never sees a stack.
// A panic with http.ErrAbortHandler is re-raised so net/http aborts the
// response, as documented for that value.
func Handler(logger *slog.Logger, h HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &trackingWriter{ResponseWriter: w}
		defer recoverPanic(logger, rw, r)
		err := h(rw, r)
		switch {
		case err == nil:
		case rw.started:
			logger.WarnContext(r.Context(), "handler failed after response started",
				"method", r.Method, "route", r.Pattern, "error", err.Error())
		default:
			WriteError(rw, r, logger, err)
		}
	})
}

// recoverPanic is deferred by [Handler].
func recoverPanic(logger *slog.Logger, rw *trackingWriter, r *http.Request) {
	p := recover()
	if p == nil {
		return
	}
	if err, ok := p.(error); ok && errors.Is(err, http.ErrAbortHandler) {
		panic(p)
	}
	logger.ErrorContext(r.Context(), "handler panicked",
		"method", r.Method, "route", r.Pattern,
		"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
	if !rw.started {
		writeErrorBody(rw, internalError(nil))
	}
}

// trackingWriter records whether the response has been started.
type trackingWriter struct {
	http.ResponseWriter
	started bool
}

func (t *trackingWriter) WriteHeader(code int) {
	if code >= 200 {
		t.started = true
	}
	t.ResponseWriter.WriteHeader(code)
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	t.started = true
	return t.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (t *trackingWriter) Unwrap() http.ResponseWriter { return t.ResponseWriter }
