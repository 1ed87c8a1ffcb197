package auth

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
)

// newMFAEnv builds the function with the fake second factor.
func newMFAEnv(t *testing.T, b bootstraptest.Backend) (*testEnv, *fakeMFA) {
	f := &fakeMFA{users: map[string]bool{}}
	te := newTestEnv(t, b, func(_ *Config, e *Extension) { *e = f })
	f.sessions, f.logger = te.Sessions, te.Env.Logger
	return te, f
}

type mfaAnswer struct {
	MFARequired bool     `json:"mfa_required"`
	MFAToken    string   `json:"mfa_token"`
	Methods     []string `json:"methods"`
}

func (te *testEnv) mfaLogin(t *testing.T, email string, hdr ...http.Header) string {
	t.Helper()
	rec := te.login(t, email, testPassword, hdr...)
	var a mfaAnswer
	if err := json.Unmarshal(rec.Body.Bytes(), &a); err != nil || rec.Code != http.StatusOK || !a.MFARequired ||
		len(a.MFAToken) != tokenLen || len(a.Methods) != 1 || a.Methods[0] != "totp" {
		t.Fatalf("login of an MFA user: %d %s", rec.Code, rec.Body)
	}
	if len(rec.Result().Cookies()) != 0 {
		t.Fatal("the first factor alone set cookies")
	}
	te.Env.Logs.Plant(a.MFAToken)
	return a.MFAToken
}

// The first factor of an MFA user yields only a single-use MFA token; the
// second factor completes a multi-factor session.
//
// Controls: AUTH-6, AUTH-12
func TestMFAHandoff(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te, f := newMFAEnv(t, b)
		first := te.signUp(t, "uma@example.com", testPassword)
		f.users[first.UserID] = true
		tok := te.mfaLogin(t, "uma@example.com")
		if rec := te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": "000000"}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong code: %d", rec.Code)
		}
		if rec := te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": fakeCode}); errorCode(rec) != "invalid_mfa_token" {
			t.Fatalf("spent MFA token: %d %s", rec.Code, rec.Body)
		}
		tok = te.mfaLogin(t, "uma@example.com")
		te.Env.Clock.Advance(5*time.Minute + time.Second)
		if rec := te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": fakeCode}); errorCode(rec) != "invalid_mfa_token" {
			t.Fatalf("expired MFA token: %d %s", rec.Code, rec.Body)
		}
		tok = te.mfaLogin(t, "uma@example.com")
		tk := decodeTokens(t, te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": fakeCode}))
		te.Env.Logs.Plant(tk.AccessToken, tk.RefreshToken)
		rec := te.do(t, "GET", "/me", nil, bearer(tk.AccessToken))
		var me meResponse
		if err := json.Unmarshal(rec.Body.Bytes(), &me); err != nil || me.Session.AuthLevel != 2 ||
			len(me.Session.AuthMethods) != 2 || me.MFAMethods[0] != "totp" {
			t.Fatalf("MFA session: %d %s", rec.Code, rec.Body)
		}
	})
}

// Second-factor failures count toward the lockout; a correct second
// factor does not reset it.
//
// Controls: AUTH-3
func TestSecondFactorLockout(t *testing.T) {
	te, f := newMFAEnv(t, bootstraptest.Backends[0])
	first := te.signUp(t, "val@example.com", testPassword)
	f.users[first.UserID] = true
	attacker := fromNetwork("203.0.113.9")
	for i := range lockoutFailures {
		tok := te.mfaLogin(t, "val@example.com", attacker)
		if rec := te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": "111111"}, attacker); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong code %d: %d", i, rec.Code)
		}
	}
	// Locked: the password step answers the same 401 as a wrong password.
	if rec := te.login(t, "val@example.com", testPassword, attacker); rec.Code != http.StatusUnauthorized {
		t.Fatalf("password while locked: %d", rec.Code)
	}
	te.Env.Clock.Advance(31 * time.Second)
	tok := te.mfaLogin(t, "val@example.com", attacker)
	if rec := te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": "222222"}, attacker); rec.Code != http.StatusUnauthorized {
		t.Fatalf("wrong code after the lock: %d", rec.Code)
	}
	tok = te.mfaLogin(t, "val@example.com", withDevice(first.Device)) // the holder's device passes the password step
	rec := te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": fakeCode}, withDevice(first.Device))
	tk := decodeTokens(t, rec)
	te.Env.Logs.Plant(tk.AccessToken, tk.RefreshToken)
	// The holder's success did not reset the count: the attacker is still locked out.
	tok2 := te.mfaLogin(t, "val@example.com", withDevice(first.Device))
	if rec := te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok2, "code": fakeCode}, attacker); rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("second factor from an unknown device while locked: %d %s", rec.Code, rec.Body)
	}
}

// A user with a second factor steps up with it, not the password; a
// sole owner cannot delete the account.
//
// Controls: AUTH-12, DATA-1
func TestMFAStepUpAndSoleOwner(t *testing.T) {
	te, f := newMFAEnv(t, bootstraptest.Backends[0])
	first := te.signUp(t, "wes@example.com", testPassword)
	f.users[first.UserID] = true
	auth := bearer(first.AccessToken)
	for _, tc := range []struct {
		name string
		body string
		want int
	}{
		{"password", `{"method":"password","password":"` + testPassword + `"}`, http.StatusBadRequest},
		{"wrong code", `{"method":"totp","proof":{"code":"000000"}}`, http.StatusUnauthorized},
		{"right code", `{"method":"totp","proof":{"code":"` + fakeCode + `"}}`, http.StatusNoContent},
	} {
		if rec := te.do(t, "POST", "/reauthenticate", tc.body, auth, http.Header{"Content-Type": {"application/json"}}); rec.Code != tc.want {
			t.Errorf("step-up with %s: %d %s, want %d", tc.name, rec.Code, rec.Body, tc.want)
		}
	}
	if rec := te.do(t, "DELETE", "/me", nil, auth); rec.Code != http.StatusConflict || errorCode(rec) != "sole_owner" {
		t.Fatalf("delete as sole owner: %d %s", rec.Code, rec.Body)
	}
	if _, err := te.Env.Store.User(t.Context(), first.UserID); err != nil {
		t.Fatalf("refused deletion removed the user: %v", err)
	}
	if rec := te.do(t, "GET", "/me/export", nil, auth); rec.Code != http.StatusOK || !json.Valid(rec.Body.Bytes()) {
		t.Fatalf("export: %d", rec.Code)
	}
}
