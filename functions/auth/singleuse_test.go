package auth

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/mfa"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
)

// Headers of the single-use tests. limitedNet is a network whose limits a
// test has spent; the test client's own network is never limited.
var (
	suBrowser      = http.Header{session.ClientHeader: {"browser"}, "Origin": {"https://app.example.com"}}
	suNoOrigin     = http.Header{session.ClientHeader: {"browser"}}
	suForeignSite  = http.Header{session.ClientHeader: {"browser"}, "Origin": {"https://evil.example"}}
	suLimitedNet   = fromNetwork("203.0.113.7")
	suLimitedNetID = "203.0.113.0/24"
)

// exhaust spends every request limit allows for key.
func exhaust(t *testing.T, te *testEnv, limit ratelimit.Limit, key string) {
	t.Helper()
	for i := 0; i <= limit.Burst; i++ {
		var le *ratelimit.LimitedError
		if err := te.Env.Limiter.Allow(t.Context(), limit, key); errors.As(err, &le) {
			return
		} else if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatalf("limit %s never denied", limit.Name)
}

// refusal is one request a route must refuse without spending its token.
type refusal struct {
	name   string
	body   any
	hdr    http.Header
	status int
}

// refuseAll sends every refusal to path and checks its status.
func refuseAll(t *testing.T, te *testEnv, path string, refusals []refusal) {
	t.Helper()
	for _, rf := range refusals {
		var rec *httptest.ResponseRecorder
		if rf.hdr != nil {
			rec = te.do(t, "POST", path, rf.body, rf.hdr)
		} else {
			rec = te.do(t, "POST", path, rf.body)
		}
		if rec.Code != rf.status {
			t.Fatalf("%s %s: %d %s, want %d", path, rf.name, rec.Code, rec.Body, rf.status)
		}
	}
}

// Every check of a route that spends a single-use value (client mode and
// Origin, rate limits, input) runs before the value is spent: after each
// refused request the link, MFA token, recovery code, passkey ceremony or
// invitation still works. Before, /register/confirm and /magic-link/verify
// in browser mode without an allowed Origin spent the link (and created the
// account) and then answered 403, and /login/totp and /login/recovery-code
// spent the mfa_token (and the recovery code) before their limits.
//
// Controls: AUTH-15, AUTH-3, APP-3
func TestRefusedRequestsSpendNothing(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		t.Run("register confirm", func(t *testing.T) {
			te.do(t, "POST", "/register", map[string]string{"email": "su-reg@example.com"})
			tok := linkToken(t, te.lastMessage(t, "su-reg@example.com", notify.KindEmailVerification))
			te.Env.Logs.Plant(tok)
			body := map[string]string{"token": tok, "password": testPassword}
			exhaust(t, te, limitConfirmNetwork, suLimitedNetID)
			refuseAll(t, te, "/register/confirm", []refusal{
				{"browser without Origin", body, suNoOrigin, http.StatusForbidden},
				{"browser from another site", body, suForeignSite, http.StatusForbidden},
				{"weak password", map[string]string{"token": tok, "password": "password"}, nil, http.StatusBadRequest},
				{"password from the address", map[string]string{"token": tok, "password": "su-reg@example.com!!"}, nil, http.StatusBadRequest},
				{"network limited", body, suLimitedNet, http.StatusTooManyRequests},
			})
			rec := te.do(t, "POST", "/register/confirm", body, suBrowser)
			if rec.Code != http.StatusOK {
				t.Fatalf("confirm after the refusals: %d %s", rec.Code, rec.Body)
			}
			for _, c := range rec.Result().Cookies() {
				te.Env.Logs.Plant(c.Value)
			}
		})
		te.signUp(t, "su-magic@example.com", testPassword)
		t.Run("magic link verify", func(t *testing.T) {
			te.do(t, "POST", "/magic-link", map[string]string{"email": "su-magic@example.com"})
			tok := linkToken(t, te.lastMessage(t, "su-magic@example.com", notify.KindMagicLink))
			te.Env.Logs.Plant(tok)
			body := map[string]string{"token": tok}
			exhaust(t, te, limitMagicVerifyNetwork, suLimitedNetID)
			refuseAll(t, te, "/magic-link/verify", []refusal{
				{"browser without Origin", body, suNoOrigin, http.StatusForbidden},
				{"browser from another site", body, suForeignSite, http.StatusForbidden},
				{"unknown field", map[string]string{"token": tok, "extra": "x"}, nil, http.StatusBadRequest},
				{"network limited", body, suLimitedNet, http.StatusTooManyRequests},
			})
			rec := te.do(t, "POST", "/magic-link/verify", body, suBrowser)
			if rec.Code != http.StatusOK {
				t.Fatalf("verify after the refusals: %d %s", rec.Code, rec.Body)
			}
			for _, c := range rec.Result().Cookies() {
				te.Env.Logs.Plant(c.Value)
			}
		})
		t.Run("password reset confirm", func(t *testing.T) {
			te.do(t, "POST", "/password/reset", map[string]string{"email": "su-magic@example.com"})
			tok := linkToken(t, te.lastMessage(t, "su-magic@example.com", notify.KindPasswordReset))
			te.Env.Logs.Plant(tok, otherPassword)
			body := map[string]string{"token": tok, "password": otherPassword}
			exhaust(t, te, limitConfirmNetwork, suLimitedNetID)
			refuseAll(t, te, "/password/reset/confirm", []refusal{
				{"weak password", map[string]string{"token": tok, "password": "password"}, nil, http.StatusBadRequest},
				{"password from the address", map[string]string{"token": tok, "password": "su-magic@example.com!!"}, nil, http.StatusBadRequest},
				{"network limited", body, suLimitedNet, http.StatusTooManyRequests},
			})
			if rec := te.do(t, "POST", "/password/reset/confirm", body); rec.Code != http.StatusNoContent {
				t.Fatalf("reset after the refusals: %d %s", rec.Code, rec.Body)
			}
		})

		totpUser := te.signUp(t, "su-totp@example.com", testPassword)
		app := te.mfaEnrollTOTP(t, totpUser.AccessToken)
		for _, tc := range []struct {
			name, path string
			code       func() string
		}{
			{"TOTP", "/login/totp", func() string { return te.mfaCode(t, app, 0) }},
			{"recovery code", "/login/recovery-code", func() string { return app.codes[0] }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				te.Env.Clock.Advance(time.Minute) // a fresh TOTP step
				tok, _ := te.mfaToken(t, "su-totp@example.com")
				body := map[string]string{"mfa_token": tok, "code": tc.code()}
				exhaust(t, te, session.LimitSecondNetwork, suLimitedNetID)
				refuseAll(t, te, tc.path, []refusal{
					{"browser without Origin", body, suNoOrigin, http.StatusForbidden},
					{"browser from another site", body, suForeignSite, http.StatusForbidden},
					{"code too long", map[string]string{"mfa_token": tok, "code": strings.Repeat("1", 65)}, nil, http.StatusBadRequest},
					{"network limited", body, suLimitedNet, http.StatusTooManyRequests},
				})
				decodeTokens(t, te.do(t, "POST", tc.path, body, suBrowser))
			})
		}

		keyUser := te.signUp(t, "su-key@example.com", testPassword)
		key := newMFAAuthenticator()
		te.mfaRegisterPasskey(t, keyUser.AccessToken, key)
		t.Run("passkey", func(t *testing.T) {
			tok, _ := te.mfaToken(t, "su-key@example.com")
			refuseAll(t, te, "/login/webauthn/options", []refusal{
				{"options, browser without Origin", map[string]string{"mfa_token": tok}, suNoOrigin, http.StatusForbidden},
			})
			o := te.mfaOptions(t, "/login/webauthn/options", map[string]string{"mfa_token": tok}, suBrowser)
			body := map[string]any{"ceremony": o.Ceremony, "credential": key.assert(t, o.Raw)}
			exhaust(t, te, session.LimitSecondNetwork, suLimitedNetID)
			refuseAll(t, te, "/login/webauthn", []refusal{
				{"browser without Origin", body, suNoOrigin, http.StatusForbidden},
				{"browser from another site", body, suForeignSite, http.StatusForbidden},
				{"network limited", body, suLimitedNet, http.StatusTooManyRequests},
			})
			decodeTokens(t, te.do(t, "POST", "/login/webauthn", body, suBrowser))
		})

		t.Run("invitation accept", func(t *testing.T) {
			owner := te.signUp(t, "su-owner@example.com", testPassword)
			org := te.orgCreate(t, owner.AccessToken, "Single use")
			tok := te.orgInvite(t, org, owner.AccessToken, "su-invited@example.com", "viewer")
			stranger := te.signUp(t, "su-stranger@example.com", testPassword)
			rec := te.do(t, "POST", "/invitations/accept", map[string]string{"token": tok}, bearer(stranger.AccessToken))
			if rec.Code != http.StatusForbidden || errorCode(rec) != "invitation_email_mismatch" {
				t.Fatalf("accept by another address: %d %s", rec.Code, rec.Body)
			}
			invited := te.signUp(t, "su-invited@example.com", testPassword)
			rec = te.do(t, "POST", "/invitations/accept", map[string]string{"token": tok}, bearer(invited.AccessToken))
			extDecodeBody(t, rec, http.StatusOK, nil)
		})
	})
}

// A newer link of a kind invalidates the older ones, and a magic link
// lives 10 minutes by default. Before, every link sent stayed valid for
// its whole (15-minute) lifetime.
//
// Controls: AUTH-15, AUTH-9
func TestNewerLinkSupersedesOlder(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		te.signUp(t, "newer@example.com", testPassword)
		te.Env.Logs.Plant(otherPassword)
		for _, tc := range []struct {
			name, request, kind, verify string
			body                        func(tok string) map[string]string
		}{
			{"magic link", "/magic-link", notify.KindMagicLink, "/magic-link/verify",
				func(tok string) map[string]string { return map[string]string{"token": tok} }},
			{"password reset", "/password/reset", notify.KindPasswordReset, "/password/reset/confirm",
				func(tok string) map[string]string { return map[string]string{"token": tok, "password": otherPassword} }},
		} {
			t.Run(tc.name, func(t *testing.T) {
				link := func() string {
					te.do(t, "POST", tc.request, map[string]string{"email": "newer@example.com"})
					tok := linkToken(t, te.lastMessage(t, "newer@example.com", tc.kind))
					te.Env.Logs.Plant(tok)
					return tok
				}
				older, newer := link(), link()
				if rec := te.do(t, "POST", tc.verify, tc.body(older)); errorCode(rec) != "invalid_token" {
					t.Fatalf("the older link after a newer one: %d %s", rec.Code, rec.Body)
				}
				if rec := te.do(t, "POST", tc.verify, tc.body(newer)); rec.Code/100 != 2 {
					t.Fatalf("the newer link: %d %s", rec.Code, rec.Body)
				}
			})
		}
		te.do(t, "POST", "/magic-link", map[string]string{"email": "newer@example.com"})
		msg := te.lastMessage(t, "newer@example.com", notify.KindMagicLink)
		tok := linkToken(t, msg)
		te.Env.Logs.Plant(tok)
		if !strings.Contains(msg.Text, "10 minutes") {
			t.Fatalf("the message does not say 10 minutes: %q", msg.Text)
		}
		te.Env.Clock.Advance(10*time.Minute + time.Second)
		if rec := te.do(t, "POST", "/magic-link/verify", map[string]string{"token": tok}); errorCode(rec) != "invalid_token" {
			t.Fatalf("a magic link after 10 minutes: %d %s", rec.Code, rec.Body)
		}
	})
}

// Recovery codes issued before codes carried 128 bits (16 characters)
// keep working until the user regenerates them; new ones have 28.
//
// Controls: AUTH-5
func TestLegacyRecoveryCodesUntilRegenerated(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		tk := te.signUp(t, "legacy@example.com", testPassword)
		app := te.mfaEnrollTOTP(t, tk.AccessToken)
		if len(strings.ReplaceAll(app.codes[0], "-", "")) != 28 {
			t.Fatalf("new code %q is not 28 characters", app.codes[0])
		}
		legacy := []string{"abcd-efgh-ijkm-npqr", "stuv-wxyz-2345-6789"}
		te.Env.Logs.Plant(legacy...)
		var hashes [][32]byte
		for _, c := range legacy {
			h, err := mfa.RecoveryCodeHash(tk.UserID, c)
			if err != nil {
				t.Fatal(err)
			}
			hashes = append(hashes, h)
		}
		if err := te.Env.Store.ReplaceRecoveryCodes(t.Context(), tk.UserID, hashes, te.Env.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		tok, _ := te.mfaToken(t, "legacy@example.com")
		signedIn := decodeTokens(t, te.do(t, "POST", "/login/recovery-code", map[string]string{"mfa_token": tok, "code": legacy[0]}))
		te.Env.Logs.Plant(signedIn.AccessToken, signedIn.RefreshToken)
		rec := te.do(t, "POST", "/mfa/recovery-codes", nil, bearer(signedIn.AccessToken))
		var fresh struct {
			Codes []string `json:"recovery_codes"`
		}
		extDecodeBody(t, rec, http.StatusOK, &fresh)
		te.Env.Logs.Plant(fresh.Codes...)
		tok, _ = te.mfaToken(t, "legacy@example.com")
		rec = te.do(t, "POST", "/login/recovery-code", map[string]string{"mfa_token": tok, "code": legacy[1]})
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("a legacy code after regeneration: %d %s", rec.Code, rec.Body)
		}
	})
}
