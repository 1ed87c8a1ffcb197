package oauthcallback

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/oauthtest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// The sign_in_url that PUT /sso hands out works as it is: without
// return_to the sign-in lands on the default return URL (the app's root),
// while an explicit but empty or foreign return_to is still refused.
//
// Controls: AUTH-10, OAUTH-3
func TestSSOSignInURLAsHandedOut(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		body := `{"issuer":"` + e.srv.Issuer() + `","client_id":"sso-client","client_secret":"sso-secret-value"}`
		rec := e.do(t, http.MethodPut, "/sso?org=org-a", body, append(bearer(e.users["ownerA"]), jsonBody...)...)
		var view struct {
			SignInURL string `json:"sign_in_url"`
		}
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &view) != nil || !strings.HasPrefix(view.SignInURL, callbackBase) {
			t.Fatalf("configure: %d %s", rec.Code, rec.Body)
		}
		e.verifyDomain(t, "corp.example.com")
		target := strings.TrimPrefix(view.SignInURL, callbackBase)
		e.firstSignIn(t, target, oauthtest.User{Subject: "emp-9", Email: "emp9@corp.example.com", EmailVerified: true})
		rec = e.signInFlow(t, target, nil)
		if sessionCookie(rec) == "" || rec.Header().Get("Location") != "https://app.example.com/" {
			t.Fatalf("sign_in_url: %d Location %q", rec.Code, rec.Header().Get("Location"))
		}
		for _, q := range []string{"&return_to=", "&return_to=https://evil.example/"} {
			if rec := e.do(t, http.MethodGet, "/signin/oidc?org=org-a"+q, ""); rec.Code != http.StatusBadRequest {
				t.Errorf("return_to %q: %d", q, rec.Code)
			}
		}
	})
}

// A default return URL outside the return-URL policy stops the start.
//
// Controls: OAUTH-3
func TestSignInReturnURLChecked(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	for _, bad := range []string{"https://evil.example/", "//evil.example", "/a/../b"} {
		if _, err := New(env.Deps, Config{SignInReturnURL: bad}); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SIGNIN_RETURN_URL") {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
	if _, err := New(env.Deps, Config{SignInReturnURL: "https://app.example.com/welcome"}); err != nil {
		t.Fatal(err)
	}
}

// A Google sign-in started with ?org= is not the organization's single
// sign-on: confirming its first sign-in creates the account but neither
// provisions a membership nor marks the session as the organization's SSO
// (which would let it survive require_sso). Before this change the org
// parameter of any provider's flow reached the confirmation.
//
// Controls: AUTHZ-5, AUTH-13
func TestSocialSignInIsNotOrgSSO(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		e.configureSSO(t, "viewer")
		e.verifyDomain(t, "corp.example.com")
		userID := e.firstSignIn(t, "/signin/google?org="+orgA+"&return_to=/home",
			oauthtest.User{Subject: "g-emp", Email: "emp@corp.example.com", EmailVerified: true})
		if _, err := e.Store.Member(context.Background(), orgA, userID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("Google sign-in provisioned a membership: %v", err)
		}
		sessions, err := e.Store.UserSessions(context.Background(), userID, e.Clock.Now())
		if err != nil || len(sessions) != 1 || slices.Contains(sessions[0].AuthMethods, amrOrgSSO) || sessions[0].SSOOrgID != "" {
			t.Fatalf("sessions %+v, %v", sessions, err)
		}
	})
}
