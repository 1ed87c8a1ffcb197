package auth

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Reset: one link, used once, sets the password and ends every session in
// one transaction, then tells the user.
//
// Controls: AUTH-8, AUTH-2, AUTH-4
func TestPasswordReset(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		tk := te.signUp(t, "kim@example.com", testPassword)
		for _, email := range []string{"kim@example.com", "nobody@example.com"} {
			rec := te.do(t, "POST", "/password/reset", map[string]string{"email": email})
			if rec.Code != http.StatusAccepted || rec.Body.String() != string(acceptedBody) {
				t.Fatalf("reset request for %s: %d %q", email, rec.Code, rec.Body)
			}
		}
		if n := te.countMessages(t, "nobody@example.com", notify.KindPasswordReset); n != 0 {
			t.Fatalf("an unknown address got %d reset messages", n)
		}
		tok := linkToken(t, te.lastMessage(t, "kim@example.com", notify.KindPasswordReset))
		te.Env.Logs.Plant(tok, otherPassword)
		if rec := te.do(t, "POST", "/password/reset/confirm", map[string]string{"token": tok, "password": "password1"}); rec.Code != http.StatusBadRequest {
			t.Fatalf("weak password: %d", rec.Code)
		}
		if rec := te.do(t, "POST", "/password/reset/confirm", map[string]string{"token": tok, "password": otherPassword}); rec.Code != http.StatusNoContent {
			t.Fatalf("reset confirm: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "POST", "/password/reset/confirm", map[string]string{"token": tok, "password": otherPassword}); errorCode(rec) != "invalid_token" {
			t.Fatalf("second confirm: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(tk.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("old session after reset: %d", rec.Code)
		}
		if rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": tk.RefreshToken}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("old refresh token after reset: %d", rec.Code)
		}
		if rec := te.login(t, "kim@example.com", testPassword); rec.Code != http.StatusUnauthorized {
			t.Fatalf("old password after reset: %d", rec.Code)
		}
		next := decodeTokens(t, te.login(t, "kim@example.com", otherPassword))
		te.Env.Logs.Plant(next.AccessToken, next.RefreshToken)
		te.lastMessage(t, "kim@example.com", notify.KindAlert)
		assertAudited(t, te, "auth.password_reset")
	})
}

// A reset link expires.
//
// Controls: AUTH-8
func TestPasswordResetExpires(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	te.signUp(t, "lee@example.com", testPassword)
	te.do(t, "POST", "/password/reset", map[string]string{"email": "lee@example.com"})
	tok := linkToken(t, te.lastMessage(t, "lee@example.com", notify.KindPasswordReset))
	te.Env.Logs.Plant(tok)
	te.Env.Clock.Advance(31 * time.Minute)
	if rec := te.do(t, "POST", "/password/reset/confirm", map[string]string{"token": tok, "password": otherPassword}); errorCode(rec) != "invalid_token" {
		t.Fatalf("expired link: %d %s", rec.Code, rec.Body)
	}
}

// Controls: AUTH-9
func TestMagicLink(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		te.signUp(t, "max@example.com", testPassword)
		for _, email := range []string{"max@example.com", "nobody@example.com"} {
			rec := te.do(t, "POST", "/magic-link", map[string]string{"email": email})
			if rec.Code != http.StatusAccepted || rec.Body.String() != string(acceptedBody) {
				t.Fatalf("magic link for %s: %d %q", email, rec.Code, rec.Body)
			}
		}
		tok := linkToken(t, te.lastMessage(t, "max@example.com", notify.KindMagicLink))
		te.Env.Logs.Plant(tok)
		tk := decodeTokens(t, te.do(t, "POST", "/magic-link/verify", map[string]string{"token": tok}))
		te.Env.Logs.Plant(tk.AccessToken, tk.RefreshToken)
		if rec := te.do(t, "POST", "/magic-link/verify", map[string]string{"token": tok}); errorCode(rec) != "invalid_token" {
			t.Fatalf("second use: %d %s", rec.Code, rec.Body)
		}
		te.do(t, "POST", "/magic-link", map[string]string{"email": "max@example.com"})
		late := linkToken(t, te.lastMessage(t, "max@example.com", notify.KindMagicLink))
		te.Env.Logs.Plant(late)
		te.Env.Clock.Advance(15*time.Minute + time.Second)
		if rec := te.do(t, "POST", "/magic-link/verify", map[string]string{"token": late}); errorCode(rec) != "invalid_token" {
			t.Fatalf("expired link: %d %s", rec.Code, rec.Body)
		}
	})
}

// Sensitive routes need an authentication within the step-up window;
// POST /reauthenticate provides one.
//
// Controls: AUTH-12
func TestStepUpAndPasswordChange(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		tk := te.signUp(t, "ned@example.com", testPassword)
		other := decodeTokens(t, te.login(t, "ned@example.com", testPassword))
		te.Env.Logs.Plant(other.AccessToken, other.RefreshToken, otherPassword)
		te.Env.Clock.Advance(11 * time.Minute)
		fresh := decodeTokens(t, te.do(t, "POST", "/token", map[string]string{"refresh_token": tk.RefreshToken}))
		te.Env.Logs.Plant(fresh.AccessToken, fresh.RefreshToken)
		auth := bearer(fresh.AccessToken)
		change := map[string]string{"password": otherPassword, "current_password": testPassword}
		for _, path := range []string{"/password/change", "/me"} {
			method := map[string]string{"/password/change": "POST", "/me": "DELETE"}[path]
			var body any
			if method == "POST" {
				body = change
			}
			if rec := te.do(t, method, path, body, auth); rec.Code != http.StatusForbidden || errorCode(rec) != "reauthentication_required" {
				t.Fatalf("%s %s without step-up: %d %s", method, path, rec.Code, rec.Body)
			}
		}
		if rec := te.do(t, "POST", "/reauthenticate", map[string]string{"method": "password", "password": "wrong password here"}, auth); rec.Code != http.StatusUnauthorized {
			t.Fatalf("step-up with a wrong password: %d", rec.Code)
		}
		if rec := te.do(t, "POST", "/reauthenticate", map[string]string{"method": "password", "password": testPassword}, auth); rec.Code != http.StatusNoContent {
			t.Fatalf("step-up: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "POST", "/password/change", change, auth); rec.Code != http.StatusNoContent {
			t.Fatalf("change after step-up: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "GET", "/me", nil, auth); rec.Code != http.StatusOK {
			t.Fatalf("own session after change: %d", rec.Code)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(other.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("other session after change: %d", rec.Code)
		}
		decodeTokens(t, te.login(t, "ned@example.com", otherPassword))
		assertAudited(t, te, "auth.reauthenticate")
	})
}

// Export lists what is kept about the user, no secrets; deletion removes
// the account and leaves only pseudonymous audit events, which still
// verify and prove.
//
// Controls: DATA-1, AUDIT-1, AUDIT-2, AUTH-12, AUDIT-5
func TestExportAndDelete(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		tk := te.signUp(t, "oda@example.com", testPassword)
		auth := bearer(tk.AccessToken)
		// An ended session, a linked sign-in identity and an event about
		// the user that someone else performed are all in the export.
		second := decodeTokens(t, te.login(t, "oda@example.com", testPassword))
		te.Env.Logs.Plant(second.AccessToken, second.RefreshToken)
		if rec := te.do(t, "POST", "/logout", nil, bearer(second.AccessToken)); rec.Code != http.StatusNoContent {
			t.Fatalf("logout: %d %s", rec.Code, rec.Body)
		}
		if err := te.Env.Store.LinkIdentity(t.Context(), store.Identity{ID: "idn_export", Provider: "github", Subject: "4242",
			UserID: tk.UserID, CreatedAt: te.Env.Clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if _, err := te.Env.Audit.Record(t.Context(), audit.Event{Actor: "someone-else", Action: "org.member.role_change",
			Target: "user:" + tk.UserID}); err != nil {
			t.Fatal(err)
		}
		te.Env.IntegrateAudit(t)
		rec := te.do(t, "GET", "/me/export", nil, auth)
		var exp exportResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &exp); err != nil || rec.Code != http.StatusOK {
			t.Fatalf("export: %d %s", rec.Code, rec.Body)
		}
		if exp.User.Email != "oda@example.com" || len(exp.Sessions) != 2 || len(exp.Devices) == 0 || len(exp.AuditEvents) == 0 {
			t.Fatalf("export = %+v", exp)
		}
		ended := 0
		for _, s := range exp.Sessions {
			if s.RevokedAt != nil && s.RevokeReason != "" {
				ended++
			}
		}
		if ended != 1 {
			t.Fatalf("export lists %d ended sessions, want 1: %+v", ended, exp.Sessions)
		}
		if len(exp.Identities) != 1 || exp.Identities[0].Provider != "github" || exp.Identities[0].Subject != "4242" {
			t.Fatalf("identities: %+v", exp.Identities)
		}
		if !slices.ContainsFunc(exp.AuditEvents, func(e auditJSON) bool { return e.Action == "org.member.role_change" }) {
			t.Fatal("an event about the user by someone else is missing")
		}
		u, _ := te.Env.Store.User(t.Context(), tk.UserID)
		for _, secret := range []string{u.PasswordHash, "argon2", tk.RefreshToken, "refresh_key"} {
			if strings.Contains(rec.Body.String(), secret) {
				t.Fatalf("export contains %q", secret)
			}
		}
		if rec := te.do(t, "DELETE", "/me", nil, auth); rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "GET", "/me", nil, auth); rec.Code != http.StatusUnauthorized {
			t.Fatalf("session after delete: %d", rec.Code)
		}
		if rec := te.login(t, "oda@example.com", testPassword); rec.Code != http.StatusUnauthorized {
			t.Fatalf("login after delete: %d", rec.Code)
		}
		if _, err := te.Env.Store.User(t.Context(), tk.UserID); err == nil {
			t.Fatal("user row survived deletion")
		}
		evs, err := te.Env.Store.AuditEvents(t.Context(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var kept int
		for _, e := range evs {
			if strings.Contains(e.Actor+e.Target+e.Metadata, "oda") {
				t.Fatalf("audit event names the deleted user: %+v", e)
			}
			if e.Actor == tk.UserID {
				kept++
			}
		}
		if kept == 0 {
			t.Fatal("deletion removed the audit trail")
		}
		// The pseudonymous events still verify and prove: deletion changed
		// no event, so the log's hashes and an inclusion proof of the
		// deleted user's sign-in hold, checked with the public key alone.
		te.Env.IntegrateAudit(t)
		if _, err := audit.Verify(t.Context(), te.Env.Store); err != nil {
			t.Fatalf("audit.Verify after the deletion: %v", err)
		}
		pub, err := te.Env.Sequencer.Signer().PublicKey(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		evs, err = te.Env.Store.AuditEvents(t.Context(), 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		var login store.AuditEvent
		for _, e := range evs {
			if e.Actor == tk.UserID && e.Action == "auth.login" && e.Seq > 0 {
				login = e
			}
		}
		if login.ID == 0 {
			t.Fatal("no integrated sign-in event of the deleted user")
		}
		proof, err := audit.NewProver(te.Env.Store).Inclusion(t.Context(), login, 0)
		if err != nil {
			t.Fatalf("inclusion proof of the deleted user's sign-in: %v", err)
		}
		if _, err := proof.Verify(pub); err != nil || proof.Event.Actor != tk.UserID {
			t.Fatalf("inclusion proof of the deleted user's sign-in: %v (actor %q)", err, proof.Event.Actor)
		}
		assertAudited(t, te, "user.delete")
		te.lastMessage(t, "oda@example.com", notify.KindAlert)
	})
}

// Browser clients get tokens only in __Host- cookies (Secure, HttpOnly,
// SameSite=Lax) and must send Origin and the CSRF header on changes.
//
// Controls: AUTH-6, APP-3
func TestBrowserMode(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		te.signUp(t, "pia@example.com", testPassword)
		browser := http.Header{session.ClientHeader: {"browser"}, "Origin": {"https://app.example.com"}}
		rec := te.login(t, "pia@example.com", testPassword, browser)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "access_token") || strings.Contains(rec.Body.String(), "refresh_token") {
			t.Fatalf("browser login: %d %s", rec.Code, rec.Body)
		}
		if rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("token response cacheable: %q", rec.Header().Get("Cache-Control"))
		}
		cookies := map[string]*http.Cookie{}
		var jar []string
		for _, c := range rec.Result().Cookies() {
			cookies[c.Name] = c
			jar = append(jar, c.Name+"="+c.Value)
			te.Env.Logs.Plant(c.Value)
		}
		for _, name := range []string{session.AccessCookie, session.RefreshCookie, session.DeviceCookie} {
			c := cookies[name]
			if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
				t.Fatalf("cookie %s = %+v", name, c)
			}
		}
		csrf := cookies[session.CSRFCookie]
		if csrf == nil || csrf.HttpOnly || !csrf.Secure {
			t.Fatalf("CSRF cookie = %+v", csrf)
		}
		cookie := http.Header{"Cookie": {strings.Join(jar, "; ")}}
		if rec := te.do(t, "GET", "/me", nil, cookie); rec.Code != http.StatusOK {
			t.Fatalf("GET /me with cookies: %d", rec.Code)
		}
		withCSRF := http.Header{session.CSRFHeader: {csrf.Value}}
		for _, tc := range []struct {
			name string
			hdr  []http.Header
			want int
		}{
			{"no origin, no csrf", []http.Header{cookie}, http.StatusForbidden},
			{"origin, no csrf", []http.Header{cookie, {"Origin": {"https://app.example.com"}}}, http.StatusForbidden},
			{"csrf, foreign origin", []http.Header{cookie, withCSRF, {"Origin": {"https://evil.example"}}}, http.StatusForbidden},
			{"csrf, wrong token", []http.Header{cookie, {session.CSRFHeader: {strings.Repeat("x", 43)}}, {"Origin": {"https://app.example.com"}}}, http.StatusForbidden},
		} {
			if rec := te.do(t, "POST", "/logout", nil, tc.hdr...); rec.Code != tc.want {
				t.Errorf("logout %s: %d, want %d", tc.name, rec.Code, tc.want)
			}
		}
		refreshHdr := []http.Header{cookie, withCSRF, browser}
		rec = te.do(t, "POST", "/token", nil, refreshHdr...)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "refresh_token") {
			t.Fatalf("browser refresh: %d %s", rec.Code, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			te.Env.Logs.Plant(c.Value)
		}
		if rec := te.do(t, "POST", "/logout", nil, cookie, withCSRF, http.Header{"Origin": {"https://app.example.com"}}); rec.Code != http.StatusNoContent {
			t.Fatalf("logout with origin and csrf: %d %s", rec.Code, rec.Body)
		}
	})
}

// A browser app on an allowed origin can make every cookie-mode request:
// the CORS preflight allows the headers browser mode needs.
//
// Controls: AUTH-7, APP-4
func TestBrowserModePreflight(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	for _, route := range []string{"/login", "/token", "/logout", "/reauthenticate"} {
		rec := te.do(t, "OPTIONS", route, nil, http.Header{"Origin": {"https://app.example.com"},
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"content-type,x-gatehouse-client,x-csrf-token,x-request-id"}})
		if rec.Code != http.StatusNoContent || rec.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" ||
			rec.Header().Get("Access-Control-Allow-Credentials") != "true" {
			t.Fatalf("preflight %s: %d %v", route, rec.Code, rec.Header())
		}
		allowed := strings.ToLower(rec.Header().Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"content-type", "x-gatehouse-client", "x-csrf-token", "x-request-id"} {
			if !strings.Contains(allowed, h) {
				t.Fatalf("preflight %s does not allow %s: %q", route, h, allowed)
			}
		}
	}
}

// Browser-mode sign-in sets cookies only for an allowed Origin: another
// site cannot sign a victim's browser into the attacker's account (login
// CSRF), even with a JSON body.
//
// Controls: APP-3, AUTH-7
func TestBrowserSignInNeedsAllowedOrigin(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	te.signUp(t, "lou@example.com", testPassword)
	for name, origin := range map[string]http.Header{
		"another site": {"Origin": {"https://evil.example.net"}},
		"no origin":    {},
		"null origin":  {"Origin": {"null"}},
	} {
		hdr := http.Header{session.ClientHeader: {"browser"}}
		for k, v := range origin {
			hdr[k] = v
		}
		rec := te.login(t, "lou@example.com", testPassword, hdr)
		if rec.Code != http.StatusForbidden || errorCode(rec) != "origin_not_allowed" || len(rec.Result().Cookies()) != 0 {
			t.Fatalf("%s: %d %s, cookies %d", name, rec.Code, rec.Body, len(rec.Result().Cookies()))
		}
	}
	ok := http.Header{session.ClientHeader: {"browser"}, "Origin": {"https://app.example.com"}}
	if rec := te.login(t, "lou@example.com", testPassword, ok); rec.Code != http.StatusOK || len(rec.Result().Cookies()) == 0 {
		t.Fatalf("allowed origin: %d %s", rec.Code, rec.Body)
	}
}
