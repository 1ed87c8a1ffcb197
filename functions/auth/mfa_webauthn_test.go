package auth

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
)

// Passkeys end to end with a software authenticator: registration stores
// only public data; the passkey is then a second factor after the password,
// a passwordless sign-in, and a step-up proof; a counter going backwards is
// refused and flagged; removing it needs a recent sign-in.
//
// Controls: AUTH-5, AUTH-12, AUDIT-1
func TestMFAWebAuthnFlow(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		tk := te.signUp(t, "pia@example.com", testPassword)
		key := newMFAAuthenticator()
		id := te.mfaRegisterPasskey(t, tk.AccessToken, key)
		var st mfaSummaryJSON
		extDecodeBody(t, te.do(t, "GET", "/mfa", nil, bearer(tk.AccessToken)), http.StatusOK, &st)
		if len(st.WebAuthn) != 1 || st.WebAuthn[0].ID != id || !slices.Equal(st.Methods, []string{"webauthn"}) {
			t.Fatalf("GET /mfa: %+v", st)
		}

		// Second factor after the password.
		tok, methods := te.mfaToken(t, "pia@example.com")
		if !slices.Equal(methods, []string{"webauthn"}) {
			t.Fatalf("methods %v", methods)
		}
		o := te.mfaOptions(t, "/login/webauthn/options", map[string]string{"mfa_token": tok})
		second := decodeTokens(t, te.do(t, "POST", "/login/webauthn", map[string]any{"ceremony": o.Ceremony, "credential": key.assert(t, o.Raw)}))
		te.Env.Logs.Plant(second.AccessToken, second.RefreshToken)
		if me := te.mfaMe(t, second.AccessToken); !slices.Equal(me.Session.AuthMethods, []string{"pwd", "hwk"}) || me.Session.AuthLevel != 2 {
			t.Fatalf("session after passkey second factor: %+v", me.Session)
		}

		// Passwordless, with the discoverable credential.
		o = te.mfaOptions(t, "/login/webauthn/options", map[string]string{})
		if strings.Contains(string(o.Raw), "allowCredentials") {
			t.Fatalf("passkey options name credentials: %s", o.Raw)
		}
		pk := decodeTokens(t, te.do(t, "POST", "/login/webauthn", map[string]any{"ceremony": o.Ceremony, "credential": key.assert(t, o.Raw)}))
		te.Env.Logs.Plant(pk.AccessToken, pk.RefreshToken)
		if pk.UserID != tk.UserID || te.mfaMe(t, pk.AccessToken).Session.AuthLevel != 2 {
			t.Fatalf("passkey sign-in as %s, want %s", pk.UserID, tk.UserID)
		}

		// Step-up with the passkey after the window passed.
		te.Env.Clock.Advance(11 * time.Minute)
		pk = te.extRefresh(t, pk)
		if rec := te.do(t, "DELETE", "/mfa/webauthn/"+id, nil, bearer(pk.AccessToken)); rec.Code != http.StatusForbidden {
			t.Fatalf("stale delete: %d %s", rec.Code, rec.Body)
		}
		o = te.mfaOptions(t, "/mfa/webauthn/step-up/options", nil, bearer(pk.AccessToken))
		rec := te.do(t, "POST", "/reauthenticate", map[string]any{"method": "webauthn",
			"proof": map[string]any{"ceremony": o.Ceremony, "credential": key.assert(t, o.Raw)}}, bearer(pk.AccessToken))
		if rec.Code != http.StatusNoContent {
			t.Fatalf("step-up with the passkey: %d %s", rec.Code, rec.Body)
		}

		// A clone: the counter goes backwards.
		key.cred.Counter = 1
		tok, _ = te.mfaToken(t, "pia@example.com")
		o = te.mfaOptions(t, "/login/webauthn/options", map[string]string{"mfa_token": tok})
		rec = te.do(t, "POST", "/login/webauthn", map[string]any{"ceremony": o.Ceremony, "credential": key.assert(t, o.Raw)})
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("cloned key: %d %s", rec.Code, rec.Body)
		}
		extDecodeBody(t, te.do(t, "GET", "/mfa", nil, bearer(pk.AccessToken)), http.StatusOK, &st)
		if !st.WebAuthn[0].CloneWarning {
			t.Fatal("credential not flagged")
		}
		te.mfaAuditActions(t, "mfa.webauthn.register", "mfa.webauthn.clone_warning", "auth.mfa")

		if rec := te.do(t, "DELETE", "/mfa/webauthn/"+id, nil, bearer(pk.AccessToken)); rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		decodeTokens(t, te.login(t, "pia@example.com", testPassword))
	})
}

// One user's ceremonies, credentials and keys are useless to another.
//
// Controls: AUTH-5, AUTHZ-3
func TestMFAWebAuthnIsolation(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	alice := te.signUp(t, "alice@example.com", testPassword)
	bob := te.signUp(t, "bob@example.com", testPassword)
	aliceKey, bobKey := newMFAAuthenticator(), newMFAAuthenticator()
	aliceCred := te.mfaRegisterPasskey(t, alice.AccessToken, aliceKey)
	te.mfaRegisterPasskey(t, bob.AccessToken, bobKey)

	// Bob finishing alice's registration ceremony.
	o := te.mfaOptions(t, "/mfa/webauthn/options", nil, bearer(alice.AccessToken))
	rec := te.do(t, "POST", "/mfa/webauthn", map[string]any{"ceremony": o.Ceremony, "credential": newMFAAuthenticator().attest(t, o.Raw)}, bearer(bob.AccessToken))
	if rec.Code != http.StatusBadRequest {
		t.Fatalf("bob finishing alice's registration: %d %s", rec.Code, rec.Body)
	}
	// Bob deleting alice's credential.
	if rec := te.do(t, "DELETE", "/mfa/webauthn/"+aliceCred, nil, bearer(bob.AccessToken)); rec.Code != http.StatusNotFound {
		t.Fatalf("bob deleting alice's passkey: %d", rec.Code)
	}
	// Bob's key answering alice's second-factor ceremony.
	tok, _ := te.mfaToken(t, "alice@example.com")
	o = te.mfaOptions(t, "/login/webauthn/options", map[string]string{"mfa_token": tok})
	rec = te.do(t, "POST", "/login/webauthn", map[string]any{"ceremony": o.Ceremony, "credential": bobKey.assert(t, o.Raw)})
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("bob's key for alice: %d %s", rec.Code, rec.Body)
	}
	// Alice's step-up ceremony used by bob's session.
	o = te.mfaOptions(t, "/mfa/webauthn/step-up/options", nil, bearer(alice.AccessToken))
	rec = te.do(t, "POST", "/reauthenticate", map[string]any{"method": "webauthn",
		"proof": map[string]any{"ceremony": o.Ceremony, "credential": aliceKey.assert(t, o.Raw)}}, bearer(bob.AccessToken))
	if rec.Code != http.StatusUnauthorized {
		t.Fatalf("alice's step-up ceremony in bob's session: %d %s", rec.Code, rec.Body)
	}
}

// Passwordless ceremonies are rate limited per network.
//
// Controls: AUTH-3
func TestMFAPasskeyOptionsLimited(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	var last int
	for range mfaPasskeyOptionsLimit.Burst + 1 {
		last = te.do(t, "POST", "/login/webauthn/options", map[string]string{}).Code
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("request %d: %d, want 429", mfaPasskeyOptionsLimit.Burst+1, last)
	}
	if rec := te.do(t, "POST", "/login/webauthn/options", map[string]string{}, fromNetwork("198.51.100.7")); rec.Code != http.StatusOK {
		t.Fatalf("another network: %d", rec.Code)
	}
}
