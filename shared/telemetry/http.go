package telemetry

import (
	"context"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Middleware returns the outermost handler of a function: it extracts the
// incoming trace context (traceparent, else X-Cloud-Trace-Context), starts
// the request's server span, and records its duration by route once the
// ServeMux wrapped by [Telemetry.Routes] has matched it. Span and metric
// attributes never include the raw path or query: the span is named by the
// route pattern ("POST /login"), bounded in number.
//
// It is written for the hot path (token validation costs well under a
// millisecond). An unsampled request costs four allocations: the SDK's
// non-recording span and its context, one [request] (context, status
// writer and route in one) and the request copy carrying it. A sampled one
// adds the span's own and one attribute slice: the span's name, its
// attributes and the histogram's attribute set are built once per (route,
// method, status, scheme) and reused.
func (t *Telemetry) Middleware(next http.Handler) http.Handler {
	if t.nop {
		return next
	}
	tracer := t.Tracer("github.com/gatehouse-dev/gatehouse/shared/telemetry")
	server := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ctx := t.Propagator.Extract(r.Context(), headerCarrier{propagation.HeaderCarrier(r.Header)})
		m := method(r.Method)
		ctx, span := tracer.Start(ctx, m, server...)
		q := &request{Context: ctx, ResponseWriter: w}
		next.ServeHTTP(q, r.WithContext(q))
		status := q.status
		if status == 0 {
			status = http.StatusOK
		}
		s := t.series(seriesKey{q.pattern, m, status, r.TLS != nil})
		// The attributes are set once, at the end: samplers only see those
		// given to Start, so setting them earlier would tell no one more.
		if span.IsRecording() {
			span.SetName(s.spanName)
			span.SetAttributes(s.spanAttrs...)
		}
		if status >= 500 {
			span.SetStatus(codes.Error, "")
		}
		span.End()
		t.Metrics.latency.Record(ctx, time.Since(start).Seconds(), s.record...)
	})
}

// request is one request's instrumentation state in a single allocation:
// the context the handler receives (the server span's, which also answers
// requestKey with the request itself, for [Telemetry.Routes]) and the
// ResponseWriter that records the status.
type request struct {
	context.Context
	http.ResponseWriter
	status  int
	pattern string // the ServeMux pattern that matched, set by Routes
}

// requestKey is the context key under which a [request] answers.
type requestKey struct{}

func (q *request) Value(key any) any {
	if key == (requestKey{}) {
		return q
	}
	return q.Context.Value(key)
}

func (q *request) WriteHeader(code int) {
	if q.status == 0 {
		q.status = code
	}
	q.ResponseWriter.WriteHeader(code)
}

func (q *request) Write(b []byte) (int, error) {
	if q.status == 0 {
		q.status = http.StatusOK
	}
	return q.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection's Flusher and
// deadlines.
func (q *request) Unwrap() http.ResponseWriter { return q.ResponseWriter }

// headerCarrier reads the propagators' lower-case header names under their
// canonical form: http.Header.Get would allocate that form on every
// request.
type headerCarrier struct{ propagation.HeaderCarrier }

func (h headerCarrier) Get(key string) string { return h.HeaderCarrier.Get(canonicalTraceHeader(key)) }

func (h headerCarrier) Values(key string) []string {
	return h.HeaderCarrier.Values(canonicalTraceHeader(key))
}

func canonicalTraceHeader(key string) string {
	switch key {
	case "traceparent":
		return "Traceparent"
	case "tracestate":
		return "Tracestate"
	case "x-cloud-trace-context":
		return "X-Cloud-Trace-Context"
	}
	return key
}

// seriesKey is what a request's span name and attributes and its latency
// series depend on: all bounded (route patterns, standard methods).
type seriesKey struct {
	pattern, method string
	status          int
	tls             bool
}

// series is what [Telemetry.Middleware] records for a seriesKey, built once.
type series struct {
	spanName  string
	spanAttrs []attribute.KeyValue
	record    []metric.RecordOption
}

func (t *Telemetry) series(k seriesKey) *series {
	if s, ok := t.seriesCache.Load(k); ok {
		return s.(*series)
	}
	route := k.pattern
	if _, p, ok := strings.Cut(route, " "); ok {
		route = p
	}
	scheme := "http"
	if k.tls {
		scheme = "https"
	}
	s := &series{spanName: k.method, spanAttrs: []attribute.KeyValue{attribute.String("http.request.method", k.method),
		attribute.String("url.scheme", scheme), attribute.Int("http.response.status_code", k.status)}}
	if route != "" {
		s.spanName = k.method + " " + route
		s.spanAttrs = append(s.spanAttrs, attribute.String("http.route", route))
	} else {
		route = "unmatched"
	}
	s.record = t.Metrics.requestOptions(route, k.method, k.status)
	v, _ := t.seriesCache.LoadOrStore(k, s)
	return v.(*series)
}

// Routes wraps a function's router, a ServeMux or a handler that passes
// the request itself on to one (web.Routes): once the mux has matched and
// served the request, [Telemetry.Middleware] names the request's span
// "METHOD /pattern", gives it http.route and records its duration under
// that route. ServeMux sets Request.Pattern on the request it is given, so
// reading it afterwards costs no second match.
func (t *Telemetry) Routes(router http.Handler) http.Handler {
	if t.nop {
		return router
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		router.ServeHTTP(w, r)
		if q, ok := r.Context().Value(requestKey{}).(*request); ok {
			q.pattern = r.Pattern
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
