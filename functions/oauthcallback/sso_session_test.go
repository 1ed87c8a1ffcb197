package oauthcallback

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Every session an organization's OIDC sign-in starts records the
// organization (the first sign-in's confirmation and a later sign-in),
// and so does the MFA token of a user with a second factor, for the
// session the auth function starts after it: the organization's SCIM
// deprovisioning ends exactly these. A Google sign-in records none.
//
// Controls: AUTHZ-5, AUTH-10
func TestOrgSSOSessionsRecordTheOrganization(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		ctx := context.Background()
		e.configureSSO(t, "viewer")
		e.verifyDomain(t, "corp.example.com")
		emp := e.firstSignIn(t, "/signin/oidc?org="+orgA+"&return_to=/home",
			oauthtest.User{Subject: "emp-1", Email: "emp@corp.example.com", EmailVerified: true})
		if rec := e.signInFlow(t, "/signin/oidc?org="+orgA+"&return_to=/home", nil); sessionCookie(rec) == "" {
			t.Fatalf("second sign-in: %d %q", rec.Code, rec.Header().Get("Location"))
		}
		sessions, err := e.Store.UserSessions(ctx, emp, e.Clock.Now())
		if err != nil || len(sessions) != 2 {
			t.Fatalf("sessions %+v, %v; want the confirmation's and the sign-in's", sessions, err)
		}
		for _, s := range sessions {
			if s.SSOOrgID != orgA {
				t.Errorf("session %s records SSO organization %q, want %q", s.ID, s.SSOOrgID, orgA)
			}
		}

		if err := e.Store.CreateWebAuthnCredential(ctx, store.WebAuthnCredential{ID: "wa-1", UserID: emp, CredentialID: []byte("cred"),
			PublicKey: []byte("key"), AAGUID: make([]byte, 16), Transports: []string{}, CreatedAt: e.Now()}); err != nil {
			t.Fatal(err)
		}
		rec := e.signInFlow(t, "/signin/oidc?org="+orgA+"&return_to=/home", nil)
		loc, err := url.Parse(rec.Header().Get("Location"))
		if err != nil || sessionCookie(rec) != "" {
			t.Fatalf("sign-in with a second factor: %q, session %v", rec.Header().Get("Location"), sessionCookie(rec) != "")
		}
		frag, _ := url.ParseQuery(loc.Fragment)
		e.Logs.Plant(frag.Get("mfa_token"))
		grant, err := e.sessions.PeekMFA(ctx, frag.Get("mfa_token"))
		if err != nil || grant.UserID != emp || grant.SSOOrg != orgA || !strings.Contains(strings.Join(grant.Methods, " "), "sso") {
			t.Fatalf("MFA grant %+v, %v; want the organization carried to the second step", grant, err)
		}
	})
}
