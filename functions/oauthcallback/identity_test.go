package oauthcallback

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// linkFlow starts a link with POST /link/{provider}?query as the request
// headers hdr say, lets the provider approve as user, and delivers the
// callback; it fails t unless the start answers an authorization URL.
func (e *testEnv) linkFlow(t *testing.T, hdr []string, provider, query string, user oauthtest.User) *httptest.ResponseRecorder {
	t.Helper()
	e.srv.SetUser(user)
	start := e.do(t, http.MethodPost, "/link/"+provider+"?"+query, "", hdr...)
	auth := authorizationURL(t, start)
	cookie := flowCookieOf(start)
	cb := e.approve(t, auth.String())
	return e.do(t, http.MethodGet, "/signin/"+provider+"/callback?"+cb.Encode(), "", "Cookie", flowCookieName(cookie)+"="+cookie)
}

// Finding 1: GET /link/{provider} was cookie-authenticated and exempt from
// the Origin and CSRF checks, so a page of any site could start a link on
// a signed-in victim's session by a top-level navigation. Linking now
// starts only with a POST that passes both checks; the GET is gone. Fails
// on the code before this change (the GET answered 302 with a flow
// cookie).
//
// Controls: AUTH-13, APP-3
func TestLinkIsNotCrossSite(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		browser := e.browserSession(t, "user-admin")
		cookies := browser[:2]
		for _, tc := range []struct {
			name   string
			method string
			hdr    []string
			status int
		}{
			{"top-level GET from another site", http.MethodGet, cookies, http.StatusMethodNotAllowed},
			{"POST without Origin", http.MethodPost, browser, http.StatusForbidden},
			{"POST from another site", http.MethodPost, append(slices.Clone(browser), "Origin", "https://evil.example"), http.StatusForbidden},
			{"POST without the CSRF header", http.MethodPost, append(slices.Clone(cookies), "Origin", "https://app.example.com"), http.StatusForbidden},
		} {
			rec := e.do(t, tc.method, "/link/google?return_to=/settings", "", tc.hdr...)
			if rec.Code != tc.status || flowCookieOf(rec) != "" || rec.Header().Get("Location") != "" {
				t.Fatalf("%s: %d %s (flow cookie %v)", tc.name, rec.Code, rec.Body, flowCookieOf(rec) != "")
			}
		}
		// The app's own page: allowed origin and CSRF header.
		same := append(slices.Clone(browser), "Origin", "https://app.example.com")
		rec := e.linkFlow(t, same, "google", "return_to=/settings",
			oauthtest.User{Subject: "g-admin", Email: "admin@example.com", EmailVerified: true})
		if got := redirectQuery(t, rec).Get("signin_linked"); got != "google" {
			t.Fatalf("honest link: %q", rec.Header().Get("Location"))
		}
	})
}

// The identity's verified e-mail must be the account's, and the account's
// holder is told of every link; a link needs a recent authentication.
//
// Controls: AUTH-13, AUTH-12
func TestLinkNeedsMatchingEmail(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		admin := bearer(e.users["admin"])
		for _, tc := range []struct {
			name string
			user oauthtest.User
			code string
		}{
			{"another address", oauthtest.User{Subject: "g-attacker", Email: "attacker@example.com", EmailVerified: true}, "email_mismatch"},
			{"unverified address", oauthtest.User{Subject: "g-unverified", Email: "admin@example.com"}, "email_mismatch"},
		} {
			rec := e.linkFlow(t, admin, "google", "return_to=/settings", tc.user)
			if got := redirectQuery(t, rec).Get("signin_error"); got != tc.code {
				t.Fatalf("%s: signin_error %q, want %q", tc.name, got, tc.code)
			}
			if _, err := e.Store.IdentityUser(context.Background(), "google", tc.user.Subject); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: identity linked", tc.name)
			}
		}
		if n := len(e.messages(t, "admin@example.com", notify.KindAlert)); n != 0 {
			t.Fatalf("%d link notices before any link", n)
		}
		rec := e.linkFlow(t, admin, "github", "return_to=/settings",
			oauthtest.User{Subject: "x", GitHubID: 77, Email: "Admin@Example.com", EmailVerified: true})
		if got := redirectQuery(t, rec).Get("signin_linked"); got != "github" {
			t.Fatalf("link: %q", rec.Header().Get("Location"))
		}
		if id, err := e.Store.IdentityUser(context.Background(), "github", "77"); err != nil || id != "user-admin" {
			t.Fatalf("linked identity: %q, %v", id, err)
		}
		notices := e.messages(t, "admin@example.com", notify.KindAlert)
		if len(notices) != 1 || !strings.Contains(notices[0].Text, "GitHub") {
			t.Fatalf("link notices: %+v", notices)
		}
		if !slices.Contains(auditActions(t, e), "auth.identity_link") {
			t.Fatal("link not audited")
		}
		if got := subjectEvents(t, e.Store, "user/user-admin"); !slices.Equal(got, []string{"identity.linked"}) {
			t.Fatalf("events %v: want one identity.linked, none for the refused links", got)
		}
		e.stale(t, e.users["admin"])
		if rec := e.do(t, http.MethodPost, "/link/google?return_to=/settings", "", admin...); rec.Code != http.StatusForbidden ||
			!strings.Contains(rec.Body.String(), "reauthentication_required") {
			t.Fatalf("link without a recent authentication: %d %s", rec.Code, rec.Body)
		}
		// An account whose address was never proven (one a provider
		// created before domains were verified) cannot link.
		now := e.Clock.Now()
		if err := e.Store.CreateUser(context.Background(), store.User{ID: "user-unproven", Email: "unproven@example.com",
			CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		unproven := e.signIn(t, "user-unproven")
		if rec := e.do(t, http.MethodPost, "/link/google?return_to=/settings", "", bearer(unproven)...); rec.Code != http.StatusForbidden ||
			!strings.Contains(rec.Body.String(), "address_not_proven") {
			t.Fatalf("link from an unproven address: %d %s", rec.Code, rec.Body)
		}
	})
}

// Finding 1, the tenant half: any organization's identity provider could be
// linked by anyone (the attacker's own organization's, to the victim's
// account). Now only a member of the organization whose address is at one
// of its verified domains can link it, checked at the start and again at
// the callback. Fails on the code before this change (GET, no membership,
// no domain or e-mail check).
//
// Controls: AUTH-13, AUTHZ-3
func TestLinkOrganizationIdP(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		e.configureSSO(t, "")
		start := func(user testUser) *httptest.ResponseRecorder {
			return e.do(t, http.MethodPost, "/link/oidc?org="+orgA+"&return_to=/settings", "", bearer(user)...)
		}
		if rec := start(e.users["outsider"]); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "not_a_member") {
			t.Fatalf("non-member: %d %s", rec.Code, rec.Body)
		}
		if rec := start(e.users["admin"]); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "domain_not_allowed") {
			t.Fatalf("member at an unverified domain: %d %s", rec.Code, rec.Body)
		}
		e.verifyDomain(t, "example.com")
		if rec := start(e.users["outsider"]); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "not_a_member") {
			t.Fatalf("non-member at the verified domain: %d %s", rec.Code, rec.Body)
		}
		// The provider vouches for another address of the domain.
		rec := e.linkFlow(t, bearer(e.users["admin"]), "oidc", "org="+orgA+"&return_to=/settings",
			oauthtest.User{Subject: "idp-other", Email: "viewer@example.com", EmailVerified: true})
		if got := redirectQuery(t, rec).Get("signin_error"); got != "email_mismatch" {
			t.Fatalf("another address: %q", got)
		}
		// Membership is checked again at the callback.
		e.srv.SetUser(oauthtest.User{Subject: "idp-viewer", Email: "viewer@example.com", EmailVerified: true})
		begun := e.do(t, http.MethodPost, "/link/oidc?org="+orgA+"&return_to=/settings", "", bearer(e.users["viewer"])...)
		auth, cookie := authorizationURL(t, begun), flowCookieOf(begun)
		cb := e.approve(t, auth.String())
		if _, err := e.Store.RemoveMember(context.Background(), orgA, "user-viewer"); err != nil {
			t.Fatal(err)
		}
		rec = e.do(t, http.MethodGet, "/signin/oidc/callback?"+cb.Encode(), "", "Cookie", flowCookieName(cookie)+"="+cookie)
		if got := redirectQuery(t, rec).Get("signin_error"); got != "not_a_member" {
			t.Fatalf("removed before the callback: %q", got)
		}
		rec = e.linkFlow(t, bearer(e.users["admin"]), "oidc", "org="+orgA+"&return_to=/settings",
			oauthtest.User{Subject: "idp-admin", Email: "admin@example.com", EmailVerified: true})
		if got := redirectQuery(t, rec).Get("signin_linked"); got != "oidc" {
			t.Fatalf("honest link: %q", rec.Header().Get("Location"))
		}
		for subject, want := range map[string]string{"idp-admin": "user-admin", "idp-other": "", "idp-viewer": ""} {
			got, _ := e.Store.IdentityUser(context.Background(), "oidc:"+e.srv.Issuer(), subject)
			if got != want {
				t.Fatalf("identity %s linked to %q, want %q", subject, got, want)
			}
		}
	})
}

// Finding 2: any user could create an organization, set its SSO with
// free-text allowed_domains naming a victim's domain, and have its own
// identity provider create verified accounts for addresses there. Now
// allowed_domains is refused, a domain counts only once proven by DNS, a
// domain another organization verified cannot be claimed, and without a
// verified domain the provider creates, signs in and e-mails nothing.
// Fails on the code before this change (the account was created, marked
// verified).
//
// Controls: AUTH-13, AUTHZ-3
func TestTenantIdPCannotMintForeignAccounts(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		attacker := e.users["ownerB"]
		body := `{"issuer":"` + e.srv.Issuer() + `","client_id":"sso-client","client_secret":"sso-secret-value"`
		if rec := e.do(t, http.MethodPut, "/sso?org="+orgB, body+`,"allowed_domains":["victim.example.com"]}`,
			append(bearer(attacker), jsonBody...)...); rec.Code != http.StatusBadRequest {
			t.Fatalf("allowed_domains accepted: %d %s", rec.Code, rec.Body)
		}
		if rec := e.do(t, http.MethodPut, "/sso?org="+orgB, body+`}`, append(bearer(attacker), jsonBody...)...); rec.Code != http.StatusOK {
			t.Fatalf("configure: %d %s", rec.Code, rec.Body)
		}
		// A claim the attacker cannot prove: no record in the victim's DNS.
		claim := e.claimDomain(t, attacker, orgB, "victim.example.com")
		if rec := e.do(t, http.MethodPost, "/sso/domains/"+claim.ID+"/verify?org="+orgB, "", bearer(attacker)...); rec.Code != http.StatusConflict ||
			!strings.Contains(rec.Body.String(), "domain_not_proven") {
			t.Fatalf("unproven claim: %d %s", rec.Code, rec.Body)
		}
		// A domain the victim's organization verified cannot be claimed.
		e.verifyDomain(t, "corp.example.com")
		if rec := e.do(t, http.MethodPost, "/sso/domains?org="+orgB, `{"domain":"CORP.example.com."}`,
			append(bearer(attacker), jsonBody...)...); rec.Code != http.StatusConflict {
			t.Fatalf("claim of another organization's domain: %d %s", rec.Code, rec.Body)
		}
		for _, email := range []string{"ceo@victim.example.com", "ceo@corp.example.com"} {
			e.srv.SetUser(oauthtest.User{Subject: "forged-" + email, Email: email, EmailVerified: true})
			rec := e.signInFlow(t, "/signin/oidc?org="+orgB+"&return_to=/", nil)
			if got := redirectQuery(t, rec).Get("signin_error"); got != "domain_not_allowed" || sessionCookie(rec) != "" {
				t.Fatalf("%s: %q", email, rec.Header().Get("Location"))
			}
			if _, err := e.Store.UserByEmail(context.Background(), email); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("%s: account created", email)
			}
			if msgs, _ := e.Mailbox.List(); len(msgs) != 0 {
				t.Fatalf("%s: %d messages sent", email, len(msgs))
			}
		}
	})
}
