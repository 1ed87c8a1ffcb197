package oauthcallback

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// signInFlow runs /signin/{provider} through the authorization server and
// delivers the callback; change may alter the authorization URL first.
func (e *testEnv) signInFlow(t *testing.T, target string, change func(url.Values)) *httptest.ResponseRecorder {
	t.Helper()
	rec := e.do(t, http.MethodGet, target, "")
	if rec.Code != http.StatusFound {
		t.Fatalf("signin start: %d %s", rec.Code, rec.Body)
	}
	auth, _ := url.Parse(rec.Header().Get("Location"))
	q := auth.Query()
	if change != nil {
		change(q)
		auth.RawQuery = q.Encode()
	}
	cb := e.approve(t, auth.String())
	provider := strings.Split(strings.TrimPrefix(target, "/signin/"), "?")[0]
	return e.do(t, http.MethodGet, "/signin/"+provider+"/callback?"+cb.Encode(), "",
		"Cookie", rec.Result().Cookies()[0].Name+"="+rec.Result().Cookies()[0].Value)
}

func sessionCookie(rec *httptest.ResponseRecorder) string {
	for _, c := range rec.Result().Cookies() {
		if c.Name == session.AccessCookie && c.Value != "" {
			return c.Value
		}
	}
	return ""
}

// Sign-in with Google (OIDC) and GitHub: a first sign-in e-mails the
// provider's verified address a confirmation; confirming creates the
// account (address proven), linked by the provider's subject, with only
// provider and subject stored, and a session from the auth function's
// session code. Signing in again finds the same account and signs in at
// once.
//
// Controls: AUTH-10, AUTH-13, OAUTH-1, OAUTH-2
func TestSignIn(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		for _, tc := range []struct {
			provider, subject string
			scope             string
		}{
			{"google", "subject-1", "openid email profile"},
			{"github", "4242", "read:user user:email"},
		} {
			email := tc.provider + "-user@example.com"
			user := oauthtest.User{Subject: "subject-1", Email: email, EmailVerified: true, GitHubID: 4242}
			e.srv.SetUser(user)
			var scope string
			rec := e.signInFlow(t, "/signin/"+tc.provider+"?return_to=/home", func(q url.Values) { scope = q.Get("scope") })
			if scope != tc.scope {
				t.Fatalf("%s: scope %q, want %q", tc.provider, scope, tc.scope)
			}
			if loc := rec.Header().Get("Location"); rec.Code != http.StatusFound || loc != "https://app.example.com/home?signin_pending=email" {
				t.Fatalf("%s: first callback %d %q", tc.provider, rec.Code, loc)
			}
			if _, err := e.Store.UserByEmail(context.Background(), email); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: account created before the address was confirmed: %v", tc.provider, err)
			}
			userID := e.firstSignIn(t, "/signin/"+tc.provider+"?return_to=/home", user)
			ids, _ := e.Store.UserIdentities(context.Background(), userID)
			if len(ids) != 1 || ids[0].Provider != tc.provider || ids[0].Subject != tc.subject {
				t.Fatalf("%s: identities %+v", tc.provider, ids)
			}
			// Again: the same account, signed in at once.
			rec = e.signInFlow(t, "/signin/"+tc.provider+"?return_to=/home", nil)
			if loc := rec.Header().Get("Location"); loc != "https://app.example.com/home" || sessionCookie(rec) == "" {
				t.Fatalf("%s: second sign-in %d %q", tc.provider, rec.Code, loc)
			}
			e.Logs.Plant(sessionCookie(rec))
			if ids, _ := e.Store.UserIdentities(context.Background(), userID); len(ids) != 1 {
				t.Fatalf("%s: second sign-in linked again: %+v", tc.provider, ids)
			}
			if got := subjectEvents(t, e.Store, "user/"+userID); !slices.Equal(got, []string{"identity.linked", "user.created"}) {
				t.Fatalf("%s: events %v", tc.provider, got)
			}
			eventstest.Require(t, e.Store, events.UserCreated, "user/"+userID, map[string]string{"user_id": userID, "email": email, "by": "user"})
			eventstest.Require(t, e.Store, events.IdentityLinked, "user/"+userID, map[string]string{"user_id": userID, "provider": tc.provider})
		}
		if !slices.Contains(auditActions(t, e), "auth.register") {
			t.Fatal("account creation not audited")
		}
	})
}

// Finding: the sign-in callback answered account_exists for an address
// that has an account and created one (with a session) for an address
// that had none, an oracle for any identity provider, tenants' own
// included. Now both get the same redirect, no session and no link; the
// address is e-mailed either a confirmation or a notice. Fails on the code
// before this change (account_exists, and a session for the new address).
//
// Controls: AUTH-13, AUTH-4
func TestSignInNoAccountOracle(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		answers := map[string]string{}
		for _, email := range []string{"admin@example.com", "nobody@example.com"} {
			e.srv.SetUser(oauthtest.User{Subject: "probe-" + email, Email: email, EmailVerified: true})
			rec := e.signInFlow(t, "/signin/google?return_to=/home", nil)
			if sessionCookie(rec) != "" {
				t.Fatalf("%s: the callback signed in", email)
			}
			answers[email] = strconv.Itoa(rec.Code) + " " + rec.Header().Get("Location") + " " + rec.Body.String()
			if _, err := e.Store.IdentityUser(context.Background(), "google", "probe-"+email); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: identity linked: %v", email, err)
			}
		}
		if answers["admin@example.com"] != answers["nobody@example.com"] {
			t.Fatalf("answers differ:\n%s\n%s", answers["admin@example.com"], answers["nobody@example.com"])
		}
		if n := len(e.messages(t, "admin@example.com", notify.KindSignupAttempt)); n != 1 {
			t.Fatalf("%d notices to the account holder, want 1", n)
		}
		if n := len(e.messages(t, "admin@example.com", notify.KindEmailVerification)); n != 0 {
			t.Fatal("the holder of an existing account was sent an account-creation link")
		}
		if n := len(e.messages(t, "nobody@example.com", notify.KindEmailVerification)); n != 1 {
			t.Fatalf("%d confirmations to the new address, want 1", n)
		}
	})
}

// The e-mailed confirmation works once, as a browser only from an allowed
// origin (refused before it is spent), and not for an address that got an
// account meanwhile.
//
// Controls: AUTH-13, AUTH-15, APP-3
func TestSignInConfirm(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		e.srv.SetUser(oauthtest.User{Subject: "s-new", Email: "new@example.com", EmailVerified: true})
		e.signInFlow(t, "/signin/google?return_to=/home", nil)
		tok := e.confirmToken(t, "new@example.com")
		e.Logs.Plant(tok)
		body := `{"token":"` + tok + `"}`
		for name, hdr := range map[string][]string{
			"browser without origin":    {"Content-Type", "application/json", session.ClientHeader, "browser"},
			"browser from another site": {"Content-Type", "application/json", session.ClientHeader, "browser", "Origin", "https://evil.example"},
		} {
			if rec := e.do(t, http.MethodPost, "/signin/confirm", body, hdr...); rec.Code != http.StatusForbidden {
				t.Fatalf("%s: %d %s", name, rec.Code, rec.Body)
			}
		}
		rec := e.do(t, http.MethodPost, "/signin/confirm", body, "Content-Type", "application/json", session.ClientHeader, "browser",
			"Origin", "https://app.example.com")
		if rec.Code != http.StatusOK || !strings.Contains(strings.Join(rec.Header().Values("Set-Cookie"), ";"), session.AccessCookie) {
			t.Fatalf("browser confirmation after refused ones: %d %s", rec.Code, rec.Body)
		}
		for _, c := range rec.Result().Cookies() {
			e.Logs.Plant(c.Value)
		}
		if again := e.do(t, http.MethodPost, "/signin/confirm", body, jsonBody...); again.Code != http.StatusBadRequest ||
			!strings.Contains(again.Body.String(), "invalid_token") {
			t.Fatalf("second use: %d %s", again.Code, again.Body)
		}
		// An address that got an account between the e-mail and the click.
		e.srv.SetUser(oauthtest.User{Subject: "s-race", Email: "race@example.com", EmailVerified: true})
		e.signInFlow(t, "/signin/google?return_to=/home", nil)
		now := e.Clock.Now()
		if err := e.Store.CreateUser(context.Background(), store.User{ID: "user-race", Email: "race@example.com", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if rec := e.confirm(t, "race@example.com"); rec.Code != http.StatusBadRequest {
			t.Fatalf("confirmation for a taken address: %d %s", rec.Code, rec.Body)
		}
		if ids, _ := e.Store.UserIdentities(context.Background(), "user-race"); len(ids) != 0 {
			t.Fatalf("the identity was linked to the other account: %+v", ids)
		}
		for _, bad := range []string{`{"token":"short"}`, `{"token":"` + strings.Repeat("A", 43) + `"}`, `{}`, `{"token":1}`} {
			if rec := e.do(t, http.MethodPost, "/signin/confirm", bad, jsonBody...); rec.Code != http.StatusBadRequest {
				t.Fatalf("%s: %d", bad, rec.Code)
			}
		}
	})
}

// Controls: AUTH-10, OAUTH-2
func TestSignInRefusals(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[0])
	for _, tc := range []struct {
		name   string
		user   oauthtest.User
		change func(url.Values)
		code   string
	}{
		{"ID token for another flow's nonce", oauthtest.User{Subject: "s2", Email: "n@example.com", EmailVerified: true},
			func(q url.Values) { q.Set("nonce", "attacker-nonce") }, "invalid_identity"},
		{"unverified e-mail", oauthtest.User{Subject: "s3", Email: "u@example.com"}, nil, "email_not_verified"},
	} {
		e.srv.SetUser(tc.user)
		rec := e.signInFlow(t, "/signin/google?return_to=/home", tc.change)
		if got := redirectQuery(t, rec).Get("signin_error"); got != tc.code || sessionCookie(rec) != "" {
			t.Errorf("%s: signin_error %q, want %q", tc.name, got, tc.code)
		}
		if _, err := e.Store.IdentityUser(context.Background(), "google", tc.user.Subject); err == nil {
			t.Errorf("%s: identity stored", tc.name)
		}
	}
	if rec := e.do(t, http.MethodGet, "/signin/myspace?return_to=/", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("unknown provider: %d", rec.Code)
	}
	if n := auditFailures(t, e, "auth.login"); n != 2 {
		t.Fatalf("%d refused sign-ins audited, want 2", n)
	}
}

// auditFailures counts the failed events of action.
func auditFailures(t *testing.T, e *testEnv, action string) int {
	t.Helper()
	evs, err := e.Store.AuditEvents(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ev := range evs {
		if ev.Action == action && ev.Outcome == store.OutcomeFailure {
			n++
		}
	}
	return n
}

// The ID token is checked by go-oidc against the provider's keys: another
// audience, another issuer, an expired token or another key's signature is
// refused, no account or identity is created, and the refusal is audited.
// So is an authorization response naming another issuer (RFC 9207), and a
// replayed state.
//
// Controls: AUTH-10, OAUTH-2, AUDIT-1
func TestSignInIDTokenChecks(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[0])
	foreign, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		forge func(claims map[string]any, sign func(map[string]any) (string, error)) (string, error)
	}{
		{"another audience", func(c map[string]any, sign func(map[string]any) (string, error)) (string, error) {
			c["aud"] = "someone-elses-client"
			return sign(c)
		}},
		{"another issuer", func(c map[string]any, sign func(map[string]any) (string, error)) (string, error) {
			c["iss"] = "https://evil.example.com"
			return sign(c)
		}},
		{"expired", func(c map[string]any, sign func(map[string]any) (string, error)) (string, error) {
			c["iat"], c["exp"] = e.Clock.Now().Add(-2*time.Hour).Unix(), e.Clock.Now().Add(-time.Hour).Unix()
			return sign(c)
		}},
		{"another key", func(c map[string]any, _ func(map[string]any) (string, error)) (string, error) {
			return oauthtest.SignWithKey(foreign, c)
		}},
		{"not a JWT", func(map[string]any, func(map[string]any) (string, error)) (string, error) {
			return "not.a.jwt", nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			subject := "forged-" + strings.ReplaceAll(tc.name, " ", "-")
			e.srv.SetUser(oauthtest.User{Subject: subject, Email: subject + "@example.com", EmailVerified: true})
			e.srv.ForgeIDTokens(tc.forge)
			defer e.srv.ForgeIDTokens(nil)
			rec := e.signInFlow(t, "/signin/google?return_to=/home", nil)
			if got := redirectQuery(t, rec).Get("signin_error"); got != "invalid_identity" || sessionCookie(rec) != "" {
				t.Fatalf("signin_error %q, session %v", got, sessionCookie(rec) != "")
			}
			if _, err := e.Store.IdentityUser(context.Background(), "google", subject); err == nil {
				t.Fatal("identity stored")
			}
			if _, err := e.Store.UserByEmail(context.Background(), subject+"@example.com"); err == nil {
				t.Fatal("account created")
			}
		})
	}

	// RFC 9207: the authorization response names another issuer.
	e.srv.SetUser(oauthtest.User{Subject: "mixup", Email: "mixup@example.com", EmailVerified: true})
	start := e.do(t, http.MethodGet, "/signin/google?return_to=/home", "")
	auth, _ := url.Parse(start.Header().Get("Location"))
	cb := e.approve(t, auth.String())
	cb.Set("iss", "https://evil.example.com")
	cookie := start.Result().Cookies()[0]
	rec := e.do(t, http.MethodGet, "/signin/google/callback?"+cb.Encode(), "", "Cookie", cookie.Name+"="+cookie.Value)
	if got := redirectQuery(t, rec).Get("signin_error"); got != "invalid_issuer" {
		t.Fatalf("mix-up: signin_error %q", got)
	}

	// A state used once cannot sign in again.
	e.firstSignIn(t, "/signin/google?return_to=/home", oauthtest.User{Subject: "mixup", Email: "mixup@example.com", EmailVerified: true})
	start = e.do(t, http.MethodGet, "/signin/google?return_to=/home", "")
	auth, _ = url.Parse(start.Header().Get("Location"))
	cb = e.approve(t, auth.String())
	cookie = start.Result().Cookies()[0]
	first := e.do(t, http.MethodGet, "/signin/google/callback?"+cb.Encode(), "", "Cookie", cookie.Name+"="+cookie.Value)
	if sessionCookie(first) == "" {
		t.Fatalf("honest sign-in: %q", first.Header().Get("Location"))
	}
	e.Logs.Plant(sessionCookie(first))
	again := e.do(t, http.MethodGet, "/signin/google/callback?"+cb.Encode(), "", "Cookie", cookie.Name+"="+cookie.Value)
	if got := redirectQuery(t, again).Get("signin_error"); got != "invalid_state" || sessionCookie(again) != "" {
		t.Fatalf("replayed state: signin_error %q", got)
	}
	if n := auditFailures(t, e, "auth.login"); n != 7 {
		t.Fatalf("%d refused sign-ins audited, want 7", n)
	}
}

// Per-organization OIDC SSO: configured by the owner (secret sealed,
// never read back); it signs in addresses at the organization's verified
// domains only, and the free-text allowed_domains is refused.
//
// Controls: AUTH-10, AUTH-13, CRED-1, CRED-4, AUTHZ-2
func TestOrganizationSSO(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		body := `{"issuer":"` + e.srv.Issuer() + `","client_id":"sso-client","client_secret":"sso-secret-value"}`
		if rec := e.do(t, http.MethodPut, "/sso?org=org-a", body, append(bearer(e.users["admin"]), jsonBody...)...); rec.Code != http.StatusForbidden {
			t.Fatalf("admin (not owner) configured SSO: %d", rec.Code)
		}
		old := strings.Replace(body, `}`, `,"allowed_domains":["corp.example.com"]}`, 1)
		if rec := e.do(t, http.MethodPut, "/sso?org=org-a", old, append(bearer(e.users["ownerA"]), jsonBody...)...); rec.Code != http.StatusBadRequest ||
			!strings.Contains(rec.Body.String(), "allowed_domains") {
			t.Fatalf("free-text allowed_domains: %d %s", rec.Code, rec.Body)
		}
		e.configureSSO(t, "")
		e.verifyDomain(t, "Corp.Example.com")
		rec := e.do(t, http.MethodGet, "/sso?org=org-a", "", bearer(e.users["ownerA"])...)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "sso-secret-value") ||
			!strings.Contains(rec.Body.String(), `"verified_domains":["corp.example.com"]`) {
			t.Fatalf("read back: %d %s", rec.Code, rec.Body)
		}
		c, _ := e.Store.SSOConfig(context.Background(), orgA)
		if strings.Contains(string(c.ClientSecret), "sso-secret-value") {
			t.Fatal("client secret stored in clear")
		}
		e.srv.SetUser(oauthtest.User{Subject: "emp-1", Email: "emp@other.example.com", EmailVerified: true})
		if got := redirectQuery(t, e.signInFlow(t, "/signin/oidc?org=org-a&return_to=/", nil)).Get("signin_error"); got != "domain_not_allowed" {
			t.Fatalf("other domain: %q", got)
		}
		e.srv.SetUser(oauthtest.User{Subject: "emp-3", Email: "unverified@corp.example.com"})
		if got := redirectQuery(t, e.signInFlow(t, "/signin/oidc?org=org-a&return_to=/", nil)).Get("signin_error"); got != "email_not_verified" {
			t.Fatalf("unverified e-mail: %q", got)
		}
		emp := e.firstSignIn(t, "/signin/oidc?org=org-a&return_to=/", oauthtest.User{Subject: "emp-2", Email: "emp@corp.example.com", EmailVerified: true})
		if rec := e.signInFlow(t, "/signin/oidc?org=org-a&return_to=/", nil); sessionCookie(rec) == "" {
			t.Fatalf("verified domain: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		if id, err := e.Store.IdentityUser(context.Background(), "oidc:"+e.srv.Issuer(), "emp-2"); err != nil || id != emp {
			t.Fatalf("identity: %q, %v", id, err)
		}
		if _, err := e.Store.Member(context.Background(), orgA, emp); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SSO without a provision role made a member: %v", err)
		}
		if rec := e.do(t, http.MethodGet, "/signin/oidc?org=org-b&return_to=/", ""); rec.Code != http.StatusNotFound {
			t.Fatalf("org without SSO: %d", rec.Code)
		}
	})
}

// With a provision role, a confirmed first SSO sign-in makes the user a
// member with that role (audited); later sign-ins and existing members
// keep their role; the role must be one an owner may hand out.
//
// Controls: AUTH-10, AUTHZ-1, AUTHZ-4
func TestOrganizationSSOProvisioning(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		put := func(role string) *httptest.ResponseRecorder {
			body := `{"issuer":"` + e.srv.Issuer() + `","client_id":"sso-client","client_secret":"sso-secret-value",` +
				`"provision_role":"` + role + `"}`
			return e.do(t, http.MethodPut, "/sso?org=org-a", body, append(bearer(e.users["ownerA"]), jsonBody...)...)
		}
		for _, bad := range []string{"owner", "no-such-role", strings.Repeat("r", 33)} {
			if rec := put(bad); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "provision_role") {
				t.Fatalf("provision role %q: %d %s", bad, rec.Code, rec.Body)
			}
		}
		if _, err := e.Store.SSOConfig(ctx, orgA); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("refused configurations were stored: %v", err)
		}
		if err := e.Store.CreateOrgRole(ctx, store.OrgRole{OrgID: orgA, Name: "staff", Permissions: []string{"read", "features.use"}}); err != nil {
			t.Fatal(err)
		}
		if rec := put("staff"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"provision_role":"staff"`) {
			t.Fatalf("configure: %d %s", rec.Code, rec.Body)
		}
		e.verifyDomain(t, "corp.example.com")

		emp := e.firstSignIn(t, "/signin/oidc?org=org-a&return_to=/", oauthtest.User{Subject: "emp-9", Email: "nine@corp.example.com", EmailVerified: true})
		if rec := e.signInFlow(t, "/signin/oidc?org=org-a&return_to=/", nil); sessionCookie(rec) == "" {
			t.Fatalf("sign-in: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		if m, err := e.Store.Member(ctx, orgA, emp); err != nil || m.Role != "staff" {
			t.Fatalf("membership after SSO: %+v, %v", m, err)
		}
		e.IntegrateAudit(t)
		evs, err := e.Store.OrgAuditEvents(ctx, orgA, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		adds := 0
		for _, ev := range evs {
			if ev.Action == "org.member.add" && ev.Target == "user:"+emp && strings.Contains(string(ev.Metadata), `"via":"sso"`) {
				adds++
			}
		}
		if adds != 1 {
			t.Fatalf("%d org.member.add events for the provisioned user, want 1", adds)
		}
		// Just-in-time provisioning announces the account and the membership.
		eventstest.Require(t, e.Store, events.UserCreated, "user/"+emp, map[string]string{"user_id": emp, "email": "nine@corp.example.com", "by": "user"})
		eventstest.Require(t, e.Store, events.OrgMemberAdded, "org/"+orgA+"/member/"+emp,
			map[string]string{"org_id": orgA, "user_id": emp, "role": "staff", "by": "sso"})
		// A role changed since stays.
		if _, err := e.Store.SetMemberRole(ctx, orgA, emp, "admin", e.Now()); err != nil {
			t.Fatal(err)
		}
		e.signInFlow(t, "/signin/oidc?org=org-a&return_to=/", nil)
		if m, _ := e.Store.Member(ctx, orgA, emp); m.Role != "admin" {
			t.Fatalf("SSO sign-in reset the role to %q", m.Role)
		}
	})
}

// An account an operator disabled cannot sign in with a provider either:
// the callback redirects with signin_error=account_disabled and sets no
// session; enabled again, it signs in.
//
// Controls: AUTH-6, AUTH-10
func TestSignInDisabledAccount(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		user := oauthtest.User{Subject: "subject-1", Email: "google-user@example.com", EmailVerified: true}
		e.srv.SetUser(user)
		userID := e.firstSignIn(t, "/signin/google?return_to=/home", user)
		ctx := context.Background()
		if _, err := e.Store.SetUserDisabled(ctx, userID, e.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		rec := e.signInFlow(t, "/signin/google?return_to=/home", nil)
		if loc := rec.Header().Get("Location"); !strings.Contains(loc, "signin_error=account_disabled") || sessionCookie(rec) != "" {
			t.Fatalf("disabled sign-in: %d %q", rec.Code, loc)
		}
		if _, err := e.Store.SetUserDisabled(ctx, userID, time.Time{}); err != nil {
			t.Fatal(err)
		}
		rec = e.signInFlow(t, "/signin/google?return_to=/home", nil)
		if loc := rec.Header().Get("Location"); loc != "https://app.example.com/home" || sessionCookie(rec) == "" {
			t.Fatalf("enabled sign-in: %d %q", rec.Code, loc)
		}
		e.Logs.Plant(sessionCookie(rec))
	})
}
