package web_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/logging/logtest"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

type errorBody struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

// serve runs h through web.Handler with a capturing logger.
func serve(t *testing.T, h web.HandlerFunc) (*httptest.ResponseRecorder, *logtest.Capture) {
	t.Helper()
	logger, logs := logtest.New(t)
	rec := httptest.NewRecorder()
	web.Handler(logger, h).ServeHTTP(rec, httptest.NewRequest("POST", "/v1/thing", nil))
	return rec, logs
}

func decodeError(t *testing.T, rec *httptest.ResponseRecorder) errorBody {
	t.Helper()
	var b errorBody
	dec := json.NewDecoder(rec.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&b); err != nil {
		t.Fatalf("error body is not the standard shape: %v", err)
	}
	return b
}

// Controls: APP-1, APP-6
func TestErrorResponses(t *testing.T) {
	secretCause := errors.New("pq: password authentication failed for db-secret-xyz")
	tests := []struct {
		name       string
		err        error
		status     int
		code       string
		message    string
		fields     map[string]string
		retryAfter string
	}{
		{name: "invalid", err: web.Invalid(map[string]string{"email": "must be a valid email address"}), status: 400, code: "invalid_request", message: "The request is invalid.", fields: map[string]string{"email": "must be a valid email address"}},
		{name: "bad request", err: web.BadRequest("bad_thing", "Bad thing."), status: 400, code: "bad_thing", message: "Bad thing."},
		{name: "unauthorized", err: web.Unauthorized("invalid_credentials", "Wrong email or password."), status: 401, code: "invalid_credentials", message: "Wrong email or password."},
		{name: "forbidden", err: web.Forbidden(), status: 403, code: "forbidden", message: "Forbidden."},
		{name: "not found", err: web.NotFound(), status: 404, code: "not_found", message: "Not found."},
		{name: "conflict", err: web.Conflict("email_taken", "Taken."), status: 409, code: "email_taken", message: "Taken."},
		{name: "too large", err: web.TooLarge(), status: 413, code: "too_large", message: "The request body is too large."},
		{name: "unsupported media type", err: web.UnsupportedMediaType(), status: 415, code: "unsupported_media_type", message: "The request body must be application/json."},
		{name: "429 rounds up", err: web.TooManyRequests(1500 * time.Millisecond), status: 429, code: "rate_limited", message: "Too many requests.", retryAfter: "2"},
		{name: "429 whole seconds", err: web.TooManyRequests(30 * time.Second), status: 429, code: "rate_limited", message: "Too many requests.", retryAfter: "30"},
		{name: "429 just over", err: web.TooManyRequests(59*time.Second + time.Millisecond), status: 429, code: "rate_limited", message: "Too many requests.", retryAfter: "60"},
		{name: "429 zero is one", err: web.TooManyRequests(0), status: 429, code: "rate_limited", message: "Too many requests.", retryAfter: "1"},
		{name: "429 negative is one", err: web.TooManyRequests(-time.Hour), status: 429, code: "rate_limited", message: "Too many requests.", retryAfter: "1"},
		{name: "unavailable hides cause", err: web.Unavailable(secretCause), status: 503, code: "unavailable", message: "The service is temporarily unavailable."},
		{name: "plain error is internal", err: secretCause, status: 500, code: "internal", message: "Internal error."},
		{name: "wrapped web error found", err: fmt.Errorf("load user: %w", web.NotFound()), status: 404, code: "not_found", message: "Not found."},
		{name: "with cause keeps client view", err: web.Forbidden().WithCause(secretCause), status: 403, code: "forbidden", message: "Forbidden."},
		{name: "bad status becomes internal", err: &web.Error{Status: 200, Code: "ok", Message: "fine"}, status: 500, code: "internal", message: "Internal error."},
		{name: "missing code and message filled", err: &web.Error{Status: 418}, status: 418, code: "i'm_a_teapot", message: "I'm a teapot."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, _ := serve(t, func(http.ResponseWriter, *http.Request) error { return tt.err })
			if rec.Code != tt.status {
				t.Errorf("status = %d, want %d", rec.Code, tt.status)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", ct)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.retryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.retryAfter)
			}
			raw := rec.Body.String()
			if strings.Contains(raw, "db-secret-xyz") || strings.Contains(raw, "pq:") {
				t.Errorf("body leaks the cause: %s", raw)
			}
			b := decodeError(t, rec)
			if b.Error.Code != tt.code || b.Error.Message != tt.message || fmt.Sprint(b.Error.Fields) != fmt.Sprint(tt.fields) {
				t.Errorf("body = %+v, want code %q message %q fields %v", b.Error, tt.code, tt.message, tt.fields)
			}
		})
	}
}

// Controls: APP-6
func TestInternalErrorExactBodyAndLog(t *testing.T) {
	cause := errors.New("connect to db: refused")
	rec, logs := serve(t, func(http.ResponseWriter, *http.Request) error { return fmt.Errorf("load org: %w", cause) })
	if got, want := rec.Body.String(), `{"error":{"code":"internal","message":"Internal error."}}`+"\n"; got != want {
		t.Errorf("body = %q, want %q", got, want)
	}
	es := logs.Find("request failed")
	if len(es) != 1 || es[0].Severity() != "ERROR" || es[0].String("error") != "load org: connect to db: refused" {
		t.Errorf("log entries = %v, want one ERROR with the cause", es)
	}
}

func TestClientErrorLoggedAtInfo(t *testing.T) {
	_, logs := serve(t, func(http.ResponseWriter, *http.Request) error {
		return web.Unauthorized("invalid_credentials", "No.").WithCause(errors.New("user not found"))
	})
	es := logs.Find("request rejected")
	if len(es) != 1 || es[0].Severity() != "INFO" || es[0].String("error_code") != "invalid_credentials" || es[0].String("error") != "user not found" {
		t.Errorf("log entries = %v", es)
	}
}

// Controls: APP-6
func TestHandlerRecoversPanic(t *testing.T) {
	tests := []struct {
		name  string
		h     web.HandlerFunc
		panic string
	}{
		{name: "string panic", h: func(http.ResponseWriter, *http.Request) error { panic("boom at step 3") }, panic: "boom at step 3"},
		{name: "nil map write", h: func(http.ResponseWriter, *http.Request) error {
			var m map[string]int
			m["x"] = 1
			return nil
		}, panic: "assignment to entry in nil map"},
		{name: "index out of range", h: func(_ http.ResponseWriter, r *http.Request) error {
			_ = strings.Fields(r.URL.Path)[5]
			return nil
		}, panic: "index out of range"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, logs := serve(t, tt.h)
			if rec.Code != 500 {
				t.Errorf("status = %d, want 500", rec.Code)
			}
			body := rec.Body.String()
			if strings.Contains(body, "goroutine") || strings.Contains(body, tt.panic) || strings.Contains(body, ".go:") {
				t.Errorf("body leaks panic details: %s", body)
			}
			if b := decodeError(t, rec); b.Error.Code != "internal" {
				t.Errorf("code = %q, want internal", b.Error.Code)
			}
			es := logs.Find("handler panicked")
			if len(es) != 1 || !strings.Contains(es[0].String("panic"), tt.panic) || !strings.Contains(es[0].String("stack"), "goroutine") {
				t.Errorf("panic log = %v", es)
			}
		})
	}
}

func TestHandlerAbortPanicPropagates(t *testing.T) {
	logger, _ := logtest.New(t)
	h := web.Handler(logger, func(http.ResponseWriter, *http.Request) error { panic(http.ErrAbortHandler) })
	defer func() {
		if p := recover(); p != http.ErrAbortHandler {
			t.Errorf("recovered %v, want http.ErrAbortHandler", p)
		}
	}()
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	t.Error("ServeHTTP returned normally")
}

func TestHandlerErrorAfterResponseStarted(t *testing.T) {
	tests := []struct {
		name  string
		write func(w http.ResponseWriter)
	}{
		{name: "after WriteHeader", write: func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) }},
		{name: "after Write", write: func(w http.ResponseWriter) { _, _ = w.Write([]byte("partial")) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, logs := serve(t, func(w http.ResponseWriter, _ *http.Request) error {
				tt.write(w)
				return errors.New("late failure")
			})
			if strings.Contains(rec.Body.String(), "internal") {
				t.Errorf("error body appended to a started response: %q", rec.Body.String())
			}
			if len(logs.Find("handler failed after response started")) != 1 {
				t.Errorf("late failure not logged: %v", logs.Raw())
			}
		})
	}
}

func TestErrorMethods(t *testing.T) {
	cause := errors.New("kms down")
	e := web.Unavailable(cause)
	if !errors.Is(e, cause) {
		t.Errorf("errors.Is(Unavailable(cause), cause) = false")
	}
	if got := e.Error(); got != "503 unavailable: kms down" {
		t.Errorf("Error() = %q", got)
	}
	base := web.Forbidden()
	if base.WithCause(cause); base.Err != nil {
		t.Errorf("WithCause modified the receiver")
	}
	fields := map[string]string{"a": "b"}
	inv := web.Invalid(fields)
	fields["a"] = "changed"
	if inv.Fields["a"] != "b" {
		t.Errorf("Invalid kept a reference to the caller's map")
	}
}
