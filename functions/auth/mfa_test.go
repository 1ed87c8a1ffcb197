package auth

import (
	"database/sql"
	"encoding/base32"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/mfa"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// mfaSession is the session part of GET /me.
type mfaSession struct {
	Session struct {
		AuthMethods []string `json:"auth_methods"`
		AuthLevel   int      `json:"auth_level"`
	} `json:"session"`
	MFAMethods []string `json:"mfa_methods"`
}

func (te *testEnv) mfaMe(t testing.TB, access string) mfaSession {
	t.Helper()
	var me mfaSession
	extDecodeBody(t, te.do(t, "GET", "/me", nil, bearer(access)), http.StatusOK, &me)
	return me
}

// TOTP from enrollment to sign-in: the secret and recovery codes are shown
// once and never cached; sign-in then needs a code; a code is accepted once;
// recovery codes are single use and regenerated as a set; disabling needs a
// recent sign-in.
//
// Controls: AUTH-5, AUTH-12, AUTH-2, AUDIT-2
func TestMFATOTPFlow(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		tk := te.signUp(t, "tara@example.com", testPassword)
		rec := te.do(t, "POST", "/mfa/totp", nil, bearer(tk.AccessToken))
		var first struct {
			Secret string `json:"secret"`
		}
		extDecodeBody(t, rec, http.StatusCreated, &first)
		te.Env.Logs.Plant(first.Secret)
		if rec.Header().Get("Cache-Control") != "no-store" || !strings.Contains(rec.Body.String(), "otpauth://totp/Gatehouse:tara@example.com?") {
			t.Fatalf("enroll: %v %s", rec.Header(), rec.Body)
		}
		// A new enrollment replaces an unconfirmed one; confirming works once.
		a := te.mfaEnrollTOTP(t, tk.AccessToken)
		if len(a.codes) != 10 {
			t.Fatalf("%d recovery codes, want 10", len(a.codes))
		}
		if rec := te.do(t, "POST", "/mfa/totp", nil, bearer(tk.AccessToken)); rec.Code != http.StatusConflict {
			t.Fatalf("enrolling twice: %d %s", rec.Code, rec.Body)
		}
		if me := te.mfaMe(t, tk.AccessToken); !slices.Equal(me.MFAMethods, []string{"totp", "recovery_code"}) {
			t.Fatalf("mfa methods %v", me.MFAMethods)
		}

		te.Env.Clock.Advance(time.Minute)
		tok, methods := te.mfaToken(t, "tara@example.com")
		if !slices.Contains(methods, "totp") {
			t.Fatalf("methods %v", methods)
		}
		code := te.mfaCode(t, a, 0)
		signedIn := decodeTokens(t, te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": code}))
		te.Env.Logs.Plant(signedIn.AccessToken, signedIn.RefreshToken)
		if me := te.mfaMe(t, signedIn.AccessToken); !slices.Equal(me.Session.AuthMethods, []string{"pwd", "otp"}) || me.Session.AuthLevel != 2 {
			t.Fatalf("session after TOTP: %+v", me.Session)
		}
		// The same code again, with a fresh first step: a replay.
		tok, _ = te.mfaToken(t, "tara@example.com")
		rec = te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": code})
		if rec.Code != http.StatusUnauthorized || errorCode(rec) != "invalid_credentials" {
			t.Fatalf("replayed code: %d %s", rec.Code, rec.Body)
		}
		// The MFA token is single use: it was spent by the failed attempt.
		rec = te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": te.mfaCode(t, a, 1)})
		if rec.Code != http.StatusUnauthorized || errorCode(rec) != "invalid_mfa_token" {
			t.Fatalf("spent mfa token: %d %s", rec.Code, rec.Body)
		}

		tok, _ = te.mfaToken(t, "tara@example.com")
		rc := decodeTokens(t, te.do(t, "POST", "/login/recovery-code", map[string]string{"mfa_token": tok, "code": strings.ToUpper(a.codes[0])}))
		te.Env.Logs.Plant(rc.AccessToken, rc.RefreshToken)
		if me := te.mfaMe(t, rc.AccessToken); !slices.Equal(me.Session.AuthMethods, []string{"pwd", "rc"}) {
			t.Fatalf("session after recovery code: %+v", me.Session)
		}
		tok, _ = te.mfaToken(t, "tara@example.com")
		if rec := te.do(t, "POST", "/login/recovery-code", map[string]string{"mfa_token": tok, "code": a.codes[0]}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("reused recovery code: %d %s", rec.Code, rec.Body)
		}
		// Regenerating replaces every code.
		var regen struct {
			Codes []string `json:"recovery_codes"`
		}
		rec = te.do(t, "POST", "/mfa/recovery-codes", nil, bearer(rc.AccessToken))
		extDecodeBody(t, rec, http.StatusOK, &regen)
		te.Env.Logs.Plant(regen.Codes...)
		if len(regen.Codes) != 10 || rec.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("regenerate: %v %s", rec.Header(), rec.Body)
		}
		tok, _ = te.mfaToken(t, "tara@example.com")
		if rec := te.do(t, "POST", "/login/recovery-code", map[string]string{"mfa_token": tok, "code": a.codes[1]}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("old recovery code after regeneration: %d %s", rec.Code, rec.Body)
		}

		// Disabling needs a recent authentication.
		te.Env.Clock.Advance(11 * time.Minute)
		rc = te.extRefresh(t, rc)
		rec = te.do(t, "DELETE", "/mfa/totp", nil, bearer(rc.AccessToken))
		if rec.Code != http.StatusForbidden || errorCode(rec) != "reauthentication_required" {
			t.Fatalf("stale disable: %d %s", rec.Code, rec.Body)
		}
		rec = te.do(t, "POST", "/reauthenticate", map[string]any{"method": "totp", "proof": map[string]string{"code": te.mfaCode(t, a, 0)}},
			bearer(rc.AccessToken))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("step-up with TOTP: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "DELETE", "/mfa/totp", nil, bearer(rc.AccessToken)); rec.Code != http.StatusNoContent {
			t.Fatalf("disable: %d %s", rec.Code, rec.Body)
		}
		if me := te.mfaMe(t, rc.AccessToken); len(me.MFAMethods) != 0 {
			t.Fatalf("methods after disable: %v", me.MFAMethods)
		}
		decodeTokens(t, te.login(t, "tara@example.com", testPassword))
		te.mfaAuditActions(t, "mfa.totp.enroll", "mfa.totp.confirm", "auth.mfa", "mfa.totp.disable")
	})
}

// mfaAuditActions fails t unless each action is in the audit log.
func (te *testEnv) mfaAuditActions(t testing.TB, actions ...string) {
	t.Helper()
	evs, err := te.Env.Store.AuditEvents(t.Context(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range actions {
		if !slices.ContainsFunc(evs, func(e store.AuditEvent) bool { return e.Action == a }) {
			t.Errorf("no %s event in the audit log", a)
		}
	}
}

// Wrong second factors count toward the account lockout shared with the
// password step; a correct one resets nothing, so the next failure locks
// the account for devices it never signed in from.
//
// Controls: AUTH-3
func TestMFALockoutNotResetBySecondFactor(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		tk := te.signUp(t, "lou@example.com", testPassword)
		a := te.mfaEnrollTOTP(t, tk.AccessToken)
		for i := range 4 {
			tok, _ := te.mfaToken(t, "lou@example.com")
			if rec := te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": "000000"}); rec.Code != http.StatusUnauthorized {
				t.Fatalf("wrong code %d: %d %s", i, rec.Code, rec.Body)
			}
		}
		tok, _ := te.mfaToken(t, "lou@example.com")
		te.Env.Clock.Advance(mfaStep)
		decodeTokens(t, te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": te.mfaCode(t, a, 0)}))
		te.Env.Logs.Plant(otherPassword)
		if rec := te.login(t, "lou@example.com", otherPassword); rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d %s", rec.Code, rec.Body)
		}
		// Fifth failure: locked, even with the right password.
		if rec := te.login(t, "lou@example.com", testPassword); rec.Code == http.StatusOK {
			t.Fatalf("account not locked after 5 failures around a correct TOTP: %s", rec.Body)
		}
		// The holder's own device still signs in.
		tok, _ = te.mfaToken(t, "lou@example.com", withDevice(tk.Device))
		te.Env.Clock.Advance(mfaStep)
		decodeTokens(t, te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": te.mfaCode(t, a, 0)}, withDevice(tk.Device)))
	})
}

const mfaStep = 30 * time.Second

// Every MFA route refuses a request without a session, and bad input is a
// structured 400, never a 500 or a partial write.
//
// Controls: AUTHZ-2, APP-1, APP-6
func TestMFARoutesInput(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	tk := te.signUp(t, "ina@example.com", testPassword)
	for _, route := range []string{"GET /mfa", "POST /mfa/totp", "POST /mfa/totp/confirm", "DELETE /mfa/totp",
		"POST /mfa/recovery-codes", "POST /mfa/webauthn/options", "POST /mfa/webauthn", "DELETE /mfa/webauthn/x",
		"POST /mfa/webauthn/step-up/options"} {
		method, path, _ := strings.Cut(route, " ")
		if rec := te.do(t, method, path, "{}"); rec.Code != http.StatusUnauthorized {
			t.Errorf("%s without a session: %d", route, rec.Code)
		}
	}
	for _, tc := range []struct {
		name, path, body string
		want             int
	}{
		{"unknown field", "/mfa/totp/confirm", `{"code":"123456","extra":1}`, 400},
		{"wrong type", "/mfa/totp/confirm", `{"code":123456}`, 400},
		{"not json", "/mfa/totp/confirm", `code=1`, 400},
		{"confirm without enrollment", "/mfa/totp/confirm", `{"code":"123456"}`, 409},
		{"huge code", "/mfa/totp/confirm", `{"code":"` + strings.Repeat("9", 5000) + `"}`, 400},
		{"enroll with a body", "/mfa/totp", `{"x":1}`, 400},
		{"register without ceremony", "/mfa/webauthn", `{"credential":{}}`, 400},
		{"register with garbage", "/mfa/webauthn", `{"ceremony":"abc","credential":{"id":1}}`, 400},
		{"login totp, no token", "/login/totp", `{"code":"123456"}`, 400},
		{"login totp, bad token", "/login/totp", `{"mfa_token":"x","code":"123456"}`, 401},
		{"login webauthn, bad ceremony", "/login/webauthn", `{"ceremony":"x","credential":{"id":"AA"}}`, 401},
		{"login webauthn, array", "/login/webauthn", `[]`, 400},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := te.do(t, "POST", tc.path, tc.body, bearer(tk.AccessToken))
			if rec.Code != tc.want || errorCode(rec) == "" {
				t.Fatalf("%d %s, want %d with an error code", rec.Code, rec.Body, tc.want)
			}
		})
	}
	if n, _ := te.Env.Store.RecoveryCodesLeft(t.Context(), tk.UserID); n != 0 {
		t.Fatalf("bad requests left %d recovery codes behind", n)
	}
}

// A step-up proof is attacker-controlled JSON: it decodes strictly or is
// refused with a 400, never anything else.
func FuzzMFAStepUpProof(f *testing.F) {
	for _, seed := range []string{`{"code":"123456"}`, `{"code":1}`, `{"code":"1","x":2}`, `{"ceremony":"a","credential":{}}`, `{} {}`, ``, `"`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var p mfaCeremonyRequest
		err := extDecodeStrict(raw, &p)
		if err == nil {
			return
		}
		var we *web.Error
		if !errors.As(err, &we) || we.Status != http.StatusBadRequest {
			t.Fatalf("proof %q: %v", raw, err)
		}
	})
}

// A factor change and its audit event commit together: when the event
// cannot be written, the change is rolled back and the codes it would have
// shown are never issued.
//
// Controls: AUTHZ-4, AUDIT-1
func TestMFAChangeAndEventAreOneTransaction(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	tk := te.signUp(t, "una@example.com", testPassword)
	var en struct {
		Secret string `json:"secret"`
	}
	extDecodeBody(t, te.do(t, "POST", "/mfa/totp", nil, bearer(tk.AccessToken)), http.StatusCreated, &en)
	te.Env.Logs.Plant(en.Secret)
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(en.Secret)
	if err != nil {
		t.Fatal(err)
	}
	a := mfaTOTP{secret: mfa.TOTPSecretFromBytes(raw)}

	db := te.Env.Store.(interface{ SQL() *sql.DB }).SQL()
	if _, err := db.Exec(`CREATE TRIGGER audit_down BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'audit log down'); END`); err != nil {
		t.Fatal(err)
	}
	rec := te.do(t, "POST", "/mfa/totp/confirm", map[string]string{"code": te.mfaCode(t, a, 0)}, bearer(tk.AccessToken))
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "recovery_codes") {
		t.Fatalf("confirm without an audit log: %d %s", rec.Code, rec.Body)
	}
	if _, err := db.Exec(`DROP TRIGGER audit_down`); err != nil {
		t.Fatal(err)
	}
	var st mfaSummaryJSON
	extDecodeBody(t, te.do(t, "GET", "/mfa", nil, bearer(tk.AccessToken)), http.StatusOK, &st)
	if len(st.Methods) != 0 {
		t.Fatalf("the change committed without its event: methods %v", st.Methods)
	}
	// With the log back, the same code (its step unused) confirms.
	te.Env.Clock.Advance(30 * time.Second)
	extDecodeBody(t, te.do(t, "POST", "/mfa/totp/confirm", map[string]string{"code": te.mfaCode(t, a, 0)}, bearer(tk.AccessToken)), http.StatusOK, nil)
	te.mfaAuditActions(t, "mfa.totp.enroll", "mfa.totp.confirm")
}

// Finishing a factor's enrollment is limited per user, so the first TOTP
// code cannot be guessed by trying them all.
//
// Controls: AUTH-3
func TestMFAEnrollLimited(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	tk := te.signUp(t, "vic@example.com", testPassword)
	extDecodeBody(t, te.do(t, "POST", "/mfa/totp", nil, bearer(tk.AccessToken)), http.StatusCreated, nil)
	for i := range mfaEnrollLimit.Burst {
		if rec := te.do(t, "POST", "/mfa/totp/confirm", map[string]string{"code": "000000"}, bearer(tk.AccessToken)); rec.Code != http.StatusBadRequest {
			t.Fatalf("attempt %d: %d %s", i+1, rec.Code, rec.Body)
		}
	}
	rec := te.do(t, "POST", "/mfa/totp/confirm", map[string]string{"code": "000000"}, bearer(tk.AccessToken))
	if rec.Code != http.StatusTooManyRequests || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("attempt %d: %d %s", mfaEnrollLimit.Burst+1, rec.Code, rec.Body)
	}
	o := te.mfaOptions(t, "/mfa/webauthn/options", nil, bearer(tk.AccessToken))
	if rec := te.do(t, "POST", "/mfa/webauthn", map[string]any{"ceremony": o.Ceremony, "credential": newMFAAuthenticator().attest(t, o.Raw)}, bearer(tk.AccessToken)); rec.Code != http.StatusTooManyRequests {
		t.Fatalf("passkey registration past the limit: %d", rec.Code)
	}
}
