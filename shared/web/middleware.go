package web

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
)

// Middleware wraps a handler.
type Middleware func(http.Handler) http.Handler

// Chain wraps h in mws so that mws[0] is outermost: the request passes
// through mws[0], mws[1], ... and then h.
func Chain(h http.Handler, mws ...Middleware) http.Handler {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}

// SecurityHeaders sets, before next runs, the headers every Gatehouse
// response carries: HSTS for two years including subdomains, a CSP that
// allows nothing and no framing, nosniff, X-Frame-Options DENY, no referrer,
// and a same-origin opener policy. Handlers may override a header but
// should not.
func SecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// NoStoreCredentialed makes every response to a request that carries
// credentials (an Authorization header or any cookie) uncacheable (APP-8):
// Cache-Control: no-store and Pragma: no-cache are set before next runs and
// set again when it writes its header, so no handler, however it answers,
// lets a browser or proxy keep a copy of what a signed-in user was shown.
// Requests without credentials are left to their handlers (the JWKS stays
// cacheable).
func NoStoreCredentialed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" && r.Header.Get("Cookie") == "" {
			next.ServeHTTP(w, r)
			return
		}
		NoStore(w)
		next.ServeHTTP(&noStoreWriter{ResponseWriter: w}, r)
	})
}

// noStoreWriter re-asserts no-store when the header is written.
type noStoreWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *noStoreWriter) WriteHeader(code int) {
	if !w.wrote {
		w.wrote = true
		NoStore(w.ResponseWriter)
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *noStoreWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// FlushError flushes through [http.ResponseController], writing the
// header (with no-store) first if the handler has not.
func (w *noStoreWriter) FlushError() error {
	if !w.wrote {
		w.WriteHeader(http.StatusOK)
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets [http.ResponseController] reach the underlying writer for
// what the wrapper does not handle (deadlines).
func (w *noStoreWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// RequestIDHeader carries the request id in requests and responses.
const RequestIDHeader = "X-Request-Id"

// maxRequestIDLen bounds an incoming request id.
const maxRequestIDLen = 128

type requestIDKey struct{}

// RequestID gives every request an id: the incoming X-Request-Id if it is 1
// to 128 characters of letters, digits and ._:- , else 16 bytes read from
// rand, hex-encoded. The id is set as the response's X-Request-Id, stored in
// the context for [RequestIDFromContext], and added to every log entry made
// with that context as request_id. If rand fails the request is answered
// with a 500.
func RequestID(rand io.Reader) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.Header.Get(RequestIDHeader)
			if !validRequestID(id) {
				var err error
				if id, err = newRequestID(rand); err != nil {
					writeErrorBody(w, internalError(err))
					return
				}
			}
			w.Header().Set(RequestIDHeader, id)
			ctx := context.WithValue(r.Context(), requestIDKey{}, id)
			ctx = logging.ContextWithAttrs(ctx, slog.String("request_id", id))
			next.ServeHTTP(w, r.WithContext(ctx))
		})
	}
}

// RequestIDFromContext returns the id set by [RequestID], or "".
func RequestIDFromContext(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

func newRequestID(rand io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("read request id randomness: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !isAlnum(rune(c)) && c != '.' && c != '_' && c != ':' && c != '-' {
			return false
		}
	}
	return true
}

// Trace stores the request's trace (see [logging.WithTrace]) in its context
// so that log entries made with it are correlated in Cloud Logging.
func Trace(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r.WithContext(logging.WithTrace(r.Context(), r)))
	})
}
