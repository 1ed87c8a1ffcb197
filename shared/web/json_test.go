package web_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/web"
)

type address struct {
	City string `json:"city"`
}

type signup struct {
	Email   string     `json:"email"`
	Age     int        `json:"age"`
	Tags    []string   `json:"tags"`
	Address *address   `json:"address"`
	When    *time.Time `json:"when"`
	Any     any        `json:"any"`
}

func jsonRequest(body, contentType string) *http.Request {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// Controls: APP-1, APP-6
func TestDecodeJSON(t *testing.T) {
	const ct = "application/json"
	nested := strings.Repeat(`{"any":`, 1) + strings.Repeat("[", 40) + strings.Repeat("]", 40) + "}"
	tests := []struct {
		name        string
		body        string
		contentType string
		status      int // 0: success
		code        string
		field       string
	}{
		{name: "valid", body: `{"email":"a@b.co","age":3,"tags":["x"],"address":{"city":"Oslo"}}`, contentType: ct},
		{name: "charset utf-8", body: `{"email":"a@b.co"}`, contentType: "application/json; charset=UTF-8"},
		{name: "surrounding whitespace", body: " \n{}\n ", contentType: ct},
		{name: "null", body: `null`, contentType: ct},
		{name: "large number into any", body: `{"any":1e400}`, contentType: ct, status: 400, code: "invalid_request", field: "any"},
		{name: "no content type", body: `{}`, status: 415, code: "unsupported_media_type"},
		{name: "text plain", body: `{}`, contentType: "text/plain", status: 415, code: "unsupported_media_type"},
		{name: "form", body: `email=x`, contentType: "application/x-www-form-urlencoded", status: 415, code: "unsupported_media_type"},
		{name: "json suffix type", body: `{}`, contentType: "application/merge-patch+json", status: 415, code: "unsupported_media_type"},
		{name: "other charset", body: `{}`, contentType: "application/json; charset=latin1", status: 415, code: "unsupported_media_type"},
		{name: "unknown parameter", body: `{}`, contentType: "application/json; boundary=x", status: 415, code: "unsupported_media_type"},
		{name: "malformed content type", body: `{}`, contentType: "application/json;;=", status: 415, code: "unsupported_media_type"},
		{name: "empty", body: ``, contentType: ct, status: 400, code: "invalid_json"},
		{name: "whitespace only", body: "  \n", contentType: ct, status: 400, code: "invalid_json"},
		{name: "syntax error", body: `{"email":}`, contentType: ct, status: 400, code: "invalid_json"},
		{name: "truncated", body: `{"email":"a`, contentType: ct, status: 400, code: "invalid_json"},
		{name: "trailing comma", body: `{"tags":["a",]}`, contentType: ct, status: 400, code: "invalid_json"},
		{name: "trailing object", body: `{}{}`, contentType: ct, status: 400, code: "invalid_json"},
		{name: "trailing garbage", body: `{"email":"a@b.co"} x`, contentType: ct, status: 400, code: "invalid_json"},
		{name: "trailing scalar", body: `1 2`, contentType: ct, status: 400, code: "invalid_json"},
		{name: "invalid utf-8", body: "{\"email\":\"\xff\"}", contentType: ct, status: 400, code: "invalid_json"},
		{name: "too deep", body: nested, contentType: ct, status: 400, code: "invalid_json"},
		{name: "unknown field", body: `{"email":"a@b.co","admin":true}`, contentType: ct, status: 400, code: "invalid_request", field: "admin"},
		{name: "unknown nested field", body: `{"address":{"city":"x","zip":"1"}}`, contentType: ct, status: 400, code: "invalid_request", field: "zip"},
		{name: "unknown field with quote", body: `{"a\"b":1}`, contentType: ct, status: 400, code: "invalid_request", field: `a"b`},
		{name: "duplicate field", body: `{"email":"a@b.co","email":"evil@x.co"}`, contentType: ct, status: 400, code: "invalid_request", field: "email"},
		{name: "duplicate differing in case", body: `{"email":"a@b.co","EMAIL":"evil@x.co"}`, contentType: ct, status: 400, code: "invalid_request", field: "EMAIL"},
		{name: "duplicate in nested", body: `{"address":{"city":"a","city":"b"}}`, contentType: ct, status: 400, code: "invalid_request", field: "city"},
		{name: "same name in sibling objects is fine", body: `{"any":[{"a":1},{"a":2}]}`, contentType: ct},
		{name: "wrong type", body: `{"age":"old"}`, contentType: ct, status: 400, code: "invalid_request", field: "age"},
		{name: "wrong nested type", body: `{"address":{"city":5}}`, contentType: ct, status: 400, code: "invalid_request", field: "address.city"},
		{name: "wrong element type", body: `{"tags":[1]}`, contentType: ct, status: 400, code: "invalid_request", field: "tags"},
		{name: "overflow", body: `{"age":1e400}`, contentType: ct, status: 400, code: "invalid_request", field: "age"},
		{name: "float into int", body: `{"age":1.5}`, contentType: ct, status: 400, code: "invalid_request", field: "age"},
		{name: "top level array", body: `[]`, contentType: ct, status: 400, code: "invalid_json"},
		{name: "top level string", body: `"x"`, contentType: ct, status: 400, code: "invalid_json"},
		{name: "bad time", body: `{"when":"yesterday"}`, contentType: ct, status: 400, code: "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst signup
			err := web.DecodeJSON(jsonRequest(tt.body, tt.contentType), &dst)
			if tt.status == 0 {
				if err != nil {
					t.Fatalf("DecodeJSON: %v", err)
				}
				return
			}
			var e *web.Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *web.Error", err)
			}
			if e.Status != tt.status || e.Code != tt.code {
				t.Errorf("got %d %s, want %d %s", e.Status, e.Code, tt.status, tt.code)
			}
			if _, ok := e.Fields[tt.field]; tt.field != "" && !ok {
				t.Errorf("fields = %v, want key %q", e.Fields, tt.field)
			}
		})
	}
}

// Controls: APP-1
func TestDecodeJSONSizeLimit(t *testing.T) {
	pad := func(n int) string { // a valid document of exactly n bytes
		return `{"email":"` + strings.Repeat("a", n-len(`{"email":""}`)) + `"}`
	}
	tests := []struct {
		name          string
		body          string
		contentLength int64 // overrides the true length when non-zero
		wantTooLarge  bool
	}{
		{name: "exactly the limit", body: pad(web.MaxBodyBytes)},
		{name: "one byte over", body: pad(web.MaxBodyBytes + 1), wantTooLarge: true},
		{name: "huge", body: pad(10 * web.MaxBodyBytes), wantTooLarge: true},
		{name: "declared length too large", body: `{}`, contentLength: web.MaxBodyBytes + 1, wantTooLarge: true},
		{name: "unknown length over", body: pad(web.MaxBodyBytes + 10), contentLength: -1, wantTooLarge: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := jsonRequest(tt.body, "application/json")
			if tt.contentLength != 0 {
				r.ContentLength = tt.contentLength
			}
			err := web.DecodeJSON(r, &signup{})
			var e *web.Error
			gotTooLarge := errors.As(err, &e) && e.Status == http.StatusRequestEntityTooLarge
			if gotTooLarge != tt.wantTooLarge {
				t.Errorf("err = %v, want too large = %v", err, tt.wantTooLarge)
			}
			if !tt.wantTooLarge && err != nil {
				t.Errorf("err = %v", err)
			}
		})
	}
}

func TestDecodeJSONProgrammingError(t *testing.T) {
	err := web.DecodeJSON(jsonRequest(`{}`, "application/json"), signup{})
	var e *web.Error
	if err == nil || errors.As(err, &e) {
		t.Errorf("err = %v, want a plain error for a non-pointer destination", err)
	}
}

// errReader fails every read.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestDecodeJSONReadError(t *testing.T) {
	r := httptest.NewRequest("POST", "/", errReader{})
	r.Header.Set("Content-Type", "application/json")
	err := web.DecodeJSON(r, &signup{})
	var e *web.Error
	if !errors.As(err, &e) || e.Status != 400 {
		t.Errorf("err = %v, want a 400", err)
	}
}

// Controls: APP-6
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{
		`{"email":"a@b.co","age":1,"tags":["a"],"address":{"city":"x"}}`,
		`{"email":"a","email":"b"}`, `{"age":1e999}`, `[[[[[[]]]]]]`, `{"a":1}`, `{}x`,
		"{\"email\":\"\xff\"}", `{"when":"2020-01-01T00:00:00Z"}`, `{"any":{"k":[1,"2",null,true]}}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var dst signup
		err := web.DecodeJSON(jsonRequest(body, "application/json"), &dst)
		if err == nil {
			return
		}
		var e *web.Error
		if !errors.As(err, &e) {
			t.Fatalf("bad input gave a non-client error: %v", err)
		}
		if e.Status < 400 || e.Status > 499 {
			t.Fatalf("bad input gave status %d", e.Status)
		}
	})
}

// Controls: APP-4
func TestWriteTokenJSONIsNotCached(t *testing.T) {
	tests := []struct {
		name      string
		write     func(w http.ResponseWriter) error
		wantCache string
	}{
		{name: "token response", write: func(w http.ResponseWriter) error {
			return web.WriteTokenJSON(w, 200, map[string]string{"access_token": "x"})
		}, wantCache: "no-store"},
		{name: "plain response", write: func(w http.ResponseWriter) error {
			return web.WriteJSON(w, 200, map[string]string{"ok": "yes"})
		}, wantCache: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			if err := tt.write(rec); err != nil {
				t.Fatal(err)
			}
			if got := rec.Header().Get("Cache-Control"); got != tt.wantCache {
				t.Errorf("Cache-Control = %q, want %q", got, tt.wantCache)
			}
			if tt.wantCache != "" && rec.Header().Get("Pragma") != "no-cache" {
				t.Errorf("Pragma = %q, want no-cache", rec.Header().Get("Pragma"))
			}
			if rec.Header().Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("Content-Type = %q", rec.Header().Get("Content-Type"))
			}
		})
	}
}

func TestWriteJSONEncodeFailureWritesNothing(t *testing.T) {
	rec := httptest.NewRecorder()
	err := web.WriteJSON(rec, 200, map[string]any{"f": func() {}})
	if err == nil || rec.Body.Len() != 0 || rec.Code != 200 || rec.Header().Get("Content-Type") != "" {
		t.Errorf("err = %v, body %q, headers %v", err, rec.Body.String(), rec.Header())
	}
}
