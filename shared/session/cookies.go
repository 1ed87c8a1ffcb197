package session

import (
	"encoding/base64"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Cookie names. The __Host- prefix makes browsers refuse a cookie that is
// not Secure, host-only and Path=/, so no sibling subdomain can plant one.
const (
	AccessCookie  = "__Host-gatehouse-access"
	RefreshCookie = "__Host-gatehouse-refresh"
	DeviceCookie  = "__Host-gatehouse-device"
	CSRFCookie    = web.DefaultCSRFCookie
	CSRFHeader    = web.DefaultCSRFHeader
)

// ClientHeader selects the client mode: "browser" for cookies, anything
// else (or nothing) for JSON tokens.
const ClientHeader = web.ClientModeHeader

// IsBrowser reports whether r asks for browser (cookie) mode.
func IsBrowser(r *http.Request) bool { return r.Header.Get(ClientHeader) == "browser" }

// deviceCookieAge is how long a device id is remembered.
const deviceCookieAge = 400 * 24 * time.Hour

// secretCookie is an HttpOnly, Secure, SameSite=Lax, host-only cookie.
func secretCookie(name, value string, maxAge time.Duration) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: int(maxAge / time.Second),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode}
}

// expiredCookie deletes a cookie.
func expiredCookie(name string) *http.Cookie {
	return &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: name != CSRFCookie,
		SameSite: http.SameSiteLaxMode}
}

// clearCookies deletes the session cookies (not the device cookie).
func clearCookies(w http.ResponseWriter) {
	for _, name := range []string{AccessCookie, RefreshCookie, CSRFCookie} {
		http.SetCookie(w, expiredCookie(name))
	}
}

// ClearSiteData is the Clear-Site-Data value of a browser sign-out: the
// browser drops every cookie and all storage (local and session storage,
// IndexedDB, service workers) of the origin, whatever the app kept there.
const ClearSiteData = `"cookies", "storage"`

// SignedOut prepares the response to a request that ended its own session
// (sign-out, sign-out everywhere, account deletion): it deletes the session
// cookies and, for a browser (browser mode, or a request that came with the
// access cookie), asks it to clear the site's data (APP-8). Call it before
// writing the header.
func SignedOut(w http.ResponseWriter, r *http.Request) {
	clearCookies(w)
	if IsBrowser(r) || len(r.CookiesNamed(AccessCookie)) > 0 {
		w.Header().Set("Clear-Site-Data", ClearSiteData)
	}
}

// cookieValue returns the value of the one cookie named name, or "" if
// there is none or several (a planted duplicate).
func cookieValue(r *http.Request, name string) string {
	cs := r.CookiesNamed(name)
	if len(cs) != 1 {
		return ""
	}
	return cs[0].Value
}

// validID reports whether s looks like a 32-byte base64url id.
func validID(s string) bool {
	b, err := base64.RawURLEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == 32
}
