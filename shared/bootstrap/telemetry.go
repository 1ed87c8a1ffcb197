package bootstrap

import (
	"context"
	"os"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/telemetry"
)

// openTelemetry builds the exporters base names; on Cloud Run the service
// name is K_SERVICE.
func openTelemetry(ctx context.Context, base config.Base, d *Deps) error {
	service := os.Getenv("K_SERVICE")
	t, err := telemetry.New(ctx, telemetry.Options{Traces: base.Traces, Metrics: base.Metrics,
		SampleRatio: base.TraceSampleRatio, ProjectID: base.ProjectID, Service: service, Stdout: os.Stdout})
	if err != nil {
		return err
	}
	d.Telemetry = t
	d.closers = append(d.closers, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		t.Shutdown(ctx)
	})
	return nil
}

// Instrument makes d's store, KEK, keyring and limiter record to t: spans
// for statements and KEK calls, and the KEK, data-key cache and rate-limit
// metrics. Open calls it; tests that swap d.Telemetry call it again.
func (d *Deps) Instrument(t *telemetry.Telemetry) error {
	d.Telemetry = t
	if s, ok := d.Store.(interface {
		Instrument(trace.TracerProvider, string)
	}); ok {
		s.Instrument(t.TracerProvider, storeSystem(d.Config))
	}
	if d.KEK != nil {
		if tk, ok := d.KEK.(*tracedKEK); ok {
			d.KEK = tk.KEK
		}
		d.KEK = &tracedKEK{KEK: d.KEK, tr: t.Tracer("github.com/gatehouse-dev/gatehouse/shared/envelope"), m: t.Metrics,
			attrs: []attribute.KeyValue{attribute.String("kek.system", kekSystem(d.Config))}}
		kr, err := envelope.New(d.Store, d.KEK, envelope.Options{Now: d.Now, Rand: d.Rand, CacheLookup: t.Metrics.DataKeyCache,
			Events: d.Events})
		if err != nil {
			return err
		}
		d.Keyring = kr
	}
	if d.Limiter != nil {
		d.Limiter.OnDenial(t.Metrics.RateLimited)
	}
	return nil
}

func storeSystem(c config.Base) string {
	if c.UsesSQLite() {
		return "sqlite"
	}
	return "postgresql"
}

func kekSystem(c config.Base) string {
	if c.KMSKey == "" {
		return "local"
	}
	return "gcp.kms"
}

// tracedKEK makes each KEK call a span and counts it.
type tracedKEK struct {
	envelope.KEK
	tr    trace.Tracer
	m     *telemetry.Metrics
	attrs []attribute.KeyValue // kek.system
}

// kekSpan are the start options of a KEK call's span, built once.
var kekSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

func (k *tracedKEK) Wrap(ctx context.Context, plaintext, aad []byte) ([]byte, string, error) {
	ctx, span := k.start(ctx, "kek.wrap")
	w, v, err := k.KEK.Wrap(ctx, plaintext, aad)
	k.end(ctx, span, "wrap", err)
	return w, v, err
}

func (k *tracedKEK) Unwrap(ctx context.Context, wrapped, aad []byte) ([]byte, error) {
	ctx, span := k.start(ctx, "kek.unwrap")
	p, err := k.KEK.Unwrap(ctx, wrapped, aad)
	k.end(ctx, span, "unwrap", err)
	return p, err
}

func (k *tracedKEK) start(ctx context.Context, name string) (context.Context, trace.Span) {
	ctx, span := k.tr.Start(ctx, name, kekSpan...)
	if span.IsRecording() {
		span.SetAttributes(k.attrs...)
	}
	return ctx, span
}

func (k *tracedKEK) end(ctx context.Context, span trace.Span, op string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
		span.RecordError(err)
		span.SetStatus(codes.Error, op+" failed")
	}
	k.m.KMSCall(ctx, op, outcome)
	span.End()
}
