package web_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/web"
)

func forbiddenCode(err error) string {
	var e *web.Error
	if errors.As(err, &e) && e.Status == http.StatusForbidden {
		return e.Code
	}
	return ""
}

// Controls: APP-3
func TestCheckOrigin(t *testing.T) {
	allowed := []string{"https://app.example.com", "http://localhost:5173"}
	tests := []struct {
		name    string
		method  string
		origin  string
		referer string
		ok      bool
	}{
		{name: "get needs nothing", method: "GET", ok: true},
		{name: "head needs nothing", method: "HEAD", ok: true},
		{name: "post allowed origin", method: "POST", origin: "https://app.example.com", ok: true},
		{name: "origin case ignored", method: "POST", origin: "https://APP.example.com", ok: true},
		{name: "delete allowed localhost", method: "DELETE", origin: "http://localhost:5173", ok: true},
		{name: "post other origin", method: "POST", origin: "https://evil.example"},
		{name: "suffix attack", method: "POST", origin: "https://app.example.com.evil.example"},
		{name: "scheme downgrade", method: "POST", origin: "http://app.example.com"},
		{name: "null origin", method: "POST", origin: "null"},
		{name: "null origin with good referer", method: "POST", origin: "null", referer: "https://app.example.com/x"},
		{name: "no origin no referer", method: "PUT"},
		{name: "referer fallback", method: "PATCH", referer: "https://app.example.com/settings?tab=1", ok: true},
		{name: "referer other site", method: "POST", referer: "https://evil.example/app.example.com"},
		{name: "referer userinfo trick", method: "POST", referer: "https://app.example.com@evil.example/"},
		{name: "referer relative", method: "POST", referer: "/settings"},
		{name: "referer javascript", method: "POST", referer: "javascript:alert(1)"},
		{name: "origin beats referer", method: "POST", origin: "https://evil.example", referer: "https://app.example.com/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", nil)
			if tt.origin != "" {
				r.Header.Set("Origin", tt.origin)
			}
			if tt.referer != "" {
				r.Header.Set("Referer", tt.referer)
			}
			err := web.CheckOrigin(r, allowed)
			if tt.ok {
				if err != nil {
					t.Errorf("CheckOrigin = %v, want nil", err)
				}
				return
			}
			if code := forbiddenCode(err); code != "origin_not_allowed" {
				t.Errorf("CheckOrigin = %v, want 403 origin_not_allowed", err)
			}
		})
	}
}

// Controls: APP-3
func TestCheckCSRF(t *testing.T) {
	const name, header = web.DefaultCSRFCookie, web.DefaultCSRFHeader
	tok, err := web.NewCSRFToken(bytes.NewReader(bytes.Repeat([]byte{7}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	other := strings.Repeat("B", len(tok))
	tests := []struct {
		name    string
		method  string
		cookies []string
		headers []string
		ok      bool
	}{
		{name: "get exempt", method: "GET", ok: true},
		{name: "match", method: "POST", cookies: []string{tok}, headers: []string{tok}, ok: true},
		{name: "mismatch", method: "POST", cookies: []string{tok}, headers: []string{other}},
		{name: "prefix of token", method: "POST", cookies: []string{tok}, headers: []string{tok[:40]}},
		{name: "no cookie", method: "POST", headers: []string{tok}},
		{name: "no header", method: "DELETE", cookies: []string{tok}},
		{name: "both empty", method: "POST", cookies: []string{""}, headers: []string{""}},
		{name: "short equal tokens", method: "POST", cookies: []string{"abc"}, headers: []string{"abc"}},
		{name: "two cookies (tossing)", method: "POST", cookies: []string{other, tok}, headers: []string{tok}},
		{name: "two headers", method: "POST", cookies: []string{tok}, headers: []string{tok, tok}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(tt.method, "/", nil)
			for _, c := range tt.cookies {
				r.AddCookie(&http.Cookie{Name: name, Value: c})
			}
			for _, h := range tt.headers {
				r.Header.Add(header, h)
			}
			err := web.CheckCSRF(r, name, header)
			if tt.ok {
				if err != nil {
					t.Errorf("CheckCSRF = %v, want nil", err)
				}
				return
			}
			if code := forbiddenCode(err); code != "csrf_failed" {
				t.Errorf("CheckCSRF = %v, want 403 csrf_failed", err)
			}
		})
	}
}

// Controls: APP-3
func TestNewCSRFToken(t *testing.T) {
	a, err := web.NewCSRFToken(bytes.NewReader(bytes.Repeat([]byte{1}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	b, err := web.NewCSRFToken(bytes.NewReader(bytes.Repeat([]byte{2}, 32)))
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != 43 || a == b || strings.ContainsAny(a, "+/=") {
		t.Errorf("tokens %q, %q: want distinct 43-character base64url", a, b)
	}
	if _, err := web.NewCSRFToken(bytes.NewReader(make([]byte, 31))); err == nil {
		t.Error("NewCSRFToken succeeded with short randomness")
	}
	c := web.CSRFCookie(web.DefaultCSRFCookie, a)
	if !c.Secure || c.Path != "/" || c.Domain != "" || c.SameSite != http.SameSiteStrictMode || c.HttpOnly {
		t.Errorf("cookie %+v does not meet __Host- and double-submit requirements", c)
	}
	if err := c.Valid(); err != nil {
		t.Errorf("cookie invalid: %v", err)
	}
}
