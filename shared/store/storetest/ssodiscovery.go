package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// The discovery result saved with an SSO configuration reads back as
// saved, is replaced with the configuration, and is empty for a
// configuration saved without one.
//
// Controls: APP-7
func testSSODiscovery(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	c := store.SSOConfig{ID: "sso-1", OrgID: "org-a", Issuer: "https://idp.example.com", ClientID: "cid",
		ClientSecret: connSealedLike("dk1", "secret"), UpdatedBy: "u",
		CreatedAt: epoch, UpdatedAt: epoch}
	if err := s.PutSSOConfig(ctx, c); err != nil {
		t.Fatal(err)
	}
	if got, err := s.SSOConfig(ctx, "org-a"); err != nil || got.Discovery.AuthURL != "" || !got.Discovery.DiscoveredAt.IsZero() {
		t.Fatalf("undiscovered configuration = %+v, %v", got.Discovery, err)
	}
	for i, d := range []store.SSODiscovery{
		{AuthURL: "https://idp.example.com/authorize", TokenURL: "https://idp.example.com/token",
			JWKSURL: "https://idp.example.com/jwks", UserInfoURL: "https://idp.example.com/userinfo",
			Algorithms: []string{"RS256", "ES256"}, DiscoveredAt: epoch.Add(time.Minute)},
		{AuthURL: "https://login.example.net/a", TokenURL: "https://login.example.net/t",
			JWKSURL: "https://keys.example.net/k", DiscoveredAt: epoch.Add(time.Hour)},
	} {
		c.Discovery, c.UpdatedAt = d, d.DiscoveredAt
		if err := s.PutSSOConfig(ctx, c); err != nil {
			t.Fatal(err)
		}
		got, err := s.SSOConfig(ctx, "org-a")
		g := got.Discovery
		if err != nil || g.AuthURL != d.AuthURL || g.TokenURL != d.TokenURL || g.JWKSURL != d.JWKSURL ||
			g.UserInfoURL != d.UserInfoURL || !slices.Equal(g.Algorithms, d.Algorithms) || !g.DiscoveredAt.Equal(d.DiscoveredAt) {
			t.Fatalf("save %d: discovery %+v, %v; want %+v", i, g, err, d)
		}
	}
}
