package logging_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
)

// entries parses the JSON lines in buf.
func entries(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var e map[string]any
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("line is not JSON: %v: %s", err, line)
		}
		out = append(out, e)
	}
	return out
}

func only(t *testing.T, buf *bytes.Buffer) map[string]any {
	t.Helper()
	es := entries(t, buf)
	if len(es) != 1 {
		t.Fatalf("got %d entries, want 1: %s", len(es), buf)
	}
	return es[0]
}

func TestCloudLoggingShape(t *testing.T) {
	tests := []struct {
		name  string
		level slog.Level
		want  string
	}{
		{name: "debug", level: slog.LevelDebug, want: "DEBUG"},
		{name: "info", level: slog.LevelInfo, want: "INFO"},
		{name: "warn", level: slog.LevelWarn, want: "WARNING"},
		{name: "error", level: slog.LevelError, want: "ERROR"},
		{name: "above error", level: slog.LevelError + 4, want: "ERROR"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := logging.New(&buf, logging.Options{Level: slog.LevelDebug})
			l.Log(context.Background(), tt.level, "hello", "user_id", "u1")
			e := only(t, &buf)
			if e["severity"] != tt.want || e["message"] != "hello" || e["user_id"] != "u1" {
				t.Errorf("entry = %v, want severity %s, message hello, user_id u1", e, tt.want)
			}
			if _, ok := e["time"].(string); !ok {
				t.Errorf("entry has no time: %v", e)
			}
			for _, k := range []string{"level", "msg"} {
				if _, ok := e[k]; ok {
					t.Errorf("entry has slog key %q: %v", k, e)
				}
			}
		})
	}
}

func TestLevelOption(t *testing.T) {
	tests := []struct {
		name  string
		opts  logging.Options
		debug bool
		info  bool
	}{
		{name: "default is info", opts: logging.Options{}, debug: false, info: true},
		{name: "debug", opts: logging.Options{Level: slog.LevelDebug}, debug: true, info: true},
		{name: "warn", opts: logging.Options{Level: slog.LevelWarn}, debug: false, info: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := logging.New(&buf, tt.opts)
			l.Debug("d")
			l.Info("i")
			got := buf.String()
			if strings.Contains(got, `"message":"d"`) != tt.debug || strings.Contains(got, `"message":"i"`) != tt.info {
				t.Errorf("output %q, want debug=%v info=%v", got, tt.debug, tt.info)
			}
		})
	}
}

func TestTraceCorrelation(t *testing.T) {
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	tests := []struct {
		name      string
		project   string
		headers   map[string]string
		log       func(l *slog.Logger, ctx context.Context)
		wantTrace string
		wantSpan  string
		wantGroup bool
	}{
		{
			name:      "traceparent with project",
			project:   "proj-1",
			headers:   map[string]string{"Traceparent": "00-" + traceID + "-00f067aa0ba902b7-01"},
			log:       func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m") },
			wantTrace: "projects/proj-1/traces/" + traceID,
			wantSpan:  "00f067aa0ba902b7",
		},
		{
			name:      "cloud trace context without project",
			headers:   map[string]string{"X-Cloud-Trace-Context": traceID + "/1;o=1"},
			log:       func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m") },
			wantTrace: traceID,
			wantSpan:  "0000000000000001",
		},
		{
			name:      "trace stays top level inside a group",
			project:   "p",
			headers:   map[string]string{"Traceparent": "00-" + traceID + "-00f067aa0ba902b7-00"},
			log:       func(l *slog.Logger, ctx context.Context) { l.With("a", 1).WithGroup("g").InfoContext(ctx, "m", "b", 2) },
			wantTrace: "projects/p/traces/" + traceID,
			wantSpan:  "00f067aa0ba902b7",
			wantGroup: true,
		},
		{
			name:    "no headers no trace",
			headers: map[string]string{},
			log:     func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m") },
		},
		{
			name:    "garbage header no trace",
			headers: map[string]string{"Traceparent": "00-zz-yy-01"},
			log:     func(l *slog.Logger, ctx context.Context) { l.InfoContext(ctx, "m") },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			var buf bytes.Buffer
			tt.log(logging.New(&buf, logging.Options{ProjectID: tt.project}), logging.WithTrace(r.Context(), r))
			e := only(t, &buf)
			if got, _ := e["logging.googleapis.com/trace"].(string); got != tt.wantTrace {
				t.Errorf("trace = %q, want %q (entry %v)", got, tt.wantTrace, e)
			}
			if got, _ := e["logging.googleapis.com/spanId"].(string); got != tt.wantSpan {
				t.Errorf("spanId = %q, want %q", got, tt.wantSpan)
			}
			if tt.wantGroup {
				g, _ := e["g"].(map[string]any)
				if g["b"] != float64(2) || e["a"] != float64(1) {
					t.Errorf("group attrs misplaced: %v", e)
				}
			}
		})
	}
}

func TestContextWithAttrs(t *testing.T) {
	var buf bytes.Buffer
	l := logging.New(&buf, logging.Options{})
	ctx := logging.ContextWithAttrs(context.Background(), slog.String("request_id", "r1"))
	ctx = logging.ContextWithAttrs(ctx, slog.String("session_token", "tok-abcdef"))
	l.WithGroup("g").InfoContext(ctx, "m")
	e := only(t, &buf)
	if e["request_id"] != "r1" {
		t.Errorf("request_id = %v, want r1: %v", e["request_id"], e)
	}
	if e["session_token"] != logging.Redacted {
		t.Errorf("context attr not redacted: %v", e)
	}
}

// A log line written inside a span carries that span's trace and span ids
// (the request's own span, not the caller's), which Cloud Logging links to
// Cloud Trace; the span's ids win over headers parsed by WithTrace.
func TestOpenTelemetrySpanCorrelation(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()))
	defer tp.Shutdown(context.Background())
	ctx := logging.ContextWithTrace(context.Background(), logging.Trace{TraceID: strings.Repeat("ab", 16), SpanID: strings.Repeat("cd", 8)})
	ctx, span := tp.Tracer("test").Start(ctx, "request")
	defer span.End()
	var buf bytes.Buffer
	logging.New(&buf, logging.Options{ProjectID: "proj-1"}).InfoContext(ctx, "inside")
	e := only(t, &buf)
	sc := span.SpanContext()
	if got, want := e["logging.googleapis.com/trace"], "projects/proj-1/traces/"+sc.TraceID().String(); got != want {
		t.Errorf("trace = %v, want %v", got, want)
	}
	if got, want := e["logging.googleapis.com/spanId"], sc.SpanID().String(); got != want {
		t.Errorf("spanId = %v, want %v", got, want)
	}
	if e["logging.googleapis.com/trace_sampled"] != true {
		t.Errorf("trace_sampled = %v, want true", e["logging.googleapis.com/trace_sampled"])
	}
}
