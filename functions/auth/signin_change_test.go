package auth

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/session"
)

// signInRemoval is one route that removes a way of signing in.
type signInRemoval struct {
	name    string
	subject string // of the notice
	// prepare enrolls what remove removes, with the acting session's
	// access token, and returns what remove needs (a credential id).
	prepare func(t *testing.T, te *testEnv, access string) string
	remove  func(t *testing.T, te *testEnv, access, arg string) *httptest.ResponseRecorder
}

var signInRemovals = []signInRemoval{
	{name: "TOTP disabled", subject: "Two-step sign-in with an app was turned off",
		prepare: func(t *testing.T, te *testEnv, access string) string { te.mfaEnrollTOTP(t, access); return "" },
		remove: func(t *testing.T, te *testEnv, access, _ string) *httptest.ResponseRecorder {
			return te.do(t, "DELETE", "/mfa/totp", nil, bearer(access))
		}},
	{name: "passkey deleted", subject: "A passkey was removed from your account",
		prepare: func(t *testing.T, te *testEnv, access string) string {
			return te.mfaRegisterPasskey(t, access, newMFAAuthenticator())
		},
		remove: func(t *testing.T, te *testEnv, access, id string) *httptest.ResponseRecorder {
			return te.do(t, "DELETE", "/mfa/webauthn/"+id, nil, bearer(access))
		}},
	{name: "recovery codes regenerated", subject: "Your recovery codes were replaced",
		prepare: func(t *testing.T, te *testEnv, access string) string { te.mfaEnrollTOTP(t, access); return "" },
		remove: func(t *testing.T, te *testEnv, access, _ string) *httptest.ResponseRecorder {
			rec := te.do(t, "POST", "/mfa/recovery-codes", nil, bearer(access))
			if rec.Code == http.StatusOK {
				var body struct {
					Codes []string `json:"recovery_codes"`
				}
				extDecodeBody(t, rec, http.StatusOK, &body)
				te.Env.Logs.Plant(body.Codes...)
			}
			return rec
		}},
	{name: "password changed", subject: "Your password was changed",
		prepare: func(t *testing.T, te *testEnv, access string) string { te.Env.Logs.Plant(otherPassword); return "" },
		remove: func(t *testing.T, te *testEnv, access, _ string) *httptest.ResponseRecorder {
			return te.do(t, "POST", "/password/change", map[string]string{"password": otherPassword,
				"current_password": testPassword}, bearer(access))
		}},
}

// Removing a way of signing in ends every other session of the user in
// the change's transaction, keeps the session that made the change, and
// tells the user. Before AUTH-14 TOTP disable, passkey delete and
// recovery-code regeneration left every other session signed in, silently.
//
// Controls: AUTH-14, AUTH-6
func TestSignInMethodRemovalEndsOtherSessions(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		for i, tc := range signInRemovals {
			t.Run(tc.name, func(t *testing.T) {
				email := fmt.Sprintf("removal%d@example.com", i)
				acting := te.signUp(t, email, testPassword)
				other := decodeTokens(t, te.login(t, email, testPassword))
				te.Env.Logs.Plant(other.AccessToken, other.RefreshToken)
				arg := tc.prepare(t, te, acting.AccessToken)
				before := te.countMessages(t, email, notify.KindAlert)

				if rec := tc.remove(t, te, acting.AccessToken, arg); rec.Code/100 != 2 {
					t.Fatalf("remove: %d %s", rec.Code, rec.Body)
				}
				if rec := te.do(t, "GET", "/me", nil, bearer(acting.AccessToken)); rec.Code != http.StatusOK {
					t.Fatalf("the acting session was ended: %d", rec.Code)
				}
				if rec := te.do(t, "GET", "/me", nil, bearer(other.AccessToken)); rec.Code != http.StatusUnauthorized {
					t.Fatalf("the other session's access token still works: %d", rec.Code)
				}
				if rec := te.do(t, "POST", "/token", map[string]string{"refresh_token": other.RefreshToken}); errorCode(rec) != "invalid_grant" {
					t.Fatalf("the other session still refreshes: %d %s", rec.Code, rec.Body)
				}
				if n := te.countMessages(t, email, notify.KindAlert); n != before+1 {
					t.Fatalf("%d notices, want %d", n, before+1)
				}
				msg := te.lastMessage(t, email, notify.KindAlert)
				if msg.Subject != tc.subject || !strings.Contains(msg.Text, "Every other session") {
					t.Fatalf("notice %q: %q", msg.Subject, msg.Text)
				}
				ev := assertAudited(t, te, "auth.sessions_revoked")
				if !strings.Contains(string(ev.Metadata), `"kept":true`) {
					t.Fatalf("audit metadata %s", ev.Metadata)
				}
			})
		}
	})
}

// A removal that fails ends no session and sends no notice: the sign-out
// commits only with the removal.
//
// Controls: AUTH-14
func TestFailedRemovalKeepsSessions(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		acting := te.signUp(t, "kept@example.com", testPassword)
		other := decodeTokens(t, te.login(t, "kept@example.com", testPassword))
		te.Env.Logs.Plant(other.AccessToken, other.RefreshToken)
		for _, rec := range []*httptest.ResponseRecorder{
			te.do(t, "DELETE", "/mfa/totp", nil, bearer(acting.AccessToken)),
			te.do(t, "DELETE", "/mfa/webauthn/nosuchid", nil, bearer(acting.AccessToken)),
			te.do(t, "POST", "/mfa/recovery-codes", nil, bearer(acting.AccessToken)),
		} {
			if rec.Code/100 == 2 {
				t.Fatalf("removing what is not there: %d", rec.Code)
			}
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(other.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("a failed removal ended the other session: %d", rec.Code)
		}
		if n := te.countMessages(t, "kept@example.com", notify.KindAlert); n != 0 {
			t.Fatalf("%d notices for failed removals", n)
		}
	})
}

// Adding a factor is a change to the ways of signing in too: the user is
// told, and no session ends.
//
// Controls: AUTH-14
func TestAddedFactorNotifies(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		acting := te.signUp(t, "added@example.com", testPassword)
		other := decodeTokens(t, te.login(t, "added@example.com", testPassword))
		te.Env.Logs.Plant(other.AccessToken, other.RefreshToken)
		te.mfaEnrollTOTP(t, acting.AccessToken)
		if m := te.lastMessage(t, "added@example.com", notify.KindAlert); m.Subject != "Two-step sign-in with an app was turned on" {
			t.Fatalf("notice %q", m.Subject)
		}
		te.mfaRegisterPasskey(t, acting.AccessToken, newMFAAuthenticator())
		if m := te.lastMessage(t, "added@example.com", notify.KindAlert); m.Subject != "A passkey was added to your account" {
			t.Fatalf("notice %q", m.Subject)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(other.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("adding a factor ended another session: %d", rec.Code)
		}
	})
}

// A password change needs the current password as well as a recent
// step-up: a session left open (fresh, or stepped up with a second
// factor) cannot replace the password alone. Before, the new password was
// the whole request.
//
// Controls: AUTH-12, AUTH-14, AUTH-3
func TestPasswordChangeNeedsCurrentPassword(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		tk := te.signUp(t, "cur@example.com", testPassword)
		te.Env.Logs.Plant(otherPassword, "not the password at all")
		auth := bearer(tk.AccessToken)
		for _, tc := range []struct {
			name   string
			body   map[string]string
			status int
			code   string
		}{
			{"missing", map[string]string{"password": otherPassword}, http.StatusBadRequest, "invalid_request"},
			{"wrong", map[string]string{"password": otherPassword, "current_password": "not the password at all"},
				http.StatusUnauthorized, "invalid_credentials"},
		} {
			rec := te.do(t, "POST", "/password/change", tc.body, auth)
			if rec.Code != tc.status || errorCode(rec) != tc.code {
				t.Fatalf("%s current password: %d %s", tc.name, rec.Code, rec.Body)
			}
		}
		if rec := te.login(t, "cur@example.com", testPassword); rec.Code != http.StatusOK {
			t.Fatalf("the password changed without the current one: %d", rec.Code)
		}
		rec := te.do(t, "POST", "/password/change", map[string]string{"password": otherPassword, "current_password": testPassword}, auth)
		if rec.Code != http.StatusNoContent {
			t.Fatalf("change with the current password: %d %s", rec.Code, rec.Body)
		}
		decodeTokens(t, te.login(t, "cur@example.com", otherPassword))
	})
}

// Signing out, signing out everywhere and deleting the account tell a
// browser to drop the site's cookies and storage; an API client is not
// sent the header. Before, only the session cookies were expired.
//
// Controls: APP-8, AUTH-6, DATA-1
func TestSignOutClearsSiteData(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		te.signUp(t, "csd@example.com", testPassword)
		origin := http.Header{"Origin": {"https://app.example.com"}}
		browser := http.Header{session.ClientHeader: {"browser"}, "Origin": {"https://app.example.com"}}
		browserSession := func() []http.Header {
			rec := te.login(t, "csd@example.com", testPassword, browser)
			if rec.Code != http.StatusOK {
				t.Fatalf("browser login: %d %s", rec.Code, rec.Body)
			}
			var jar []string
			var csrf string
			for _, c := range rec.Result().Cookies() {
				jar = append(jar, c.Name+"="+c.Value)
				te.Env.Logs.Plant(c.Value)
				if c.Name == session.CSRFCookie {
					csrf = c.Value
				}
			}
			return []http.Header{{"Cookie": {strings.Join(jar, "; ")}, session.CSRFHeader: {csrf}}, browser}
		}
		for _, tc := range []struct{ method, path string }{
			{"POST", "/logout"}, {"POST", "/logout/all"}, {"DELETE", "/me"},
		} {
			rec := te.do(t, tc.method, tc.path, nil, browserSession()...)
			if rec.Code != http.StatusNoContent || rec.Header().Get("Clear-Site-Data") != session.ClearSiteData {
				t.Fatalf("browser %s %s: %d, Clear-Site-Data %q", tc.method, tc.path, rec.Code, rec.Header().Get("Clear-Site-Data"))
			}
			if tc.path == "/logout" {
				// Cookie-authenticated without the mode header: still a browser.
				hdr := browserSession()
				rec := te.do(t, "POST", "/logout", nil, hdr[0], origin)
				if rec.Code != http.StatusNoContent || rec.Header().Get("Clear-Site-Data") != session.ClearSiteData {
					t.Fatalf("cookie logout: %d, Clear-Site-Data %q", rec.Code, rec.Header().Get("Clear-Site-Data"))
				}
				api := decodeTokens(t, te.login(t, "csd@example.com", testPassword))
				te.Env.Logs.Plant(api.AccessToken, api.RefreshToken)
				rec = te.do(t, "POST", "/logout", nil, bearer(api.AccessToken))
				if rec.Code != http.StatusNoContent || rec.Header().Get("Clear-Site-Data") != "" {
					t.Fatalf("API logout: %d, Clear-Site-Data %q", rec.Code, rec.Header().Get("Clear-Site-Data"))
				}
			}
		}
	})
}
