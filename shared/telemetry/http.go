package telemetry

import (
	"context"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// routeKey carries the *route a request's [Routes] wrapper fills in.
type routeKey struct{}

type route struct{ pattern string }

// Middleware returns the outermost handler of a function: it extracts the
// incoming trace context (traceparent, else X-Cloud-Trace-Context), starts
// the request's server span, and records its duration by route once the
// ServeMux wrapped by [Telemetry.Routes] has matched it. Span and metric
// attributes never include the raw path or query: the span is named by the
// route pattern ("POST /login"), bounded in number.
//
// It is written for the hot path (token validation costs well under a
// millisecond): one span with the attributes the semantic conventions
// require of a server span, the status from a thin ResponseWriter wrapper,
// no body wrapping.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	if t.nop {
		return next
	}
	tracer := t.Tracer("github.com/gatehouse-dev/gatehouse/shared/telemetry")
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := t.Propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		m := method(r.Method)
		ctx, span := tracer.Start(ctx, m, trace.WithSpanKind(trace.SpanKindServer))
		if span.IsRecording() {
			span.SetAttributes(attribute.String("http.request.method", m), attribute.String("url.scheme", scheme(r)))
		}
		rt := &route{}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r.WithContext(context.WithValue(ctx, routeKey{}, rt)))
		status := sw.status
		if status == 0 {
			status = http.StatusOK
		}
		if span.IsRecording() {
			span.SetAttributes(attribute.Int("http.response.status_code", status))
		}
		if status >= 500 {
			span.SetStatus(codes.Error, "")
		}
		span.End()
		name := rt.pattern
		if name == "" {
			name = "unmatched"
		}
		t.Metrics.Request(ctx, name, m, status, time.Since(start))
	})
}

func scheme(r *http.Request) string {
	if r.TLS != nil {
		return "https"
	}
	return "http"
}

// statusWriter records the status a handler writes. Unwrap lets
// http.ResponseController reach the connection's Flusher and deadlines.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Routes wraps a function's router, a ServeMux or a handler that passes
// the request itself on to one (web.Routes): once the mux has matched and
// served the request, the request's span is renamed "METHOD /pattern" and
// given http.route, and [Telemetry.Middleware] records its duration under
// that route. ServeMux sets Request.Pattern on the request it is given, so
// reading it afterwards costs no second match.
func (t *Telemetry) Routes(router http.Handler) http.Handler {
	if t.nop {
		return router
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		router.ServeHTTP(w, r)
		if r.Pattern == "" {
			return
		}
		path := r.Pattern
		if _, p, ok := strings.Cut(path, " "); ok {
			path = p
		}
		if rt, ok := r.Context().Value(routeKey{}).(*route); ok {
			rt.pattern = path
		}
		if span := trace.SpanFromContext(r.Context()); span.IsRecording() {
			span.SetName(method(r.Method) + " " + path)
			span.SetAttributes(attribute.String("http.route", path))
		}
	})
}

// method returns m if it is a standard method, else "_OTHER" (the
// semantic conventions' bucket): the method is client-chosen.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "_OTHER"
}

// Transport wraps base (http.DefaultTransport when nil) so that each
// outbound request (a provider's token endpoint, an IdP) gets a client
// span, child of the caller's, and carries traceparent.
func (t *Telemetry) Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return otelhttp.NewTransport(base,
		otelhttp.WithTracerProvider(t.TracerProvider),
		otelhttp.WithMeterProvider(metricnoop.NewMeterProvider()),
		otelhttp.WithPropagators(t.Propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return method(r.Method) + " " + r.URL.Host }),
	)
}
