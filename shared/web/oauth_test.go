package web

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func formRequest(ct, body string) *http.Request {
	r := httptest.NewRequest("POST", "/x?token=from-query", strings.NewReader(body))
	if ct != "" {
		r.Header.Set("Content-Type", ct)
	}
	return r
}

// Controls: APP-1
func TestDecodeForm(t *testing.T) {
	const form = "application/x-www-form-urlencoded"
	for _, tc := range []struct {
		name, ct, body string
		status         int
		want           string
	}{
		{"ok", form, "token=abc&token_type_hint=access_token", 0, "abc"},
		{"charset utf-8", form + "; charset=UTF-8", "token=a%20b", 0, "a b"},
		{"empty body", form, "", 0, ""},
		{"json", "application/json", `{"token":"a"}`, http.StatusUnsupportedMediaType, ""},
		{"no content type", "", "token=a", http.StatusUnsupportedMediaType, ""},
		{"latin1", form + "; charset=latin1", "token=a", http.StatusUnsupportedMediaType, ""},
		{"repeated", form, "token=a&token=b", http.StatusBadRequest, ""},
		{"unknown", form, "token=a&client_id=b", http.StatusBadRequest, ""},
		{"bad escape", form, "token=%zz", http.StatusBadRequest, ""},
		{"semicolon", form, "token=a;b", http.StatusBadRequest, ""},
		{"not utf-8", form, "token=%ff", http.StatusBadRequest, ""},
		{"too large", form, "token=" + strings.Repeat("a", MaxFormBytes), http.StatusRequestEntityTooLarge, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := DecodeForm(formRequest(tc.ct, tc.body), "token", "token_type_hint")
			if tc.status == 0 {
				if err != nil || v.Get("token") != tc.want {
					t.Fatalf("got %v, %v", v, err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) || e.Status != tc.status {
				t.Fatalf("err = %v, want status %d", err, tc.status)
			}
		})
	}
}

// OAuthHandler writes errors in the RFC 6749 shape, with a Basic
// challenge on 401, never cacheable.
func TestOAuthHandler(t *testing.T) {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		err     error
		status  int
		code    string
		challen bool
	}{
		{Unauthorized("invalid_client", "Client authentication failed."), 401, "invalid_client", true},
		{BadRequest("invalid_request", "x"), 400, "invalid_request", false},
		{errors.New("boom"), 500, "internal", false},
	} {
		rec := httptest.NewRecorder()
		OAuthHandler(logger, func(http.ResponseWriter, *http.Request) error { return tc.err }).
			ServeHTTP(rec, httptest.NewRequest("POST", "/", nil))
		body := rec.Body.String()
		if rec.Code != tc.status || !strings.Contains(body, `"error":"`+tc.code+`"`) || strings.Contains(body, "boom") ||
			(rec.Header().Get("WWW-Authenticate") != "") != tc.challen || rec.Header().Get("Cache-Control") != "no-store" {
			t.Errorf("%v: %d %s %v", tc.err, rec.Code, body, rec.Header())
		}
	}
}

// DecodeForm returns the parameters or an *Error, never anything else,
// for any body.
func FuzzDecodeForm(f *testing.F) {
	for _, s := range []string{"token=a", "token=a&token=b", "%", "a=%ff", "token=a&token_type_hint=refresh_token",
		"=&=", strings.Repeat("&", 100), "token=" + strings.Repeat("x", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		v, err := DecodeForm(formRequest("application/x-www-form-urlencoded", body), "token", "token_type_hint")
		var e *Error
		switch {
		case err != nil && (!errors.As(err, &e) || e.Status < 400 || e.Status > 499):
			t.Fatalf("err = %v", err)
		case err == nil && len(v["token"]) > 1:
			t.Fatal("repeated parameter accepted")
		}
	})
}
