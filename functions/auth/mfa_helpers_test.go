package auth

import (
	"encoding/base32"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/descope/virtualwebauthn"

	"github.com/gatehouse-dev/gatehouse/shared/mfa"
	"github.com/gatehouse-dev/gatehouse/shared/mfa/mfatest"
)

// extDecodeBody decodes a JSON response with the given status into v.
func extDecodeBody(t testing.TB, rec *httptest.ResponseRecorder, status int, v any) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status %d, want %d: %s", rec.Code, status, rec.Body)
	}
	if v != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
			t.Fatalf("decode %s: %v", rec.Body, err)
		}
	}
}

// mfaTOTP is a user's enrolled authenticator app.
type mfaTOTP struct {
	secret mfa.TOTPSecret
	codes  []string // recovery codes
}

// mfaCode returns the code for the test clock's time step plus d.
func (te *testEnv) mfaCode(t testing.TB, a mfaTOTP, d int64) string {
	t.Helper()
	c, err := mfa.TOTPCode(a.secret, mfa.TOTPStep(te.Env.Clock.Now())+d)
	if err != nil {
		t.Fatal(err)
	}
	te.Env.Logs.Plant(c)
	return c
}

// mfaEnrollTOTP enrolls and confirms TOTP for the signed-in user of
// access, planting the secret and recovery codes in the log check.
func (te *testEnv) mfaEnrollTOTP(t testing.TB, access string) mfaTOTP {
	t.Helper()
	var en struct {
		Secret string `json:"secret"`
		URI    string `json:"otpauth_uri"`
	}
	extDecodeBody(t, te.do(t, "POST", "/mfa/totp", nil, bearer(access)), http.StatusCreated, &en)
	te.Env.Logs.Plant(en.Secret)
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(en.Secret)
	if err != nil {
		t.Fatal(err)
	}
	a := mfaTOTP{secret: mfa.TOTPSecretFromBytes(raw)}
	var conf struct {
		Codes []string `json:"recovery_codes"`
	}
	rec := te.do(t, "POST", "/mfa/totp/confirm", map[string]string{"code": te.mfaCode(t, a, 0)}, bearer(access))
	extDecodeBody(t, rec, http.StatusOK, &conf)
	te.Env.Logs.Plant(conf.Codes...)
	a.codes = conf.Codes
	return a
}

// mfaToken signs in with the password and returns the mfa_token of the
// MFA hand-off, failing t if there is none.
func (te *testEnv) mfaToken(t testing.TB, email string, hdr ...http.Header) (string, []string) {
	t.Helper()
	var body struct {
		Required bool     `json:"mfa_required"`
		Token    string   `json:"mfa_token"`
		Methods  []string `json:"methods"`
	}
	extDecodeBody(t, te.login(t, email, testPassword, hdr...), http.StatusOK, &body)
	if !body.Required || body.Token == "" {
		t.Fatalf("login did not ask for a second factor: %+v", body)
	}
	te.Env.Logs.Plant(body.Token)
	return body.Token, body.Methods
}

// mfaAuthenticator is a software passkey for the test relying party.
type mfaAuthenticator struct {
	auth virtualwebauthn.Authenticator
	cred virtualwebauthn.Credential
}

var mfaTestRP = virtualwebauthn.RelyingParty{Name: "Gatehouse", ID: "app.example.com", Origin: "https://app.example.com"}

func newMFAAuthenticator() *mfaAuthenticator {
	return &mfaAuthenticator{auth: virtualwebauthn.NewAuthenticator(), cred: mfatest.NewCredential()}
}

// attest answers registration options as the browser would.
func (a *mfaAuthenticator) attest(t testing.TB, options json.RawMessage) json.RawMessage {
	t.Helper()
	parsed, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		t.Fatal(err)
	}
	a.auth.Options.UserHandle = []byte(parsed.UserID)
	resp := virtualwebauthn.CreateAttestationResponse(mfaTestRP, a.auth, a.cred, *parsed)
	a.auth.AddCredential(a.cred)
	return json.RawMessage(resp)
}

// assert answers request options as the browser would, advancing the counter.
func (a *mfaAuthenticator) assert(t testing.TB, options json.RawMessage) json.RawMessage {
	t.Helper()
	parsed, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		t.Fatal(err)
	}
	a.cred.Counter++
	return json.RawMessage(virtualwebauthn.CreateAssertionResponse(mfaTestRP, a.auth, a.cred, *parsed))
}

// mfaOptions is an options response: the ceremony and the publicKey
// options, kept raw for the software authenticator.
type mfaOptions struct {
	Ceremony string          `json:"ceremony"`
	Raw      json.RawMessage `json:"-"`
}

func (te *testEnv) mfaOptions(t testing.TB, path string, body any, hdr ...http.Header) mfaOptions {
	t.Helper()
	rec := te.do(t, "POST", path, body, hdr...)
	var o mfaOptions
	extDecodeBody(t, rec, http.StatusOK, &o)
	te.Env.Logs.Plant(o.Ceremony)
	o.Raw = json.RawMessage(rec.Body.Bytes())
	return o
}

// mfaRegisterPasskey registers a as a passkey of the user of access.
func (te *testEnv) mfaRegisterPasskey(t testing.TB, access string, a *mfaAuthenticator) string {
	t.Helper()
	o := te.mfaOptions(t, "/mfa/webauthn/options", nil, bearer(access))
	var c struct {
		ID string `json:"id"`
	}
	rec := te.do(t, "POST", "/mfa/webauthn", map[string]any{"ceremony": o.Ceremony, "credential": a.attest(t, o.Raw)}, bearer(access))
	extDecodeBody(t, rec, http.StatusCreated, &c)
	return c.ID
}

// extRefresh trades tk's refresh token for new tokens (the session's
// authentication time stays what it was).
func (te *testEnv) extRefresh(t testing.TB, tk tokens) tokens {
	t.Helper()
	fresh := decodeTokens(t, te.do(t, "POST", "/token", map[string]string{"refresh_token": tk.RefreshToken}))
	te.Env.Logs.Plant(fresh.AccessToken, fresh.RefreshToken)
	return fresh
}
