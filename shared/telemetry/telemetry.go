// Package telemetry sets up OpenTelemetry for a Gatehouse function: traces
// (a server span per request, child spans for database statements, KEK
// calls, provider calls and Argon2id) exported to Cloud Trace, metrics
// ([Metrics]) exported to Cloud Monitoring, and the propagation of
// incoming W3C traceparent and Google X-Cloud-Trace-Context headers.
//
// A [Telemetry] is built once per process ([New]) and handed to what
// records; nothing here is global, so tests build their own with an
// in-memory span recorder and a manual metric reader ([ForTest]).
package telemetry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	mexporter "github.com/GoogleCloudPlatform/opentelemetry-operations-go/exporter/metric"
	texporter "github.com/GoogleCloudPlatform/opentelemetry-operations-go/exporter/trace"
	cloudprop "github.com/GoogleCloudPlatform/opentelemetry-operations-go/propagator"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/stdout/stdoutmetric"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Exporter modes of GATEHOUSE_TRACES and GATEHOUSE_METRICS.
const (
	Off    = "off"    // traces: spans get ids (logs carry them) but are never recorded; metrics: none
	Stdout = "stdout" // one JSON document per span or collection, to Options.Stdout
	Cloud  = "cloud"  // Cloud Trace / Cloud Monitoring of Options.ProjectID
)

// Options configure [New].
type Options struct {
	Traces, Metrics string  // Off, Stdout or Cloud
	SampleRatio     float64 // share of new traces recorded (0-1); a sampled parent is always followed
	ProjectID       string  // required for Cloud
	Service         string  // service.name: the Cloud Run service, or "gatehouse"
	MetricInterval  time.Duration
	Stdout          io.Writer // for Stdout
}

// Telemetry is what the functions record through.
type Telemetry struct {
	TracerProvider trace.TracerProvider
	MeterProvider  metric.MeterProvider
	Propagator     propagation.TextMapPropagator
	Metrics        *Metrics
	shutdown       []func(context.Context) error
	seriesCache    sync.Map // seriesKey -> *series, see Telemetry.series
	nop            bool     // Middleware and Routes add nothing
}

// Propagator extracts a W3C traceparent, or failing that Google's
// X-Cloud-Trace-Context (which Google's front ends add), from incoming
// requests, and writes traceparent on outgoing ones.
func Propagator() propagation.TextMapPropagator {
	// Extract runs in order and a later valid header wins: traceparent.
	return propagation.NewCompositeTextMapPropagator(cloudprop.CloudTraceOneWayPropagator{}, propagation.TraceContext{})
}

// New builds the providers and exporters o names. The caller must
// Shutdown the Telemetry, which flushes what is buffered.
func New(ctx context.Context, o Options) (*Telemetry, error) {
	res, err := newResource(o.Service)
	if err != nil {
		return nil, err
	}
	t := &Telemetry{Propagator: Propagator()}
	if t.TracerProvider, err = t.tracerProvider(o, res); err != nil {
		return nil, err
	}
	if t.MeterProvider, err = t.meterProvider(ctx, o, res); err != nil {
		t.Shutdown(ctx)
		return nil, err
	}
	if t.Metrics, err = NewMetrics(t.MeterProvider); err != nil {
		t.Shutdown(ctx)
		return nil, err
	}
	return t, nil
}

// newResource names the service and this instance: Cloud Monitoring needs
// each instance's series apart (service.instance.id), or cumulative points
// of two instances collide.
func newResource(service string) (*resource.Resource, error) {
	if service == "" {
		service = "gatehouse"
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("instance id: %w", err)
	}
	return resource.NewSchemaless(attribute.String("service.name", service),
		attribute.String("service.instance.id", hex.EncodeToString(id[:]))), nil
}

func (t *Telemetry) tracerProvider(o Options, res *resource.Resource) (trace.TracerProvider, error) {
	sampler := sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.SampleRatio))
	var exp sdktrace.SpanExporter
	switch o.Traces {
	case Off, "":
		return sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.NeverSample()), sdktrace.WithResource(res)), nil
	case Stdout:
		e, err := stdouttrace.New(stdouttrace.WithWriter(o.Stdout))
		if err != nil {
			return nil, fmt.Errorf("stdout trace exporter: %w", err)
		}
		exp = e
	case Cloud:
		e, err := texporter.New(texporter.WithProjectID(o.ProjectID))
		if err != nil {
			return nil, fmt.Errorf("Cloud Trace exporter: %w", err)
		}
		exp = e
	default:
		return nil, fmt.Errorf("traces: unknown mode %q", o.Traces)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sampler), sdktrace.WithResource(res), sdktrace.WithSpanProcessor(SpanProcessor(exp)))
	t.shutdown = append(t.shutdown, tp.Shutdown)
	return tp, nil
}

func (t *Telemetry) meterProvider(ctx context.Context, o Options, res *resource.Resource) (metric.MeterProvider, error) {
	var exp sdkmetric.Exporter
	switch o.Metrics {
	case Off, "":
		return metricnoop.NewMeterProvider(), nil
	case Stdout:
		e, err := stdoutmetric.New(stdoutmetric.WithWriter(o.Stdout))
		if err != nil {
			return nil, fmt.Errorf("stdout metric exporter: %w", err)
		}
		exp = e
	case Cloud:
		e, err := mexporter.New(mexporter.WithProjectID(o.ProjectID))
		if err != nil {
			return nil, fmt.Errorf("Cloud Monitoring exporter: %w", err)
		}
		exp = e
	default:
		return nil, fmt.Errorf("metrics: unknown mode %q", o.Metrics)
	}
	interval := o.MetricInterval
	if interval <= 0 {
		interval = time.Minute
	}
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithResource(res),
		sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(interval))))
	t.shutdown = append(t.shutdown, mp.Shutdown)
	return mp, nil
}

// Nop returns a Telemetry that records nothing, gives spans no ids and
// whose Middleware and Routes return their handler unchanged: the
// uninstrumented path (tests, and the baseline of the overhead benchmark).
func Nop() *Telemetry {
	t := &Telemetry{TracerProvider: tracenoop.NewTracerProvider(), MeterProvider: metricnoop.NewMeterProvider(),
		Propagator: Propagator(), nop: true}
	t.Metrics, _ = NewMetrics(t.MeterProvider)
	return t
}

// ForTest returns a Telemetry recording every span to tp and every
// measurement to mp (tests: a tracetest recorder and a manual reader).
func ForTest(tp trace.TracerProvider, mp metric.MeterProvider) (*Telemetry, error) {
	t := &Telemetry{TracerProvider: tp, MeterProvider: mp, Propagator: Propagator()}
	var err error
	t.Metrics, err = NewMetrics(mp)
	return t, err
}

// Tracer returns the tracer of an instrumented package (its import path).
func (t *Telemetry) Tracer(name string) trace.Tracer { return t.TracerProvider.Tracer(name) }

// Shutdown flushes and stops the exporters.
func (t *Telemetry) Shutdown(ctx context.Context) error {
	var errs []error
	for _, f := range t.shutdown {
		errs = append(errs, f(ctx))
	}
	t.shutdown = nil
	return errors.Join(errs...)
}
