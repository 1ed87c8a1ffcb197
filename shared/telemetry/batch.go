package telemetry

import (
	"context"
	"sync"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// SpanProcessor returns the span processor of a deployed Telemetry: the
// SDK's batch span processor exporting to exp, fed in bursts.
//
// The batch processor's goroutine waits on a channel, so a span sent to it
// alone wakes it, and with more than one CPU an idle thread to run it:
// measured on token validation with every trace sampled, that hand-off was
// most of what instrumentation cost (BenchmarkTelemetryOverhead). Here an
// ended span joins a small buffer; a full buffer, a timer, ForceFlush and
// Shutdown pass the buffer on at once, so one wake-up serves many spans.
// Batching, export, the queue's bound and dropping stay the SDK's.
func SpanProcessor(exp sdktrace.SpanExporter) sdktrace.SpanProcessor {
	return newBurstProcessor(sdktrace.NewBatchSpanProcessor(exp))
}

func newBurstProcessor(next sdktrace.SpanProcessor) *burstProcessor {
	p := &burstProcessor{next: next}
	p.timer = time.AfterFunc(time.Hour, p.flush)
	p.timer.Stop()
	return p
}

const (
	burstSize  = 256                    // spans passed on together
	burstDelay = 500 * time.Millisecond // longest a span waits in the buffer
)

type burstProcessor struct {
	next  sdktrace.SpanProcessor
	timer *time.Timer // runs flush burstDelay after a span enters an empty buffer
	mu    sync.Mutex
	buf   []sdktrace.ReadOnlySpan
}

func (p *burstProcessor) OnStart(ctx context.Context, s sdktrace.ReadWriteSpan) {
	p.next.OnStart(ctx, s)
}

func (p *burstProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return // the batch processor would drop it too
	}
	p.mu.Lock()
	if len(p.buf) == 0 {
		p.timer.Reset(burstDelay)
	}
	p.buf = append(p.buf, s)
	var full []sdktrace.ReadOnlySpan
	if len(p.buf) >= burstSize {
		full, p.buf = p.buf, make([]sdktrace.ReadOnlySpan, 0, burstSize)
	}
	p.mu.Unlock()
	p.pass(full)
}

func (p *burstProcessor) flush() {
	p.mu.Lock()
	spans := p.buf
	p.buf = nil
	p.mu.Unlock()
	p.pass(spans)
}

func (p *burstProcessor) pass(spans []sdktrace.ReadOnlySpan) {
	for _, s := range spans {
		p.next.OnEnd(s)
	}
}

func (p *burstProcessor) ForceFlush(ctx context.Context) error {
	p.flush()
	return p.next.ForceFlush(ctx)
}

func (p *burstProcessor) Shutdown(ctx context.Context) error {
	p.timer.Stop()
	p.flush()
	return p.next.Shutdown(ctx)
}
