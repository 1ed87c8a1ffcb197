package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/gatehouse-dev/gatehouse/functions/auth"
	"github.com/gatehouse-dev/gatehouse/functions/auth/authtest"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/logging"
	"github.com/gatehouse-dev/gatehouse/verify"
)

const secret = "example-backend-secret-0123456789abcdef"

// The example service against a real Auth function: a signed-in user gets
// /hello; an organization-scoped token of a member reads that
// organization's reports and no other's; the reset route follows a role
// change at once through introspection.
//
// Controls: AUTHZ-2, AUTHZ-3
func TestBackend(t *testing.T) {
	gh := authtest.Start(t, bootstraptest.Backend{Name: "sqlite", Open: bootstraptest.SQLite},
		auth.Config{IntrospectionClients: logging.NewSecret("backend:" + secret)})
	h, err := newHandler(verify.Config{Issuer: gh.Issuer(), Now: gh.Env.Clock.Now,
		IntrospectionURL: introspectionURL(gh.Issuer(), "backend"), ClientID: "backend", ClientSecret: secret,
		IntrospectionCacheTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	owner := gh.SignUp(t, "owner@example.com", "lapwing fjord mulberry")
	admin := gh.SignUp(t, "admin@example.com", "quokka saffron tundra")
	org := gh.CreateOrg(t, owner.AccessToken, "Acme")
	other := gh.CreateOrg(t, owner.AccessToken, "Other")
	gh.AddMember(t, org, owner.AccessToken, "admin@example.com", "admin", admin.AccessToken)
	scoped := gh.Refresh(t, admin.RefreshToken, org)

	get := func(method, path, tok string) int {
		req := httptest.NewRequest(method, path, nil)
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, tc := range []struct {
		name, method, path, tok string
		want                    int
	}{
		{"anonymous", "GET", "/hello", "", 401},
		{"signed in", "GET", "/hello", admin.AccessToken, 200},
		{"reports without an org token", "GET", "/orgs/" + org + "/reports", admin.AccessToken, 403},
		{"reports", "GET", "/orgs/" + org + "/reports", scoped.AccessToken, 200},
		{"another org's reports", "GET", "/orgs/" + other + "/reports", scoped.AccessToken, 403},
		{"reset as admin", "POST", "/orgs/" + org + "/reports/reset", scoped.AccessToken, 200},
	} {
		if got := get(tc.method, tc.path, tc.tok); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	gh.MustDo(t, "PATCH", "/orgs/"+org+"/members/"+admin.UserID, map[string]string{"role": "viewer"}, owner.AccessToken,
		http.StatusOK, nil)
	if got := get("POST", "/orgs/"+org+"/reports/reset", scoped.AccessToken); got != http.StatusForbidden {
		t.Fatalf("reset after demotion: %d, want 403", got)
	}
	if got := get("GET", "/orgs/"+org+"/reports", scoped.AccessToken); got != http.StatusOK {
		t.Fatalf("reports with the still-valid token: %d (read is kept as viewer)", got)
	}
}
