package logging_test

import (
	"errors"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/logging"
)

const (
	tid = "4bf92f3577b34da6a3ce929d0e0e4736"
	sid = "00f067aa0ba902b7"
)

func TestParseTraceparent(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    logging.Trace
		wantErr bool
	}{
		{name: "sampled", in: "00-" + tid + "-" + sid + "-01", want: logging.Trace{TraceID: tid, SpanID: sid, Sampled: true}},
		{name: "not sampled", in: "00-" + tid + "-" + sid + "-00", want: logging.Trace{TraceID: tid, SpanID: sid}},
		{name: "surrounding spaces", in: " 00-" + tid + "-" + sid + "-01 ", want: logging.Trace{TraceID: tid, SpanID: sid, Sampled: true}},
		{name: "future version with suffix", in: "cc-" + tid + "-" + sid + "-01-what-ever", want: logging.Trace{TraceID: tid, SpanID: sid, Sampled: true}},
		{name: "future version without suffix", in: "01-" + tid + "-" + sid + "-03", want: logging.Trace{TraceID: tid, SpanID: sid, Sampled: true}},
		{name: "version ff", in: "ff-" + tid + "-" + sid + "-01", wantErr: true},
		{name: "version 00 with suffix", in: "00-" + tid + "-" + sid + "-01-x", wantErr: true},
		{name: "future version bad suffix", in: "01-" + tid + "-" + sid + "-01x", wantErr: true},
		{name: "upper case", in: "00-" + strings.ToUpper(tid) + "-" + sid + "-01", wantErr: true},
		{name: "zero trace id", in: "00-" + strings.Repeat("0", 32) + "-" + sid + "-01", wantErr: true},
		{name: "zero span id", in: "00-" + tid + "-" + strings.Repeat("0", 16) + "-01", wantErr: true},
		{name: "bad separator", in: "00_" + tid + "-" + sid + "-01", wantErr: true},
		{name: "short", in: "00-" + tid[:31] + "-" + sid + "-01", wantErr: true},
		{name: "bad flags", in: "00-" + tid + "-" + sid + "-0g", wantErr: true},
		{name: "empty", in: "", wantErr: true},
		{name: "huge", in: "cc-" + tid + "-" + sid + "-01-" + strings.Repeat("a", 1000), wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := logging.ParseTraceparent(tt.in)
			if tt.wantErr {
				if !errors.Is(err, logging.ErrInvalidTrace) {
					t.Errorf("err = %v, want ErrInvalidTrace", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseCloudTraceContext(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    logging.Trace
		wantErr bool
	}{
		{name: "full", in: tid + "/1;o=1", want: logging.Trace{TraceID: tid, SpanID: "0000000000000001", Sampled: true}},
		{name: "max span", in: tid + "/18446744073709551615;o=0", want: logging.Trace{TraceID: tid, SpanID: "ffffffffffffffff"}},
		{name: "no options", in: tid + "/123", want: logging.Trace{TraceID: tid, SpanID: "000000000000007b"}},
		{name: "trace only", in: tid, want: logging.Trace{TraceID: tid}},
		{name: "upper case trace lowered", in: strings.ToUpper(tid) + ";o=1", want: logging.Trace{TraceID: tid, Sampled: true}},
		{name: "span overflow", in: tid + "/18446744073709551616", wantErr: true},
		{name: "span zero", in: tid + "/0", wantErr: true},
		{name: "span sign", in: tid + "/+5", wantErr: true},
		{name: "span empty", in: tid + "/;o=1", wantErr: true},
		{name: "span hex", in: tid + "/ab", wantErr: true},
		{name: "bad options", in: tid + "/1;o=2", wantErr: true},
		{name: "short trace", in: tid[:30] + "/1", wantErr: true},
		{name: "zero trace", in: strings.Repeat("0", 32) + "/1", wantErr: true},
		{name: "non hex", in: strings.Repeat("z", 32), wantErr: true},
		{name: "empty", in: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := logging.ParseCloudTraceContext(tt.in)
			if tt.wantErr {
				if !errors.Is(err, logging.ErrInvalidTrace) {
					t.Errorf("err = %v, want ErrInvalidTrace", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestTraceFromRequestPrecedence(t *testing.T) {
	other := "0af7651916cd43dd8448eb211c80319c"
	tests := []struct {
		name    string
		headers [][2]string
		want    string
		wantErr bool
	}{
		{name: "traceparent wins", headers: [][2]string{{"Traceparent", "00-" + tid + "-" + sid + "-01"}, {"X-Cloud-Trace-Context", other + "/1"}}, want: tid},
		{name: "bad traceparent falls back", headers: [][2]string{{"Traceparent", "junk"}, {"X-Cloud-Trace-Context", other + "/1"}}, want: other},
		{name: "repeated traceparent ignored", headers: [][2]string{{"Traceparent", "00-" + tid + "-" + sid + "-01"}, {"Traceparent", "00-" + other + "-" + sid + "-01"}}, wantErr: true},
		{name: "none", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			for _, h := range tt.headers {
				r.Header.Add(h[0], h[1])
			}
			got, err := logging.TraceFromRequest(r)
			if tt.wantErr {
				if err == nil {
					t.Errorf("got %+v, want error", got)
				}
				if _, ok := logging.TraceFromContext(logging.WithTrace(r.Context(), r)); ok {
					t.Errorf("WithTrace stored a trace for a bad request")
				}
				return
			}
			if err != nil || got.TraceID != tt.want {
				t.Errorf("got %+v, %v; want trace %s", got, err, tt.want)
			}
		})
	}
}

// checkTrace asserts the invariants of any successfully parsed trace.
func checkTrace(t *testing.T, in string, tr logging.Trace) {
	t.Helper()
	if len(tr.TraceID) != 32 || strings.Trim(tr.TraceID, "0123456789abcdef") != "" || strings.Trim(tr.TraceID, "0") == "" {
		t.Fatalf("%q: bad trace id %q", in, tr.TraceID)
	}
	if tr.SpanID != "" && (len(tr.SpanID) != 16 || strings.Trim(tr.SpanID, "0123456789abcdef") != "" || strings.Trim(tr.SpanID, "0") == "") {
		t.Fatalf("%q: bad span id %q", in, tr.SpanID)
	}
}

// Controls: APP-6
func FuzzParseTraceparent(f *testing.F) {
	for _, s := range []string{"00-" + tid + "-" + sid + "-01", "cc-" + tid + "-" + sid + "-01-x", "ff-", "", "00-" + tid + "-" + sid + "-01\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tr, err := logging.ParseTraceparent(in)
		if err != nil {
			if !errors.Is(err, logging.ErrInvalidTrace) {
				t.Fatalf("error %v does not wrap ErrInvalidTrace", err)
			}
			return
		}
		checkTrace(t, in, tr)
		if tr.SpanID == "" {
			t.Fatalf("%q: traceparent without span id", in)
		}
	})
}

// Controls: APP-6
func FuzzParseCloudTraceContext(f *testing.F) {
	for _, s := range []string{tid + "/1;o=1", tid, tid + "/18446744073709551616", "/;", ";o=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		tr, err := logging.ParseCloudTraceContext(in)
		if err != nil {
			if !errors.Is(err, logging.ErrInvalidTrace) {
				t.Fatalf("error %v does not wrap ErrInvalidTrace", err)
			}
			return
		}
		checkTrace(t, in, tr)
	})
}
