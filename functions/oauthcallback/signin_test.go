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
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
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

// Sign-in with Google (OIDC) and GitHub creates an account by the
// provider's subject, stores only provider and subject, and issues a
// browser session through the auth function's session code; signing in
// again finds the same account.
//
// Controls: AUTH-10, OAUTH-1, OAUTH-2
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
			e.srv.SetUser(oauthtest.User{Subject: "subject-1", Email: email, EmailVerified: true, GitHubID: 4242})
			var scope string
			rec := e.signInFlow(t, "/signin/"+tc.provider+"?return_to=/home", func(q url.Values) { scope = q.Get("scope") })
			if scope != tc.scope {
				t.Fatalf("%s: scope %q, want %q", tc.provider, scope, tc.scope)
			}
			if loc := rec.Header().Get("Location"); rec.Code != http.StatusFound || loc != "https://app.example.com/home" || sessionCookie(rec) == "" {
				t.Fatalf("%s: callback %d %q (session cookie %v)", tc.provider, rec.Code, loc, sessionCookie(rec) != "")
			}
			e.Logs.Plant(sessionCookie(rec))
			u, err := e.Store.UserByEmail(context.Background(), email)
			if err != nil {
				t.Fatalf("%s: user not created: %v", tc.provider, err)
			}
			ids, _ := e.Store.UserIdentities(context.Background(), u.ID)
			if len(ids) != 1 || ids[0].Provider != tc.provider || ids[0].Subject != tc.subject {
				t.Fatalf("%s: identities %+v", tc.provider, ids)
			}
			// Again: the same account.
			if rec := e.signInFlow(t, "/signin/"+tc.provider+"?return_to=/home", nil); sessionCookie(rec) == "" {
				t.Fatalf("%s: second sign-in %d %q", tc.provider, rec.Code, rec.Header().Get("Location"))
			}
			if ids, _ := e.Store.UserIdentities(context.Background(), u.ID); len(ids) != 1 {
				t.Fatalf("%s: second sign-in linked again: %+v", tc.provider, ids)
			}
		}
		if !slices.Contains(auditActions(t, e), "auth.register") {
			t.Fatal("account creation not audited")
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
		{"e-mail of an existing account", oauthtest.User{Subject: "s4", Email: "admin@example.com", EmailVerified: true},
			nil, "account_exists"},
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
	if n := auditFailures(t, e, "auth.login"); n != 3 {
		t.Fatalf("%d refused sign-ins audited, want 3", n)
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
	start = e.do(t, http.MethodGet, "/signin/google?return_to=/home", "")
	auth, _ = url.Parse(start.Header().Get("Location"))
	cb = e.approve(t, auth.String())
	cookie = start.Result().Cookies()[0]
	first := e.do(t, http.MethodGet, "/signin/google/callback?"+cb.Encode(), "", "Cookie", cookie.Name+"="+cookie.Value)
	if sessionCookie(first) == "" {
		t.Fatalf("honest sign-in: %q", first.Header().Get("Location"))
	}
	again := e.do(t, http.MethodGet, "/signin/google/callback?"+cb.Encode(), "", "Cookie", cookie.Name+"="+cookie.Value)
	if got := redirectQuery(t, again).Get("signin_error"); got != "invalid_state" || sessionCookie(again) != "" {
		t.Fatalf("replayed state: signin_error %q", got)
	}
	if n := auditFailures(t, e, "auth.login"); n != 7 {
		t.Fatalf("%d refused sign-ins audited, want 7", n)
	}
}

// Per-organization OIDC SSO: configured by the owner (secret sealed,
// never read back), used with the allowed e-mail domains only.
//
// Controls: AUTH-10, CRED-1, CRED-4, AUTHZ-2
func TestOrganizationSSO(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		body := `{"issuer":"` + e.srv.Issuer() + `","client_id":"sso-client","client_secret":"sso-secret-value","allowed_domains":["Corp.Example.com"]}`
		json := []string{"Content-Type", "application/json"}
		if rec := e.do(t, http.MethodPut, "/sso?org=org-a", body, append(bearer(e.users["admin"]), json...)...); rec.Code != http.StatusForbidden {
			t.Fatalf("admin (not owner) configured SSO: %d", rec.Code)
		}
		bad := strings.Replace(body, `"allowed_domains":["Corp.Example.com"]`, `"allowed_domains":[]`, 1)
		if rec := e.do(t, http.MethodPut, "/sso?org=org-a", bad, append(bearer(e.users["ownerA"]), json...)...); rec.Code != http.StatusBadRequest {
			t.Fatalf("invalid config: %d", rec.Code)
		}
		if rec := e.do(t, http.MethodPut, "/sso?org=org-a", body, append(bearer(e.users["ownerA"]), json...)...); rec.Code != http.StatusOK {
			t.Fatalf("configure: %d %s", rec.Code, rec.Body)
		}
		rec := e.do(t, http.MethodGet, "/sso?org=org-a", "", bearer(e.users["ownerA"])...)
		if rec.Code != http.StatusOK || strings.Contains(rec.Body.String(), "sso-secret-value") || !strings.Contains(rec.Body.String(), "corp.example.com") {
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
		e.srv.SetUser(oauthtest.User{Subject: "emp-2", Email: "emp@corp.example.com", EmailVerified: true})
		if rec := e.signInFlow(t, "/signin/oidc?org=org-a&return_to=/", nil); sessionCookie(rec) == "" {
			t.Fatalf("allowed domain: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		emp, err := e.Store.IdentityUser(context.Background(), "oidc:"+e.srv.Issuer(), "emp-2")
		if err != nil {
			t.Fatalf("identity: %v", err)
		}
		if _, err := e.Store.Member(context.Background(), orgA, emp); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("SSO without a provision role made a member: %v", err)
		}
		if rec := e.do(t, http.MethodGet, "/signin/oidc?org=org-b&return_to=/", ""); rec.Code != http.StatusNotFound {
			t.Fatalf("org without SSO: %d", rec.Code)
		}
	})
}

// With a provision role, a first SSO sign-in makes the user a member with
// that role (audited); later sign-ins and existing members keep their
// role; the role must be one an owner may hand out.
//
// Controls: AUTH-10, AUTHZ-1, AUTHZ-4
func TestOrganizationSSOProvisioning(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		put := func(role string) *httptest.ResponseRecorder {
			body := `{"issuer":"` + e.srv.Issuer() + `","client_id":"sso-client","client_secret":"sso-secret-value",` +
				`"allowed_domains":["corp.example.com"],"provision_role":"` + role + `"}`
			return e.do(t, http.MethodPut, "/sso?org=org-a", body, append(bearer(e.users["ownerA"]), "Content-Type", "application/json")...)
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

		e.srv.SetUser(oauthtest.User{Subject: "emp-9", Email: "nine@corp.example.com", EmailVerified: true})
		for range 2 {
			if rec := e.signInFlow(t, "/signin/oidc?org=org-a&return_to=/", nil); sessionCookie(rec) == "" {
				t.Fatalf("sign-in: %d %q", rec.Code, rec.Header().Get("Location"))
			}
		}
		emp, err := e.Store.IdentityUser(ctx, "oidc:"+e.srv.Issuer(), "emp-9")
		if err != nil {
			t.Fatal(err)
		}
		if m, err := e.Store.Member(ctx, orgA, emp); err != nil || m.Role != "staff" {
			t.Fatalf("membership after SSO: %+v, %v", m, err)
		}
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
