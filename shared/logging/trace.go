package logging

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
)

// ErrInvalidTrace is wrapped by every error the trace header parsers return.
var ErrInvalidTrace = errors.New("invalid trace header")

// maxTraceHeader bounds the trace headers parsed; longer values are rejected
// without being looked at.
const maxTraceHeader = 512

// Trace identifies the distributed trace and span a request belongs to.
type Trace struct {
	TraceID string // 32 lower-case hex digits, not all zero
	SpanID  string // 16 lower-case hex digits, not all zero; empty if unknown
	Sampled bool
}

// attrs returns the Cloud Logging fields correlating an entry with t.
func (t Trace) attrs(projectID string) []slog.Attr {
	trace := t.TraceID
	if projectID != "" {
		trace = "projects/" + projectID + "/traces/" + t.TraceID
	}
	out := []slog.Attr{slog.String(keyTrace, trace)}
	if t.SpanID != "" {
		out = append(out, slog.String(keySpanID, t.SpanID))
	}
	return append(out, slog.Bool(keyTraceSampled, t.Sampled))
}

type traceKey struct{}

// ContextWithTrace returns a context carrying t; entries logged with it are
// correlated with the trace.
func ContextWithTrace(ctx context.Context, t Trace) context.Context {
	return context.WithValue(ctx, traceKey{}, t)
}

// TraceFromContext returns the trace stored by [ContextWithTrace] or
// [WithTrace], if any.
func TraceFromContext(ctx context.Context) (Trace, bool) {
	t, ok := ctx.Value(traceKey{}).(Trace)
	return t, ok
}

// WithTrace returns ctx carrying the trace of r, taken from its W3C
// traceparent header or, failing that, its X-Cloud-Trace-Context header.
// A request with neither, or with malformed or repeated headers, gets no
// trace: the headers are client-controlled and never cause an error.
func WithTrace(ctx context.Context, r *http.Request) context.Context {
	t, err := TraceFromRequest(r)
	if err != nil {
		return ctx
	}
	return ContextWithTrace(ctx, t)
}

// TraceFromRequest parses the trace headers of r as [WithTrace] does. It
// returns an error wrapping [ErrInvalidTrace] when r carries no usable trace.
func TraceFromRequest(r *http.Request) (Trace, error) {
	if vs := r.Header.Values("Traceparent"); len(vs) == 1 {
		if t, err := ParseTraceparent(vs[0]); err == nil {
			return t, nil
		}
	}
	if vs := r.Header.Values("X-Cloud-Trace-Context"); len(vs) == 1 {
		return ParseCloudTraceContext(vs[0])
	}
	return Trace{}, fmt.Errorf("read trace headers: %w", ErrInvalidTrace)
}

// ParseTraceparent parses a W3C Trace Context traceparent header,
// "VERSION-TRACEID-PARENTID-FLAGS" (https://www.w3.org/TR/trace-context/).
// Version ff, all-zero ids, upper-case hex and, for version 00, anything
// after the flags are rejected with an error wrapping [ErrInvalidTrace].
func ParseTraceparent(h string) (Trace, error) {
	h = strings.Trim(h, " \t")
	if len(h) > maxTraceHeader || len(h) < 55 {
		return Trace{}, fmt.Errorf("parse traceparent: bad length: %w", ErrInvalidTrace)
	}
	version := h[0:2]
	switch {
	case !isLowerHex(version) || version == "ff":
		return Trace{}, fmt.Errorf("parse traceparent: bad version: %w", ErrInvalidTrace)
	case version == "00" && len(h) != 55, len(h) > 55 && h[55] != '-':
		return Trace{}, fmt.Errorf("parse traceparent: trailing data: %w", ErrInvalidTrace)
	case h[2] != '-' || h[35] != '-' || h[52] != '-':
		return Trace{}, fmt.Errorf("parse traceparent: bad separator: %w", ErrInvalidTrace)
	}
	traceID, spanID, flags := h[3:35], h[36:52], h[53:55]
	if !validID(traceID) || !validID(spanID) || !isLowerHex(flags) {
		return Trace{}, fmt.Errorf("parse traceparent: bad id or flags: %w", ErrInvalidTrace)
	}
	f, _ := strconv.ParseUint(flags, 16, 8)
	return Trace{TraceID: traceID, SpanID: spanID, Sampled: f&1 == 1}, nil
}

// ParseCloudTraceContext parses Google Cloud's legacy
// X-Cloud-Trace-Context header, "TRACEID[/SPANID][;o=OPTIONS]", where
// TRACEID is 32 hex digits and SPANID a decimal 64-bit number, converted here
// to 16 hex digits. Malformed input gives an error wrapping [ErrInvalidTrace].
func ParseCloudTraceContext(h string) (Trace, error) {
	h = strings.Trim(h, " \t")
	if len(h) > maxTraceHeader {
		return Trace{}, fmt.Errorf("parse cloud trace context: too long: %w", ErrInvalidTrace)
	}
	rest, opts, hasOpts := strings.Cut(h, ";")
	traceID, span, hasSpan := strings.Cut(rest, "/")
	traceID = strings.ToLower(traceID)
	if len(traceID) != 32 || !validID(traceID) {
		return Trace{}, fmt.Errorf("parse cloud trace context: bad trace id: %w", ErrInvalidTrace)
	}
	t := Trace{TraceID: traceID}
	if hasSpan {
		id, err := strconv.ParseUint(span, 10, 64)
		if err != nil || id == 0 {
			return Trace{}, fmt.Errorf("parse cloud trace context: bad span id: %w", ErrInvalidTrace)
		}
		t.SpanID = fmt.Sprintf("%016x", id)
	}
	if hasOpts {
		switch opts {
		case "o=1":
			t.Sampled = true
		case "o=0":
		default:
			return Trace{}, fmt.Errorf("parse cloud trace context: bad options: %w", ErrInvalidTrace)
		}
	}
	return t, nil
}

// validID reports whether s is lower-case hex and not all zeros.
func validID(s string) bool {
	return isLowerHex(s) && strings.Trim(s, "0") != ""
}

func isLowerHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
