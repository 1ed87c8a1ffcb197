package oauthcallback

import (
	"crypto/sha256"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// SSO's just-in-time membership yields to SCIM: none while the
// organization provisions through SCIM, and never for a user its identity
// provider deprovisioned.
//
// Controls: AUTHZ-5
func TestSCIMManagesMembership(t *testing.T) {
	for _, b := range bootstraptest.Backends {
		t.Run(b.Name, func(t *testing.T) {
			s, ctx, now := b.Open(t), t.Context(), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
			if err := s.CreateOrg(ctx, store.Org{ID: "org-a", Name: "A", CreatedAt: now}, "u-owner"); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"u-1", "u-2"} {
				if err := s.CreateUser(ctx, store.User{ID: id, Email: id + "@corp.example.com", CreatedAt: now, UpdatedAt: now}); err != nil {
					t.Fatal(err)
				}
			}
			check := func(user string, want bool) {
				t.Helper()
				got, err := scimManaged(ctx, s, "org-a", user)
				if err != nil || got != want {
					t.Fatalf("scimManaged(%s) = %v, %v; want %v", user, got, err, want)
				}
			}
			check("u-1", false)
			if err := s.PutSCIMUser(ctx, store.SCIMUser{OrgID: "org-a", UserID: "u-2", Active: false, CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			check("u-2", true)
			if err := s.SetSCIMToken(ctx, store.SCIMToken{OrgID: "org-a", Hash: sha256.Sum256([]byte("t")), CreatedBy: "u-owner", CreatedAt: now}); err != nil {
				t.Fatal(err)
			}
			check("u-1", true)
		})
	}
}
