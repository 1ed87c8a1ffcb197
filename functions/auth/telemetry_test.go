package auth

import (
	"net/http"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/telemetry"
	"github.com/gatehouse-dev/gatehouse/shared/telemetry/telemetrytest"
)

// newTracedEnv builds the function on backend b with every span and
// metric recorded.
func newTracedEnv(t *testing.T, b bootstraptest.Backend) (*testEnv, *telemetrytest.Recorder) {
	t.Helper()
	env := bootstraptest.New(t, b.Open(t))
	rec := telemetrytest.New(t)
	if err := env.Instrument(rec.Telemetry); err != nil {
		t.Fatal(err)
	}
	s, h, err := build(env.Deps, Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &testEnv{Env: env, H: h, Server: s, Sessions: s.sessions}, rec
}

// A sign-in continues the caller's trace: the request's server span is a
// child of the incoming traceparent, and the database statements, the KEK
// call and the Argon2id hash are spans under it; the sign-in metrics count
// what happened.
func TestSignInSpanTreeAndMetrics(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te, rec := newTracedEnv(t, b)
		te.signUp(t, "ida@example.com", testPassword)
		before := len(rec.Spans.Ended())
		const traceID, parent = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
		hdr := http.Header{"Traceparent": {"00-" + traceID + "-" + parent + "-01"}}
		if r := te.login(t, "ida@example.com", testPassword, hdr); r.Code != http.StatusOK {
			t.Fatalf("login: %d %s", r.Code, r.Body)
		}
		spans := rec.Spans.Ended()[before:]
		var server sdktrace.ReadOnlySpan
		byID := map[trace.SpanID]sdktrace.ReadOnlySpan{}
		for _, s := range spans {
			byID[s.SpanContext().SpanID()] = s
			if s.SpanKind() == trace.SpanKindServer {
				server = s
			}
		}
		if server == nil || server.Name() != "POST /login" {
			t.Fatalf("no server span POST /login among %d spans", len(spans))
		}
		if server.SpanContext().TraceID().String() != traceID || server.Parent().SpanID().String() != parent {
			t.Fatalf("server span in trace %s under %s, want %s under %s", server.SpanContext().TraceID(),
				server.Parent().SpanID(), traceID, parent)
		}
		under := func(s sdktrace.ReadOnlySpan) bool {
			for p := s.Parent(); p.IsValid(); {
				if p.SpanID() == server.SpanContext().SpanID() {
					return true
				}
				ps, ok := byID[p.SpanID()]
				if !ok {
					return false
				}
				p = ps.Parent()
			}
			return false
		}
		var db, argon int
		for _, s := range spans {
			switch {
			case s == server:
			case !under(s):
				t.Errorf("span %q is not under the request's span", s.Name())
			case s.Name() == "argon2id":
				argon++
			case hasAttr(s.Attributes(), "db.system.name"):
				db++
				if q := attr(s.Attributes(), "db.query.text"); q == "" && s.Name() != "transaction" {
					t.Errorf("database span %q without its statement", s.Name())
				}
			}
		}
		if db == 0 || argon != 1 {
			t.Errorf("under POST /login: %d database spans, %d argon2id spans; want some and exactly one", db, argon)
		}
		var kek int
		for _, s := range rec.Spans.Ended()[:before] {
			if s.Name() == "kek.wrap" || s.Name() == "kek.unwrap" {
				kek++
				if !hasAttr(s.Attributes(), "kek.system") || s.SpanKind() != trace.SpanKindClient {
					t.Errorf("KEK span %q: kind %v, attributes %v", s.Name(), s.SpanKind(), s.Attributes())
				}
			}
		}
		if kek == 0 {
			t.Errorf("sign-up made no KEK span")
		}
		te.login(t, "ida@example.com", otherPassword)
		for _, tc := range []struct {
			name  string
			attrs []attribute.KeyValue
			want  int64
		}{
			{telemetry.MetricSignIns, []attribute.KeyValue{attribute.String("method", "pwd"), attribute.String("outcome", "success")}, 2}, // sign-up confirmation, then the login
			{telemetry.MetricSignIns, []attribute.KeyValue{attribute.String("method", "password"), attribute.String("outcome", "failure")}, 1},
			{telemetry.MetricKMSCalls, []attribute.KeyValue{attribute.String("operation", "wrap"), attribute.String("outcome", "ok")}, 1},
		} {
			if got := rec.Counter(t, tc.name, tc.attrs...); got != tc.want {
				t.Errorf("%s%v = %d, want %d", tc.name, tc.attrs, got, tc.want)
			}
		}
		if hits := rec.Counter(t, telemetry.MetricDataKeyCache, attribute.String("result", "hit")); hits == 0 {
			t.Errorf("no data-key cache hit counted")
		}
	})
}

// Rate-limit denials and lockouts are counted by limit.
//
// Controls: AUTH-3
func TestLimitMetrics(t *testing.T) {
	te, rec := newTracedEnv(t, bootstraptest.Backend{Name: "sqlite", Open: bootstraptest.SQLite})
	te.signUp(t, "ole@example.com", testPassword)
	attacker := fromNetwork("203.0.113.50")
	for range lockoutFailures {
		te.login(t, "ole@example.com", otherPassword, attacker)
	}
	if got := rec.Counter(t, telemetry.MetricLockouts); got != 1 {
		t.Errorf("lockouts = %d after %d failures, want 1", got, lockoutFailures)
	}
	for range 4 {
		te.do(t, "POST", "/magic-link", map[string]string{"email": "ole@example.com"})
	}
	if got := rec.Counter(t, telemetry.MetricRateLimited, attribute.String("limit", "magic-link-account")); got != 1 {
		t.Errorf("magic-link-account denials = %d after 4 requests (burst 3), want 1", got)
	}
}

func hasAttr(as []attribute.KeyValue, key string) bool { return attr(as, key) != "" }

func attr(as []attribute.KeyValue, key string) string {
	for _, a := range as {
		if string(a.Key) == key {
			return a.Value.Emit()
		}
	}
	return ""
}
