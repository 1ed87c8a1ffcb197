// Package logging builds the structured logger every Gatehouse function uses:
// JSON lines in the shape Google Cloud Logging understands (severity, message,
// time, trace correlation), with secrets redacted before anything is written.
//
// Redaction works at three levels. A [Secret] prints "[REDACTED]" wherever it
// is formatted, marshalled or logged. An attribute whose key names a secret
// (see [SensitiveKey]) has its value replaced, also inside groups and inside
// maps and structs logged as values. What neither covers, such as a secret
// pasted into a message string or an error text, is the caller's
// responsibility; the logtest package catches those in tests.
package logging

import (
	"context"
	"io"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// Options configures [New].
type Options struct {
	// Level is the minimum level logged; nil means slog.LevelInfo.
	Level slog.Leveler
	// ProjectID is the Google Cloud project whose trace resource names appear
	// in logging.googleapis.com/trace. When empty the bare trace id is used.
	ProjectID string
	// AddSource records the caller as logging.googleapis.com/sourceLocation.
	AddSource bool
}

// Cloud Logging field names recognised in structured JSON payloads.
const (
	keySeverity     = "severity"
	keyMessage      = "message"
	keyTime         = "time"
	keyTrace        = "logging.googleapis.com/trace"
	keySpanID       = "logging.googleapis.com/spanId"
	keyTraceSampled = "logging.googleapis.com/trace_sampled"
	keySource       = "logging.googleapis.com/sourceLocation"
)

// New returns a logger that writes one JSON object per line to w. Each line
// has severity (DEBUG, INFO, WARNING or ERROR), message and time, the trace
// and span of the request when the context passed to the logging call carries
// one (see [WithTrace]), any attributes added with [ContextWithAttrs], and
// the record's attributes with secrets redacted.
func New(w io.Writer, opts Options) *slog.Logger {
	level := opts.Level
	if level == nil {
		level = slog.LevelInfo
	}
	base := slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level:       level,
		AddSource:   opts.AddSource,
		ReplaceAttr: replaceAttr,
	})
	return slog.New(&handler{base: base, inner: base, projectID: opts.ProjectID})
}

// handler wraps a JSON handler so that per-request attributes taken from the
// context (trace, request id) always land at the top level of the entry, even
// when the logger has open groups.
type handler struct {
	base      slog.Handler // JSON handler with no attributes or groups
	inner     slog.Handler // base with every WithAttrs and WithGroup applied
	steps     []step       // the WithAttrs and WithGroup calls, in order
	grouped   bool         // whether any step opens a group
	projectID string
}

// step records one WithAttrs or WithGroup call.
type step struct {
	group string
	attrs []slog.Attr
}

func (h *handler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	extra := h.contextAttrs(ctx)
	if len(extra) == 0 {
		return h.inner.Handle(ctx, r)
	}
	if !h.grouped {
		r = r.Clone()
		r.AddAttrs(extra...)
		return h.inner.Handle(ctx, r)
	}
	top := h.base.WithAttrs(extra)
	return replay(top, h.steps).Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	if len(attrs) == 0 {
		return h
	}
	return h.with(step{attrs: attrs})
}

func (h *handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return h.with(step{group: name})
}

func (h *handler) with(s step) *handler {
	steps := make([]step, len(h.steps), len(h.steps)+1)
	copy(steps, h.steps)
	return &handler{
		base:      h.base,
		inner:     replay(h.inner, []step{s}),
		steps:     append(steps, s),
		grouped:   h.grouped || s.group != "",
		projectID: h.projectID,
	}
}

func replay(h slog.Handler, steps []step) slog.Handler {
	for _, s := range steps {
		if s.group != "" {
			h = h.WithGroup(s.group)
		} else {
			h = h.WithAttrs(s.attrs)
		}
	}
	return h
}

// contextAttrs returns the trace attributes and the attributes stored with
// [ContextWithAttrs] for ctx. The trace and span are those of the
// OpenTelemetry span ctx carries (the request's server span, or a child),
// else those parsed from the request's headers ([WithTrace]).
func (h *handler) contextAttrs(ctx context.Context) []slog.Attr {
	if ctx == nil {
		return nil
	}
	var out []slog.Attr
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		tr := Trace{TraceID: sc.TraceID().String(), SpanID: sc.SpanID().String(), Sampled: sc.IsSampled()}
		out = append(out, tr.attrs(h.projectID)...)
	} else if tr, ok := TraceFromContext(ctx); ok {
		out = append(out, tr.attrs(h.projectID)...)
	}
	if as, ok := ctx.Value(attrsKey{}).([]slog.Attr); ok {
		out = append(out, as...)
	}
	return out
}

type attrsKey struct{}

// ContextWithAttrs returns a context whose log entries carry attrs (for
// example the request id) in addition to any attributes ctx already carries.
// The attributes are redacted like any other.
func ContextWithAttrs(ctx context.Context, attrs ...slog.Attr) context.Context {
	prev, _ := ctx.Value(attrsKey{}).([]slog.Attr)
	all := make([]slog.Attr, 0, len(prev)+len(attrs))
	all = append(append(all, prev...), attrs...)
	return context.WithValue(ctx, attrsKey{}, all)
}
