package authtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/gatehouse-dev/gatehouse/functions/auth"
	"github.com/gatehouse-dev/gatehouse/functions/auth/authtest"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
)

// go-oidc, unmodified, discovers the issuer from its root
// /.well-known/openid-configuration and verifies a real access token with
// EdDSA; the metadata also names introspection and revocation. A token
// of another audience, or expired, is refused.
//
// Controls: AUTH-6
func TestGoOIDCDiscoversAndVerifies(t *testing.T) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			gh := authtest.Start(t, b, auth.Config{})
			ctx := oidc.ClientContext(context.Background(), gh.Client())
			provider, err := oidc.NewProvider(ctx, gh.Issuer())
			if err != nil {
				t.Fatalf("NewProvider: %v", err)
			}
			var meta struct {
				Introspection string `json:"introspection_endpoint"`
				Revocation    string `json:"revocation_endpoint"`
			}
			if err := provider.Claims(&meta); err != nil || meta.Introspection != gh.URL+"/auth/token/introspect" ||
				meta.Revocation != gh.URL+"/auth/token/revoke" {
				t.Fatalf("metadata %+v, %v", meta, err)
			}
			tk := gh.SignUp(t, "oidc@example.com", "lapwing fjord mulberry")
			verifier := provider.Verifier(&oidc.Config{ClientID: "gatehouse", SupportedSigningAlgs: []string{oidc.EdDSA},
				Now: gh.Env.Clock.Now})
			tok, err := verifier.Verify(ctx, tk.AccessToken)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			var claims struct {
				SessionID string `json:"sid"`
			}
			if tok.Subject != tk.UserID || tok.Issuer != gh.URL || tok.Claims(&claims) != nil || claims.SessionID != tk.SessionID {
				t.Fatalf("token %+v, sid %q", tok, claims.SessionID)
			}
			other := provider.Verifier(&oidc.Config{ClientID: "billing", SupportedSigningAlgs: []string{oidc.EdDSA},
				Now: gh.Env.Clock.Now})
			if _, err := other.Verify(ctx, tk.AccessToken); err == nil {
				t.Fatal("a verifier for another audience accepted the token")
			}
			gh.Env.Clock.Advance(11 * time.Minute)
			if _, err := verifier.Verify(ctx, tk.AccessToken); err == nil {
				t.Fatal("an expired token verified")
			}
		})
	}
}
