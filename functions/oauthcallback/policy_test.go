package oauthcallback

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// An organization that requires its single sign-on refuses Google sign-in
// for addresses on its verified domain, both for a linked account and at
// the confirmation of a first sign-in, with sso_required; its own SSO
// still signs them in.
//
// Controls: AUTHZ-5, AUTH-13
func TestSignInRefusedWhenOrgRequiresSSO(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		e.verifyDomain(t, "corp.example.com")
		e.configureSSO(t, "")
		carol := oauthtest.User{Subject: "carol-google", Email: "carol@corp.example.com", EmailVerified: true}
		e.firstSignIn(t, "/signin/google?return_to=/home", carol)

		ctx := context.Background()
		if err := e.Store.PutOrgPolicy(ctx, store.OrgPolicy{OrgID: orgA, RequireSSO: true, UpdatedBy: "test", UpdatedAt: e.Now()}); err != nil {
			t.Fatal(err)
		}
		e.srv.SetUser(carol)
		rec := e.signInFlow(t, "/signin/google?return_to=/home", nil)
		if got := redirectQuery(t, rec).Get("signin_error"); got != "sso_required" || sessionCookie(rec) != "" {
			t.Fatalf("google sign-in under required SSO: %q (session %v)", rec.Header().Get("Location"), sessionCookie(rec) != "")
		}

		dave := oauthtest.User{Subject: "dave-google", Email: "dave@corp.example.com", EmailVerified: true}
		e.srv.SetUser(dave)
		e.signInFlow(t, "/signin/google?return_to=/home", nil)
		if rec := e.confirm(t, dave.Email); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), `"sso_required"`) {
			t.Fatalf("first google sign-in confirmed under required SSO: %d %s", rec.Code, rec.Body)
		}

		carolSSO := oauthtest.User{Subject: "carol-corp", Email: "carol@corp.example.com", EmailVerified: true}
		e.srv.SetUser(carolSSO)
		rec = e.signInFlow(t, "/signin/oidc?org="+orgA+"&return_to=/home", nil)
		if q := redirectQuery(t, rec); q.Get("signin_error") == "sso_required" {
			t.Fatalf("the organization's own SSO refused: %q", rec.Header().Get("Location"))
		}
	})
}
