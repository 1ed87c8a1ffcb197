package oauthcallback

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/session"
)

var jsonBody = []string{"Content-Type", "application/json"}

// configureSSO sets org A's single sign-on to the local OIDC server, with
// the provision role role ("" for none), as its owner.
func (e *testEnv) configureSSO(t *testing.T, role string) {
	t.Helper()
	body := `{"issuer":"` + e.srv.Issuer() + `","client_id":"sso-client","client_secret":"sso-secret-value","provision_role":"` + role + `"}`
	if rec := e.do(t, http.MethodPut, "/sso?org="+orgA, body, append(bearer(e.users["ownerA"]), jsonBody...)...); rec.Code != http.StatusOK {
		t.Fatalf("configure SSO: %d %s", rec.Code, rec.Body)
	}
}

// claimDomain claims domain for org as owner and returns the claim.
func (e *testEnv) claimDomain(t *testing.T, owner testUser, org, domain string) domainJSON {
	t.Helper()
	rec := e.do(t, http.MethodPost, "/sso/domains?org="+org, `{"domain":"`+domain+`"}`, append(bearer(owner), jsonBody...)...)
	var d domainJSON
	if rec.Code != http.StatusCreated || json.Unmarshal(rec.Body.Bytes(), &d) != nil {
		t.Fatalf("claim %s for %s: %d %s", domain, org, rec.Code, rec.Body)
	}
	return d
}

// verifyDomain claims domain for org A, publishes its record in the test
// DNS server and verifies it.
func (e *testEnv) verifyDomain(t *testing.T, domain string) domainJSON {
	t.Helper()
	d := e.claimDomain(t, e.users["ownerA"], orgA, domain)
	e.dns.SetTXT(d.Record.Name, d.Record.Value)
	rec := e.do(t, http.MethodPost, "/sso/domains/"+d.ID+"/verify?org="+orgA, "", bearer(e.users["ownerA"])...)
	if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"status":"verified"`) {
		t.Fatalf("verify %s: %d %s", domain, rec.Code, rec.Body)
	}
	return d
}

// messages returns the mailbox messages to `to` of kind.
func (e *testEnv) messages(t *testing.T, to, kind string) []notify.Message {
	t.Helper()
	all, err := e.Mailbox.List()
	if err != nil {
		t.Fatal(err)
	}
	var out []notify.Message
	for _, m := range all {
		if m.To == to && m.Kind == kind {
			out = append(out, m)
		}
	}
	return out
}

// confirmToken returns the token of the newest sign-in confirmation
// e-mailed to `to`, failing t if there is none.
func (e *testEnv) confirmToken(t *testing.T, to string) string {
	t.Helper()
	msgs := e.messages(t, to, notify.KindEmailVerification)
	if len(msgs) == 0 || len(msgs[len(msgs)-1].Links) != 1 {
		t.Fatalf("no sign-in confirmation to %s", to)
	}
	u, err := url.Parse(msgs[len(msgs)-1].Links[0])
	if err != nil || u.Path != "/auth/ui/signin/confirm" { // the hosted page, by default
		t.Fatalf("confirmation link %q", msgs[len(msgs)-1].Links[0])
	}
	frag, _ := url.ParseQuery(u.Fragment)
	return frag.Get("token")
}

// confirm posts the newest confirmation e-mailed to `to` as an API client
// and returns the response.
func (e *testEnv) confirm(t *testing.T, to string) *httptest.ResponseRecorder {
	t.Helper()
	tok := e.confirmToken(t, to)
	e.Logs.Plant(tok)
	return e.do(t, http.MethodPost, "/signin/confirm", `{"token":"`+tok+`"}`, jsonBody...)
}

// firstSignIn signs user in through target (a /signin/... URL) for the
// first time: the callback answers signin_pending=email, and the e-mailed
// confirmation creates the account. It returns the new user's id.
func (e *testEnv) firstSignIn(t *testing.T, target string, user oauthtest.User) string {
	t.Helper()
	e.srv.SetUser(user)
	rec := e.signInFlow(t, target, nil)
	if got := redirectQuery(t, rec).Get("signin_pending"); got != "email" || sessionCookie(rec) != "" {
		t.Fatalf("first sign-in: %q (session %v)", rec.Header().Get("Location"), sessionCookie(rec) != "")
	}
	conf := e.confirm(t, user.Email)
	var resp session.TokenResponse
	if conf.Code != http.StatusOK || json.Unmarshal(conf.Body.Bytes(), &resp) != nil || resp.UserID == "" {
		t.Fatalf("confirm: %d %s", conf.Code, conf.Body)
	}
	e.Logs.Plant(resp.AccessToken, resp.RefreshToken)
	u, err := e.Store.User(context.Background(), resp.UserID)
	if err != nil || u.Email != user.Email || u.EmailVerifiedAt.IsZero() {
		t.Fatalf("confirmed user %+v, %v", u, err)
	}
	return resp.UserID
}

// browserSession signs userID in as a browser and returns the request
// headers of a cookie session: its cookies and the CSRF header.
func (e *testEnv) browserSession(t *testing.T, userID string) []string {
	t.Helper()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	r.Header.Set(session.ClientHeader, "browser")
	r.Header.Set("Origin", "https://app.example.com")
	if err := e.sessions.Complete(r.Context(), rec, r, userID, []string{"pwd"}); err != nil {
		t.Fatal(err)
	}
	var cookies []string
	var csrf string
	for _, c := range rec.Result().Cookies() {
		cookies = append(cookies, c.Name+"="+c.Value)
		e.Logs.Plant(c.Value)
		if c.Name == session.CSRFCookie {
			csrf = c.Value
		}
	}
	return []string{"Cookie", strings.Join(cookies, "; "), session.ClientHeader, "browser", session.CSRFHeader, csrf}
}
