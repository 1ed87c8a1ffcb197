// Package telemetrytest records what a [telemetry.Telemetry] emits, for
// tests: every span, sampled, in an in-memory recorder, and metrics through
// a manual reader whose values tests assert.
package telemetrytest

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse-dev/gatehouse/shared/telemetry"
)

// Recorder is a Telemetry with what it recorded.
type Recorder struct {
	*telemetry.Telemetry
	Spans  *tracetest.SpanRecorder
	Reader *sdkmetric.ManualReader
}

// New returns a Recorder that samples every trace.
func New(t testing.TB) *Recorder {
	t.Helper()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	tel, err := telemetry.ForTest(tp, mp)
	if err != nil {
		t.Fatal(err)
	}
	return &Recorder{Telemetry: tel, Spans: spans, Reader: reader}
}

// Metric returns the metric called name, if it has been recorded.
func (r *Recorder) Metric(t testing.TB, name string) (metricdata.Metrics, bool) {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := r.Reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name == name {
				return m, true
			}
		}
	}
	return metricdata.Metrics{}, false
}

// Counter returns the value of the counter called name for exactly attrs:
// 0 when there is no such series.
func (r *Recorder) Counter(t testing.TB, name string, attrs ...attribute.KeyValue) int64 {
	t.Helper()
	m, ok := r.Metric(t, name)
	if !ok {
		return 0
	}
	want := attribute.NewSet(attrs...)
	for _, dp := range m.Data.(metricdata.Sum[int64]).DataPoints {
		if dp.Attributes.Equals(&want) {
			return dp.Value
		}
	}
	return 0
}

// Histogram returns the histogram called name, failing t if none was
// recorded.
func (r *Recorder) Histogram(t testing.TB, name string) metricdata.Histogram[float64] {
	t.Helper()
	m, ok := r.Metric(t, name)
	if !ok {
		t.Fatalf("no metric %s", name)
	}
	return m.Data.(metricdata.Histogram[float64])
}
