package telemetry

import (
	"context"
	"sync"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// burst returns a provider whose sampled spans go through a burstProcessor
// to rec, and the processor.
func burst(t *testing.T, sampler sdktrace.Sampler) (*sdktrace.TracerProvider, *burstProcessor, *tracetest.SpanRecorder) {
	rec := tracetest.NewSpanRecorder()
	p := newBurstProcessor(rec)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(p), sdktrace.WithSampler(sampler))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	return tp, p, rec
}

func endSpans(tp *sdktrace.TracerProvider, n int) {
	for range n {
		_, span := tp.Tracer("test").Start(context.Background(), "s")
		span.End()
	}
}

// Ended spans are passed on together when the buffer is full, and the rest
// within burstDelay without anyone flushing: a quiet instance still
// exports its last spans.
func TestBurstProcessorPassesFullBuffersAndLateRest(t *testing.T) {
	tp, _, rec := burst(t, sdktrace.AlwaysSample())
	endSpans(tp, burstSize-1)
	if n := len(rec.Ended()); n != 0 {
		t.Fatalf("%d spans passed before the buffer was full", n)
	}
	endSpans(tp, 1)
	if n := len(rec.Ended()); n != burstSize {
		t.Fatalf("%d spans passed once the buffer was full, want %d", n, burstSize)
	}
	endSpans(tp, 10)
	deadline := time.Now().Add(10 * burstDelay)
	for len(rec.Ended()) < burstSize+10 && time.Now().Before(deadline) {
		time.Sleep(burstDelay / 10)
	}
	if n := len(rec.Ended()); n != burstSize+10 {
		t.Fatalf("%d spans passed %v after the last, want %d", n, 10*burstDelay, burstSize+10)
	}
}

// ForceFlush and Shutdown pass on what is buffered; unsampled spans are
// never buffered.
func TestBurstProcessorFlushAndShutdown(t *testing.T) {
	tp, p, rec := burst(t, sdktrace.AlwaysSample())
	endSpans(tp, 3)
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 3 {
		t.Fatalf("ForceFlush passed %d spans, want 3", n)
	}
	endSpans(tp, 2)
	if err := tp.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.Ended()); n != 5 {
		t.Fatalf("Shutdown left %d spans passed, want 5", n)
	}

	tp, p, rec = burst(t, sdktrace.NeverSample())
	endSpans(tp, 5)
	p.ForceFlush(context.Background())
	if n := len(rec.Ended()); n != 0 || len(p.buf) != 0 {
		t.Fatalf("unsampled spans passed %d, buffered %d", n, len(p.buf))
	}
}

// Spans ended from many goroutines are each passed on exactly once.
func TestBurstProcessorConcurrent(t *testing.T) {
	tp, p, rec := burst(t, sdktrace.AlwaysSample())
	const goroutines, each = 16, 100
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() { endSpans(tp, each) })
	}
	wg.Wait()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, s := range rec.Ended() {
		id := s.SpanContext().SpanID().String()
		if seen[id] {
			t.Fatalf("span %s passed twice", id)
		}
		seen[id] = true
	}
	if len(seen) != goroutines*each {
		t.Fatalf("%d spans passed, want %d", len(seen), goroutines*each)
	}
}
