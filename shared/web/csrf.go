package web

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Defaults for double-submit CSRF protection. The __Host- prefix makes
// browsers refuse the cookie unless it is Secure, host-only and Path=/, so a
// sibling subdomain cannot plant one.
const (
	DefaultCSRFCookie = "__Host-gatehouse-csrf"
	DefaultCSRFHeader = "X-CSRF-Token"
)

// csrfTokenBytes is the entropy of a CSRF token; minCSRFTokenLen rejects
// submitted tokens too short to have come from [NewCSRFToken].
const (
	csrfTokenBytes  = 32
	minCSRFTokenLen = 32
)

// safeMethod reports whether m is a method that must not change state, and
// so needs no Origin or CSRF check.
func safeMethod(m string) bool {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
		return true
	}
	return false
}

// CheckOrigin rejects a state-changing request (any method but GET, HEAD,
// OPTIONS and TRACE) unless its Origin header, or if there is none the
// origin of its Referer header, is one of allowed ("scheme://host[:port]",
// compared ignoring case). A missing, "null" or malformed origin is rejected.
// It returns nil or a 403 origin_not_allowed *[Error].
func CheckOrigin(r *http.Request, allowed []string) error {
	if safeMethod(r.Method) {
		return nil
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		origin = refererOrigin(r.Header.Get("Referer"))
	}
	if origin != "" && origin != "null" {
		for _, a := range allowed {
			if strings.EqualFold(origin, a) {
				return nil
			}
		}
	}
	return forbidden(CodeOriginNotAllowed, "Origin not allowed.").
		WithCause(fmt.Errorf("check origin: %q not allowed", origin))
}

// refererOrigin returns the origin of an absolute http(s) Referer, or "".
func refererOrigin(ref string) string {
	u, err := url.Parse(ref)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// CheckCSRF implements double-submit CSRF protection for state-changing
// requests (see [CheckOrigin] for which methods are exempt): the request
// must carry exactly one cookie cookieName and exactly one header headerName,
// both at least 32 characters, with equal values, compared in constant time.
// It returns nil or a 403 csrf_failed *[Error]. Use it together with
// [CheckOrigin], a __Host- cookie ([DefaultCSRFCookie]) and SameSite session
// cookies.
func CheckCSRF(r *http.Request, cookieName, headerName string) error {
	if safeMethod(r.Method) {
		return nil
	}
	fail := forbidden(CodeCSRFFailed, "CSRF check failed.")
	cookies := r.CookiesNamed(cookieName)
	headers := r.Header.Values(headerName)
	if len(cookies) != 1 || len(headers) != 1 {
		return fail.WithCause(fmt.Errorf("check csrf: %d cookies, %d headers", len(cookies), len(headers)))
	}
	c, h := cookies[0].Value, headers[0]
	if len(c) < minCSRFTokenLen || subtle.ConstantTimeCompare([]byte(c), []byte(h)) != 1 {
		return fail.WithCause(errors.New("check csrf: token mismatch"))
	}
	return nil
}

// NewCSRFToken returns 32 bytes from rand, base64url-encoded without padding
// (43 characters).
func NewCSRFToken(rand io.Reader) (string, error) {
	var b [csrfTokenBytes]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("read csrf token randomness: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// CSRFCookie returns the cookie carrying a double-submit token: Secure,
// Path=/, host-only, SameSite=Strict, and readable by the page's script
// (not HttpOnly), which must echo it in the CSRF header. It expires with the
// browser session.
func CSRFCookie(name, token string) *http.Cookie {
	return &http.Cookie{Name: name, Value: token, Path: "/", Secure: true, SameSite: http.SameSiteStrictMode}
}
