package auth

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

func (te *testEnv) putPolicy(t testing.TB, org, access string, p map[string]any) *http.Response {
	t.Helper()
	return te.do(t, "PUT", "/orgs/"+org+"/policy", p, bearer(access)).Result()
}

// errorBody decodes a structured error.
func errorBody(t testing.TB, resp *http.Response) (code string, fields map[string]string) {
	t.Helper()
	var body struct {
		Error struct {
			Code   string            `json:"code"`
			Fields map[string]string `json:"fields"`
		} `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return body.Error.Code, body.Error.Fields
}

// Requiring MFA ends the members' single-factor sessions at once; a
// member signed in with one factor is then refused every route of the
// organization (not their other organizations' nor their own account's)
// until a second factor; the owner must hold one to turn it on.
//
// Controls: AUTHZ-5, AUTH-5
func TestOrgPolicyRequireMFA(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		owner := w.tokens["ownerA"]
		if resp := te.putPolicy(t, w.A, owner.AccessToken, map[string]any{"require_mfa": true}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("owner without a second factor turns MFA on: %d", resp.StatusCode)
		} else if code, _ := errorBody(t, resp); code != "mfa_required" {
			t.Fatalf("code %q", code)
		}
		totp := te.mfaEnrollTOTP(t, owner.AccessToken)
		te.Env.Clock.Advance(time.Minute)
		tok, _ := te.mfaToken(t, orgEmail("ownerA"))
		owner2 := decodeTokens(t, te.do(t, "POST", "/login/totp", map[string]string{"mfa_token": tok, "code": te.mfaCode(t, totp, 0)}))
		if resp := te.putPolicy(t, w.A, w.tokens["adminA"].AccessToken, map[string]any{"require_mfa": true}); resp.StatusCode != http.StatusForbidden {
			t.Fatalf("admin sets the policy: %d", resp.StatusCode)
		}
		if resp := te.putPolicy(t, w.A, owner2.AccessToken, map[string]any{"require_mfa": true}); resp.StatusCode != http.StatusOK {
			t.Fatalf("owner turns MFA on: %d", resp.StatusCode)
		}
		viewer := w.tokens["viewerA"]
		if rec := te.do(t, "GET", "/me", nil, bearer(viewer.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("single-factor session after MFA became required: %d", rec.Code)
		}
		again := decodeTokens(t, te.login(t, orgEmail("viewerA"), testPassword))
		rec := te.do(t, "GET", "/orgs/"+w.A+"/members", nil, bearer(again.AccessToken))
		if rec.Code != http.StatusForbidden || errorCode(rec) != "mfa_required" {
			t.Fatalf("single-factor member reads the organization: %d %s", rec.Code, rec.Body)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(again.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("own account with one factor: %d", rec.Code)
		}
		if rec := te.do(t, "GET", "/orgs/"+w.B+"/members", nil, bearer(w.tokens["memberB"].AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("another organization's member: %d", rec.Code)
		}
		if rec := te.do(t, "GET", "/orgs/"+w.A+"/members", nil, bearer(owner2.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("owner with two factors: %d", rec.Code)
		}
		assertAudited(t, te, "org.policy.update")
	})
}

// Requiring SSO: refused until SSO is configured on a verified domain;
// then password, magic-link and sign-up are refused for addresses on the
// domain with an answer naming the organization, their non-federated
// sessions end, while the owner (break-glass) and members on other
// domains keep signing in.
//
// Controls: AUTHZ-5, AUTH-13
func TestOrgPolicyRequireSSO(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		owner := te.signUp(t, "owner@corp.example.com", testPassword)
		org := te.orgCreate(t, owner.AccessToken, "Corp")
		alice := te.signUp(t, "alice@corp.example.com", testPassword)
		bob := te.signUp(t, "bob@other.example.com", testPassword)
		te.orgInviteAccept(t, org, owner.AccessToken, "alice@corp.example.com", "viewer", alice.AccessToken)
		te.orgInviteAccept(t, org, owner.AccessToken, "bob@other.example.com", "viewer", bob.AccessToken)

		if resp := te.putPolicy(t, org, owner.AccessToken, map[string]any{"require_sso": true}); resp.StatusCode != http.StatusConflict {
			t.Fatalf("require SSO before it is configured: %d", resp.StatusCode)
		}
		ctx, now := t.Context(), te.Env.Now()
		if err := te.Env.Store.CreateSSODomain(ctx, store.SSODomain{ID: "dom-corp", OrgID: org, Domain: "corp.example.com", Token: "t",
			CreatedBy: owner.UserID, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := te.Env.Store.VerifySSODomain(ctx, org, "dom-corp", now); err != nil {
			t.Fatal(err)
		}
		secret, err := te.Env.Keyring.Seal(ctx, envelope.PurposeCredential, envelope.Binding{Org: org, Record: "sso-corp",
			Field: "sso_configs.client_secret"}, []byte("client-secret"))
		if err != nil {
			t.Fatal(err)
		}
		if err := te.Env.Store.PutSSOConfig(ctx, store.SSOConfig{ID: "sso-corp", OrgID: org, Issuer: "https://idp.corp.example.com",
			ClientID: "gatehouse", ClientSecret: secret, UpdatedBy: owner.UserID, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if resp := te.putPolicy(t, org, owner.AccessToken, map[string]any{"require_sso": true}); resp.StatusCode != http.StatusOK {
			t.Fatalf("require SSO: %d", resp.StatusCode)
		}

		if rec := te.do(t, "GET", "/me", nil, bearer(alice.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("password session on the domain after SSO became required: %d", rec.Code)
		}
		resp := te.login(t, "alice@corp.example.com", testPassword).Result()
		if code, fields := errorBody(t, resp); resp.StatusCode != http.StatusForbidden || code != "sso_required" || fields["org"] != org {
			t.Fatalf("password sign-in on the domain: %d %s %v", resp.StatusCode, code, fields)
		}
		if rec := te.login(t, "alice@corp.example.com", otherPassword); errorCode(rec) != "invalid_credentials" {
			t.Fatalf("wrong password tells the policy: %d %s", rec.Code, rec.Body)
		}
		te.do(t, "POST", "/magic-link", map[string]string{"email": "alice@corp.example.com"})
		link := linkToken(t, te.lastMessage(t, "alice@corp.example.com", notify.KindMagicLink))
		if rec := te.do(t, "POST", "/magic-link/verify", map[string]string{"token": link}); rec.Code != http.StatusForbidden || errorCode(rec) != "sso_required" {
			t.Fatalf("magic link on the domain: %d %s", rec.Code, rec.Body)
		}
		te.do(t, "POST", "/register", map[string]string{"email": "carol@corp.example.com"})
		signup := linkToken(t, te.lastMessage(t, "carol@corp.example.com", notify.KindEmailVerification))
		if rec := te.do(t, "POST", "/register/confirm", map[string]string{"token": signup, "password": testPassword}); rec.Code != http.StatusForbidden || errorCode(rec) != "sso_required" {
			t.Fatalf("sign-up on the domain: %d %s", rec.Code, rec.Body)
		}
		if _, err := te.Env.Store.UserByEmail(ctx, "carol@corp.example.com"); err == nil {
			t.Fatal("a refused sign-up created the account")
		}

		if rec := te.do(t, "GET", "/me", nil, bearer(owner.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("owner's session: %d", rec.Code)
		}
		decodeTokens(t, te.login(t, "owner@corp.example.com", testPassword)) // break-glass
		if rec := te.do(t, "GET", "/me", nil, bearer(bob.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("member on another domain: %d", rec.Code)
		}
		decodeTokens(t, te.login(t, "bob@other.example.com", testPassword))
	})
}

// An organization's maximum session age refuses older sessions on its
// routes only; a fresh sign-in passes. Out-of-range values are refused.
//
// Controls: AUTHZ-5, AUTH-6
func TestOrgPolicySessionAge(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	w := te.orgSetup(t)
	owner := w.tokens["ownerA"]
	for _, bad := range []int64{-1, 60, 31 * 24 * 3600} {
		if resp := te.putPolicy(t, w.A, owner.AccessToken, map[string]any{"max_session_age_seconds": bad}); resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("max age %d: %d", bad, resp.StatusCode)
		}
	}
	if resp := te.putPolicy(t, w.A, owner.AccessToken, map[string]any{"max_session_age_seconds": 3600}); resp.StatusCode != http.StatusOK {
		t.Fatalf("set max age: %d", resp.StatusCode)
	}
	viewer := w.tokens["viewerA"]
	if rec := te.do(t, "GET", "/orgs/"+w.A+"/members", nil, bearer(viewer.AccessToken)); rec.Code != http.StatusOK {
		t.Fatalf("young session: %d", rec.Code)
	}
	te.Env.Clock.Advance(2 * time.Hour)
	fresh := decodeTokens(t, te.do(t, "POST", "/token", map[string]string{"refresh_token": viewer.RefreshToken}))
	rec := te.do(t, "GET", "/orgs/"+w.A+"/members", nil, bearer(fresh.AccessToken))
	if rec.Code != http.StatusUnauthorized || errorCode(rec) != "session_too_old" {
		t.Fatalf("two-hour-old session on the organization: %d %s", rec.Code, rec.Body)
	}
	if rec := te.do(t, "GET", "/me", nil, bearer(fresh.AccessToken)); rec.Code != http.StatusOK {
		t.Fatalf("the same session on the own account: %d", rec.Code)
	}
	again := decodeTokens(t, te.login(t, orgEmail("viewerA"), testPassword))
	if rec := te.do(t, "GET", "/orgs/"+w.A+"/members", nil, bearer(again.AccessToken)); rec.Code != http.StatusOK {
		t.Fatalf("new session: %d", rec.Code)
	}
}

// An organization's idle timeout refuses, on its routes only, a session
// that was left unrefreshed longer than it allows, even after a refresh
// brought it back; a session in use (refreshed as its access tokens
// expire) and a new sign-in pass. Values outside 15 minutes..the global
// idle timeout are refused.
//
// Controls: AUTHZ-5, AUTH-6
func TestOrgPolicyIdleTimeout(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		w := te.orgSetup(t)
		owner := w.tokens["ownerA"]
		for _, bad := range []int64{-1, 600, 24*3600 + 1} {
			if resp := te.putPolicy(t, w.A, owner.AccessToken, map[string]any{"idle_session_timeout_seconds": bad}); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("idle %d: %d", bad, resp.StatusCode)
			}
		}
		if resp := te.putPolicy(t, w.A, owner.AccessToken, map[string]any{"idle_session_timeout_seconds": 1800}); resp.StatusCode != http.StatusOK {
			t.Fatalf("set idle timeout: %d", resp.StatusCode)
		}
		rec := te.do(t, "GET", "/orgs/"+w.A+"/policy", nil, bearer(w.tokens["viewerA"].AccessToken))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"idle_session_timeout_seconds":1800`) {
			t.Fatalf("policy: %d %s", rec.Code, rec.Body)
		}
		// adminA keeps using the session: a refresh every 9 minutes.
		busy := w.tokens["adminA"]
		for range 5 {
			te.Env.Clock.Advance(9 * time.Minute)
			busy = decodeTokens(t, te.do(t, "POST", "/token", map[string]string{"refresh_token": busy.RefreshToken}))
			if rec := te.do(t, "GET", "/orgs/"+w.A+"/members", nil, bearer(busy.AccessToken)); rec.Code != http.StatusOK {
				t.Fatalf("session in use: %d %s", rec.Code, rec.Body)
			}
		}
		// viewerA left the session for 45 minutes, then refreshed it.
		idle := decodeTokens(t, te.do(t, "POST", "/token", map[string]string{"refresh_token": w.tokens["viewerA"].RefreshToken}))
		rec = te.do(t, "GET", "/orgs/"+w.A+"/members", nil, bearer(idle.AccessToken))
		if rec.Code != http.StatusUnauthorized || errorCode(rec) != "session_idle" {
			t.Fatalf("session idle for 45 minutes: %d %s", rec.Code, rec.Body)
		}
		te.Env.Clock.Advance(5 * time.Minute)
		again := decodeTokens(t, te.do(t, "POST", "/token", map[string]string{"refresh_token": idle.RefreshToken}))
		if rec := te.do(t, "GET", "/orgs/"+w.A+"/members", nil, bearer(again.AccessToken)); rec.Code != http.StatusUnauthorized {
			t.Fatalf("idle session refreshed again: %d", rec.Code)
		}
		if rec := te.do(t, "GET", "/me", nil, bearer(again.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("the same session on the own account: %d", rec.Code)
		}
		fresh := decodeTokens(t, te.login(t, orgEmail("viewerA"), testPassword))
		if rec := te.do(t, "GET", "/orgs/"+w.A+"/members", nil, bearer(fresh.AccessToken)); rec.Code != http.StatusOK {
			t.Fatalf("new session: %d", rec.Code)
		}
	})
}

// Requiring SSO is possible with a SAML identity provider as the
// organization's single sign-on (no OIDC configuration).
//
// Controls: AUTHZ-5
func TestOrgPolicyRequireSSOWithSAML(t *testing.T) {
	te := newTestEnv(t, bootstraptest.Backends[0])
	owner := te.signUp(t, "owner@corp.example.com", testPassword)
	org := te.orgCreate(t, owner.AccessToken, "Corp")
	ctx, now := t.Context(), te.Env.Now()
	if err := te.Env.Store.CreateSSODomain(ctx, store.SSODomain{ID: "dom-corp", OrgID: org, Domain: "corp.example.com", Token: "t",
		CreatedBy: owner.UserID, CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := te.Env.Store.VerifySSODomain(ctx, org, "dom-corp", now); err != nil {
		t.Fatal(err)
	}
	if resp := te.putPolicy(t, org, owner.AccessToken, map[string]any{"require_sso": true}); resp.StatusCode != http.StatusConflict {
		t.Fatalf("require SSO with none configured: %d", resp.StatusCode)
	}
	if err := te.Env.Store.PutSAMLConfig(ctx, store.SAMLConfig{ID: "saml-corp", OrgID: org, IDPEntityID: "https://idp.corp.example.com",
		IDPMetadata: "<md/>", UpdatedBy: owner.UserID, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if resp := te.putPolicy(t, org, owner.AccessToken, map[string]any{"require_sso": true}); resp.StatusCode != http.StatusOK {
		t.Fatalf("require SSO with SAML: %d", resp.StatusCode)
	}
}

// Switching a policy on ends exactly the sessions it no longer admits.
// require_sso, for members on the verified domain: password, Google or
// GitHub ("fed" alone), another organization's SSO (even with amr "sso")
// and an SSO session of unknown organization (started before sessions
// recorded it) end; this organization's own OIDC or SAML sessions stay,
// also after a refresh and a password step-up (which drops "sso" from
// amr). A member on another domain and the owner keep theirs. Then
// require_mfa ends the single-factor sessions of every member, the
// organization's own SSO ones included, and keeps two-factor ones. Before
// sessions recorded their organization, another organization's SSO
// session survived require_sso, and a stepped-up own one ended.
//
// Controls: AUTHZ-5, AUTH-10
func TestOrgPolicySwitchEndsUnmetSessions(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b)
		owner := te.signUp(t, "owner@corp.example.com", testPassword)
		org := te.orgCreate(t, owner.AccessToken, "Corp")
		other := te.orgCreate(t, owner.AccessToken, "Other")
		alice := te.signUp(t, "alice@corp.example.com", testPassword)
		bob := te.signUp(t, "bob@elsewhere.example.com", testPassword)
		te.orgInviteAccept(t, org, owner.AccessToken, "alice@corp.example.com", "viewer", alice.AccessToken)
		te.orgInviteAccept(t, org, owner.AccessToken, "bob@elsewhere.example.com", "viewer", bob.AccessToken)
		ctx, now := t.Context(), te.Env.Now()
		if err := te.Env.Store.CreateSSODomain(ctx, store.SSODomain{ID: "dom-corp", OrgID: org, Domain: "corp.example.com", Token: "t",
			CreatedBy: owner.UserID, CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := te.Env.Store.VerifySSODomain(ctx, org, "dom-corp", now); err != nil {
			t.Fatal(err)
		}
		if err := te.Env.Store.PutSAMLConfig(ctx, store.SAMLConfig{ID: "saml-corp", OrgID: org, IDPEntityID: "https://idp.corp.example.com",
			IDPMetadata: "<md/>", UpdatedBy: owner.UserID, CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		ownSSO := te.refresh(t, te.signInVia(t, alice.UserID, org, "fed", "sso"))
		ownSteppedUp := te.signInVia(t, alice.UserID, org, "fed", "sso")
		if err := te.Env.Store.SetSessionAuth(ctx, ownSteppedUp.SessionID, []string{"pwd"}, 1, now); err != nil {
			t.Fatal(err)
		}
		ownSSO2FA := te.signInVia(t, alice.UserID, org, "fed", "sso", "otp")
		sessions := map[string]tokens{
			"password":             alice,
			"Google":               te.signInVia(t, alice.UserID, "", "fed"),
			"other org's SSO":      te.signInVia(t, alice.UserID, other, "fed", "sso"),
			"SSO of unknown org":   te.signInVia(t, alice.UserID, store.SSOOrgUnknown, "fed", "sso"),
			"own SSO, refreshed":   ownSSO,
			"own SSO, stepped up":  ownSteppedUp,
			"own SSO, two factors": ownSSO2FA,
			"other domain":         bob,
			"owner":                owner,
		}
		alive := func(stage string, want map[string]bool) {
			t.Helper()
			for name, tk := range sessions {
				code := http.StatusUnauthorized
				if want[name] {
					code = http.StatusOK
				}
				te.expectCode(t, stage+": "+name, "/me", tk, code)
			}
		}
		if resp := te.putPolicy(t, org, owner.AccessToken, map[string]any{"require_sso": true}); resp.StatusCode != http.StatusOK {
			t.Fatalf("require SSO: %d", resp.StatusCode)
		}
		alive("require_sso", map[string]bool{"own SSO, refreshed": true, "own SSO, stepped up": true, "own SSO, two factors": true,
			"other domain": true, "owner": true})
		te.expectCode(t, "own SSO session on the organization", "/orgs/"+org+"/members", ownSSO, http.StatusOK)

		owner2FA := te.signInVia(t, owner.UserID, "", "pwd", "otp")
		sessions["owner, two factors"] = owner2FA
		if resp := te.putPolicy(t, org, owner2FA.AccessToken, map[string]any{"require_sso": true, "require_mfa": true}); resp.StatusCode != http.StatusOK {
			t.Fatalf("require MFA: %d", resp.StatusCode)
		}
		alive("require_mfa", map[string]bool{"own SSO, two factors": true, "owner, two factors": true})
		te.expectCode(t, "two-factor SSO session on the organization", "/orgs/"+org+"/members", ownSSO2FA, http.StatusOK)
	})
}

// The organization's session lifetime applies on its routes to every
// session, its own SSO sessions included: one started through its SSO and
// refreshed every 9 minutes is refused once older than the maximum age
// (a refresh does not make it younger), one left idle longer than the
// idle timeout is refused even after a refresh; both still work for the
// user's own account, and a new SSO sign-in passes. The maximum age is
// bounded by the global absolute lifetime (here 7 days), not only by 30
// days.
//
// Controls: AUTHZ-5, AUTH-6
func TestOrgPolicyLifetimeBindsOwnSSOSessions(t *testing.T) {
	backends(t, func(t *testing.T, b bootstraptest.Backend) {
		te := newTestEnv(t, b, func(c *Config, _ *Extension) { c.Session.AbsoluteTimeout = 7 * 24 * time.Hour })
		w := te.orgSetup(t)
		owner, viewer := w.tokens["ownerA"], w.tokens["viewerA"].UserID
		members := "/orgs/" + w.A + "/members"
		for _, bad := range []int64{8 * 24 * 3600, 30 * 24 * 3600} {
			if resp := te.putPolicy(t, w.A, owner.AccessToken, map[string]any{"max_session_age_seconds": bad}); resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("max age %d beyond the global 7 days: %d", bad, resp.StatusCode)
			}
		}
		if resp := te.putPolicy(t, w.A, owner.AccessToken, map[string]any{"max_session_age_seconds": 3600,
			"idle_session_timeout_seconds": 1800}); resp.StatusCode != http.StatusOK {
			t.Fatalf("set lifetime: %d", resp.StatusCode)
		}
		busy := te.signInVia(t, viewer, w.A, "fed", "sso")
		idle := te.signInVia(t, viewer, w.A, "fed", "sso")
		for range 6 {
			te.Env.Clock.Advance(9 * time.Minute)
			busy = te.refresh(t, busy)
			te.expectCode(t, "SSO session in use, under an hour old", members, busy, http.StatusOK)
		}
		idle = te.refresh(t, idle) // 54 minutes after sign-in, unused since
		rec := te.do(t, "GET", members, nil, bearer(idle.AccessToken))
		if rec.Code != http.StatusUnauthorized || errorCode(rec) != "session_idle" {
			t.Fatalf("SSO session idle for 54 minutes: %d %s", rec.Code, rec.Body)
		}
		te.Env.Clock.Advance(9 * time.Minute)
		busy = te.refresh(t, busy)
		rec = te.do(t, "GET", members, nil, bearer(busy.AccessToken))
		if rec.Code != http.StatusUnauthorized || errorCode(rec) != "session_too_old" {
			t.Fatalf("SSO session 63 minutes old: %d %s", rec.Code, rec.Body)
		}
		te.expectCode(t, "old SSO session on the own account", "/me", busy, http.StatusOK)
		te.expectCode(t, "idle SSO session on the own account", "/me", idle, http.StatusOK)
		te.expectCode(t, "new SSO sign-in", members, te.signInVia(t, viewer, w.A, "fed", "sso"), http.StatusOK)
	})
}
