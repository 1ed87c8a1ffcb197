package telemetry_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/shared/telemetry"
	"github.com/gatehouse-dev/gatehouse/shared/telemetry/telemetrytest"
)

func recording(t *testing.T) (*telemetry.Telemetry, *tracetest.SpanRecorder, *telemetrytest.Recorder) {
	r := telemetrytest.New(t)
	return r.Telemetry, r.Spans, r
}

// server is a function's chain as bootstrap builds it: the middleware
// outermost, Routes around the mux.
func server(tel *telemetry.Telemetry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		_, span := tel.Tracer("test").Start(r.Context(), "child")
		span.End()
		w.WriteHeader(http.StatusTeapot)
	})
	return tel.Middleware(tel.Routes(mux))
}

// Incoming trace context continues: a W3C traceparent, or Google's
// X-Cloud-Trace-Context when there is none; traceparent wins when both
// come. The server span is named by the route pattern and is the parent of
// the handler's spans.
func TestPropagationAndServerSpan(t *testing.T) {
	const (
		w3cTrace   = "4bf92f3577b34da6a3ce929d0e0e4736"
		w3cParent  = "00f067aa0ba902b7"
		cloudTrace = "105445aa7843bc8bf206b12000100000"
	)
	tests := []struct {
		name        string
		headers     map[string]string
		wantTrace   string
		wantParent  string // hex span id of the remote parent
		wantSampled bool
	}{
		{"traceparent", map[string]string{"Traceparent": "00-" + w3cTrace + "-" + w3cParent + "-01"}, w3cTrace, w3cParent, true},
		// 1 in decimal is span id 0000000000000001.
		{"x-cloud-trace-context", map[string]string{"X-Cloud-Trace-Context": cloudTrace + "/1;o=1"}, cloudTrace, "0000000000000001", true},
		{"both: traceparent wins", map[string]string{"Traceparent": "00-" + w3cTrace + "-" + w3cParent + "-01",
			"X-Cloud-Trace-Context": cloudTrace + "/1;o=1"}, w3cTrace, w3cParent, true},
		{"malformed traceparent falls back", map[string]string{"Traceparent": "00-zz-" + w3cParent + "-01",
			"X-Cloud-Trace-Context": cloudTrace + "/1;o=1"}, cloudTrace, "0000000000000001", true},
		{"none: a new trace", nil, "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tel, rec, _ := recording(t)
			r := httptest.NewRequest("GET", "/users/u_123?x=1", nil)
			for k, v := range tc.headers {
				r.Header.Set(k, v)
			}
			w := httptest.NewRecorder()
			server(tel).ServeHTTP(w, r)
			spans := rec.Ended()
			if len(spans) != 2 {
				t.Fatalf("%d spans, want the handler's and the server's", len(spans))
			}
			child, srv := spans[0], spans[1]
			if srv.Name() != "GET /users/{id}" || srv.SpanKind() != trace.SpanKindServer {
				t.Errorf("server span %q kind %v, want \"GET /users/{id}\" server", srv.Name(), srv.SpanKind())
			}
			if child.Parent().SpanID() != srv.SpanContext().SpanID() || child.SpanContext().TraceID() != srv.SpanContext().TraceID() {
				t.Errorf("handler span is not a child of the server span")
			}
			if tc.wantTrace != "" {
				if got := srv.SpanContext().TraceID().String(); got != tc.wantTrace {
					t.Errorf("trace id %s, want %s", got, tc.wantTrace)
				}
				if got := srv.Parent().SpanID().String(); got != tc.wantParent || !srv.Parent().IsRemote() {
					t.Errorf("parent span %s (remote %v), want remote %s", got, srv.Parent().IsRemote(), tc.wantParent)
				}
			} else if srv.Parent().IsValid() {
				t.Errorf("a request without trace headers has parent %v", srv.Parent())
			}
			for _, a := range srv.Attributes() {
				if a.Value.Emit() == "/users/u_123?x=1" || a.Value.Emit() == "/users/u_123" {
					if a.Key != "url.path" && a.Key != "url.full" {
						t.Errorf("raw path in attribute %s", a.Key)
					}
				}
			}
			for k, v := range map[string]string{"http.route": "/users/{id}", "http.request.method": "GET",
				"url.scheme": "http", "http.response.status_code": "418"} {
				if !hasAttr(srv.Attributes(), k, v) {
					t.Errorf("server span lacks %s=%s: %v", k, v, srv.Attributes())
				}
			}
		})
	}
}

// The handler's context is the server span's and otherwise the request's:
// values, cancellation and deadlines pass through, and what the handler
// writes reaches the client.
func TestHandlerContext(t *testing.T) {
	tel, rec, _ := recording(t)
	type key struct{}
	var sawValue, sawCancel bool
	var handlerSpan trace.SpanContext
	mux := http.NewServeMux()
	mux.HandleFunc("GET /x", func(w http.ResponseWriter, r *http.Request) {
		handlerSpan = trace.SpanContextFromContext(r.Context())
		sawValue = r.Context().Value(key{}) == "v"
		ctx, cancel := context.WithTimeout(r.Context(), time.Minute)
		defer cancel()
		<-ctx.Done() // the client's cancellation below ends the wait
		sawCancel = errors.Is(ctx.Err(), context.Canceled)
		w.WriteHeader(http.StatusAccepted)
	})
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	cancel()
	w := httptest.NewRecorder()
	tel.Middleware(tel.Routes(mux)).ServeHTTP(w, httptest.NewRequest("GET", "/x", nil).WithContext(ctx))
	spans := rec.Ended()
	if len(spans) != 1 || !handlerSpan.Equal(spans[0].SpanContext()) {
		t.Errorf("handler saw span %v, want the server span of %d", handlerSpan, len(spans))
	}
	if !sawValue || !sawCancel || w.Code != http.StatusAccepted {
		t.Errorf("value passed %v, cancellation passed %v, status %d", sawValue, sawCancel, w.Code)
	}
}

// Latency is recorded by route pattern, never by raw path, and a
// client-chosen method outside the standard ones is bucketed.
func TestRequestLatencyByRoute(t *testing.T) {
	tel, _, reader := recording(t)
	h := server(tel)
	for _, path := range []string{"/users/a", "/users/b", "/users/c"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", path, nil))
	}
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nothing/here", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("FOO", "/users/a", nil))
	hist := reader.Histogram(t, telemetry.MetricRequestLatency)
	got := map[string]uint64{}
	for _, dp := range hist.DataPoints {
		route, _ := dp.Attributes.Value("http.route")
		method, _ := dp.Attributes.Value("http.request.method")
		status, _ := dp.Attributes.Value("http.response.status_code")
		got[route.AsString()+" "+method.AsString()+" "+status.Emit()] = dp.Count
		if dp.Count > 0 && (dp.Sum <= 0 || dp.Sum > 10) {
			t.Errorf("%v: sum %v s", dp.Attributes, dp.Sum)
		}
	}
	want := map[string]uint64{"/users/{id} GET 418": 3, "unmatched GET 404": 1, "unmatched _OTHER 405": 1}
	if len(got) != len(want) {
		t.Fatalf("series %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("%s: count %d, want %d (all: %v)", k, got[k], n, got)
		}
	}
}

// Each recording method adds exactly what it says, with its attributes.
func TestMetricsValues(t *testing.T) {
	tel, _, reader := recording(t)
	m := tel.Metrics
	ctx := context.Background()
	m.SignIn(ctx, "pwd", "success")
	m.SignIn(ctx, "pwd", "success")
	m.SignIn(ctx, "password", "failure")
	m.Refresh(ctx, "rotated")
	m.ReuseDetected(ctx)
	m.RateLimited(ctx, "login-network")
	m.RateLimited(ctx, "login-network")
	m.RateLimited(ctx, "magic-link-account")
	m.Lockout(ctx)
	m.WebhookEvent(ctx, "stripe", "applied")
	m.WebhookEvent(ctx, "stripe", "rejected")
	m.BrokerRefresh(ctx, "linkedin", "failure")
	m.EventDelivery(ctx, "retry")
	m.EventDelivery(ctx, "retry")
	m.KMSCall(ctx, "unwrap", "ok")
	m.DataKeyCache(ctx, true)
	m.DataKeyCache(ctx, true)
	m.DataKeyCache(ctx, false)
	m.Rotation(ctx, "reencrypt", "done", map[string]int64{"resealed": 40, "batches": 2, "failed": 0})
	m.Request(ctx, "/login", "POST", 200, 30*time.Millisecond)
	for _, tc := range []struct {
		metric string
		attrs  []attribute.KeyValue
		want   int64
	}{
		{telemetry.MetricSignIns, []attribute.KeyValue{attribute.String("method", "pwd"), attribute.String("outcome", "success")}, 2},
		{telemetry.MetricSignIns, []attribute.KeyValue{attribute.String("method", "password"), attribute.String("outcome", "failure")}, 1},
		{telemetry.MetricRefreshes, []attribute.KeyValue{attribute.String("outcome", "rotated")}, 1},
		{telemetry.MetricReuse, nil, 1},
		{telemetry.MetricRateLimited, []attribute.KeyValue{attribute.String("limit", "login-network")}, 2},
		{telemetry.MetricRateLimited, []attribute.KeyValue{attribute.String("limit", "magic-link-account")}, 1},
		{telemetry.MetricLockouts, nil, 1},
		{telemetry.MetricWebhookEvents, []attribute.KeyValue{attribute.String("provider", "stripe"), attribute.String("outcome", "rejected")}, 1},
		{telemetry.MetricBrokerRefresh, []attribute.KeyValue{attribute.String("platform", "linkedin"), attribute.String("outcome", "failure")}, 1},
		{telemetry.MetricEventHooks, []attribute.KeyValue{attribute.String("outcome", "retry")}, 2},
		{telemetry.MetricKMSCalls, []attribute.KeyValue{attribute.String("operation", "unwrap"), attribute.String("outcome", "ok")}, 1},
		{telemetry.MetricDataKeyCache, []attribute.KeyValue{attribute.String("result", "hit")}, 2},
		{telemetry.MetricDataKeyCache, []attribute.KeyValue{attribute.String("result", "miss")}, 1},
		{telemetry.MetricRotationItems, []attribute.KeyValue{attribute.String("task", "reencrypt"), attribute.String("kind", "resealed")}, 40},
		{telemetry.MetricRotationItems, []attribute.KeyValue{attribute.String("task", "reencrypt"), attribute.String("kind", "failed")}, 0},
		{telemetry.MetricRotationRuns, []attribute.KeyValue{attribute.String("task", "reencrypt"), attribute.String("status", "done")}, 1},
	} {
		if got := reader.Counter(t, tc.metric, tc.attrs...); got != tc.want {
			t.Errorf("%s%v = %d, want %d", tc.metric, tc.attrs, got, tc.want)
		}
	}
	if h := reader.Histogram(t, telemetry.MetricRequestLatency); len(h.DataPoints) != 1 || h.DataPoints[0].Count != 1 || h.DataPoints[0].Sum != 0.03 {
		t.Errorf("latency = %+v, want one point of 0.03 s", h.DataPoints)
	}
}

func hasAttr(as []attribute.KeyValue, key, value string) bool {
	for _, a := range as {
		if string(a.Key) == key && a.Value.Emit() == value {
			return true
		}
	}
	return false
}

// GATEHOUSE_TRACES=stdout and GATEHOUSE_METRICS=stdout write what was
// recorded when the Telemetry shuts down; off records nothing but still
// gives spans ids for log correlation.
func TestNewStdoutAndOff(t *testing.T) {
	var buf strings.Builder
	tel, err := telemetry.New(context.Background(), telemetry.Options{Traces: telemetry.Stdout, Metrics: telemetry.Stdout,
		SampleRatio: 1, Service: "auth", Stdout: &buf})
	if err != nil {
		t.Fatal(err)
	}
	_, span := tel.Tracer("test").Start(context.Background(), "GET /me")
	span.End()
	tel.Metrics.Lockout(context.Background())
	if err := tel.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"Name":"GET /me"`, telemetry.MetricLockouts, `"Value":"auth"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("stdout output lacks %s:\n%.2000s", want, buf.String())
		}
	}
	off, err := telemetry.New(context.Background(), telemetry.Options{Traces: telemetry.Off, Metrics: telemetry.Off})
	if err != nil {
		t.Fatal(err)
	}
	_, span = off.Tracer("test").Start(context.Background(), "x")
	if !span.SpanContext().IsValid() || span.IsRecording() {
		t.Errorf("off: span valid %v, recording %v; want ids and no recording", span.SpanContext().IsValid(), span.IsRecording())
	}
	if _, err := telemetry.New(context.Background(), telemetry.Options{Traces: "zipkin"}); err == nil {
		t.Error("an unknown mode was accepted")
	}
}
