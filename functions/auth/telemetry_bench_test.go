package auth

import (
	"net/http"
	"slices"
	"strconv"
	"syscall"
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
// run, in alternating chunks of requests after a warm-up of both.
// Instrumented is as deployed: the SDK tracer with a batch processor (to an
// exporter that discards) at the given sample ratio, and the SDK meter
// provider. Reports ratio = median instrumented wall time per request /
// median plain one, cpu-ratio = the same of the process's CPU time (all
// its threads: the batch processor's goroutine and the garbage collector
// count, time spent waiting for other processes does not, so it moves
// less with the machine's load), and the allocations per request of each,
// which do not depend on what else the machine runs at all. Target:
// ratio < 1.05 (docs/operations.md).
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
				get := func(i int) {
					if rec := envs[i].do(b, "GET", "/me", nil, hdrs[i]); rec.Code != http.StatusOK {
						b.Fatalf("GET /me: %d %s", rec.Code, rec.Body)
					}
				}
				// Warm-up: prepared statements, caches, the batch processor.
				for range 100 {
					get(0)
					get(1)
				}
				const chunk = 25
				var wall, cpu [2][]float64
				b.ResetTimer()
				for done, round := 0, 0; done < b.N; round++ {
					for k := range 2 {
						i := k ^ round&1 // ABBA: neither side always goes first
						start, cpu0 := time.Now(), processCPU(b)
						for range chunk {
							get(i)
						}
						wall[i] = append(wall[i], float64(time.Since(start).Nanoseconds())/chunk)
						cpu[i] = append(cpu[i], float64((processCPU(b)-cpu0).Nanoseconds())/chunk)
					}
					done += 2 * chunk
				}
				b.StopTimer()
				for i, name := range []string{"plain-allocs/req", "instrumented-allocs/req"} {
					b.ReportMetric(testing.AllocsPerRun(50, func() { get(i) }), name)
				}
				p, t := medianFloat(wall[0]), medianFloat(wall[1])
				b.ReportMetric(p/1e3, "plain-µs/req")
				b.ReportMetric(t/1e3, "instrumented-µs/req")
				b.ReportMetric(t/p, "ratio")
				b.ReportMetric(medianFloat(cpu[1])/medianFloat(cpu[0]), "cpu-ratio")
			})
		}
	}
}

// processCPU is the CPU time the process has used, user and system, in
// all its threads.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func medianFloat(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func newBenchTracedEnv(b *testing.B, be bootstraptest.Backend, sample float64) *testEnv {
	b.Helper()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(telemetry.SpanProcessor(tracetest.NewNoopExporter())),
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
