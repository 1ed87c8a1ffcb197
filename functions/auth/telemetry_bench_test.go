package auth

import (
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/telemetry"
)

// BenchmarkTelemetryOverhead measures what instrumentation costs on token
// validation (GET /me with a bearer token: Ed25519 verification, the
// session row, the user row) against the same path with no instrumentation
// at all (telemetry.Nop: no middleware, no spans, no metrics), in the same
// run, in alternating chunks of requests. Instrumented is as deployed: the
// SDK tracer with a batch processor (to an exporter that discards) at the
// given sample ratio, and the SDK meter provider. Reports
// ratio = median instrumented time per request / median plain time per
// request, and the allocations per request of each, which unlike times do
// not depend on what else the machine runs. Target: ratio < 1.05
// (docs/operations.md).
func BenchmarkTelemetryOverhead(b *testing.B) {
	for _, be := range bootstraptest.Backends {
		for _, sample := range []float64{1, 0.1, 0} {
			b.Run(be.Name+"/sample="+strconv.FormatFloat(sample, 'g', -1, 64), func(b *testing.B) {
				plain := newTestEnv(b, be)
				traced := newBenchTracedEnv(b, be, sample)
				auth := func(te *testEnv) http.Header {
					tk := te.signUp(b, "bench@example.com", testPassword)
					return http.Header{"Authorization": {"Bearer " + tk.AccessToken}}
				}
				envs := []*testEnv{plain, traced}
				hdrs := []http.Header{auth(plain), auth(traced)}
				const chunk = 25
				var per [2][]float64
				b.ResetTimer()
				for done, round := 0, 0; done < b.N; round++ {
					for k := range 2 {
						i := k ^ round&1 // ABBA: neither side always goes first
						start := time.Now()
						for range chunk {
							if rec := envs[i].do(b, "GET", "/me", nil, hdrs[i]); rec.Code != http.StatusOK {
								b.Fatalf("GET /me: %d %s", rec.Code, rec.Body)
							}
						}
						per[i] = append(per[i], float64(time.Since(start).Nanoseconds())/chunk)
					}
					done += 2 * chunk
				}
				b.StopTimer()
				// Allocations do not depend on what else the machine runs.
				for i, name := range []string{"plain-allocs/req", "instrumented-allocs/req"} {
					b.ReportMetric(testing.AllocsPerRun(50, func() { envs[i].do(b, "GET", "/me", nil, hdrs[i]) }), name)
				}
				p, t := medianFloat(per[0]), medianFloat(per[1])
				b.ReportMetric(p/1e3, "plain-µs/req")
				b.ReportMetric(t/1e3, "instrumented-µs/req")
				b.ReportMetric(t/p, "ratio")
			})
		}
	}
}

func medianFloat(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func newBenchTracedEnv(b *testing.B, be bootstraptest.Backend, sample float64) *testEnv {
	b.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(sample))))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() { tp.Shutdown(b.Context()); mp.Shutdown(b.Context()) })
	tel, err := telemetry.ForTest(tp, mp)
	if err != nil {
		b.Fatal(err)
	}
	env := bootstraptest.New(b, be.Open(b))
	if err := env.Instrument(tel); err != nil {
		b.Fatal(err)
	}
	s, h, err := build(env.Deps, Config{}, nil)
	if err != nil {
		b.Fatal(err)
	}
	return &testEnv{Env: env, H: h, Server: s, Sessions: s.sessions}
}
