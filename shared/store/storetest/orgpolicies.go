package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// An organization's sign-in policy is read back as written, replaced as a
// whole, kept per organization and removed with it.
//
// Controls: AUTHZ-5, AUTHZ-3
func testOrgPolicies(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	newOrg(t, s, "org-a", "u-a", nil)
	newOrg(t, s, "org-b", "u-b", nil)
	if _, err := s.OrgPolicy(ctx, "org-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("policy never set: err = %v", err)
	}
	p := store.OrgPolicy{OrgID: "org-a", RequireSSO: true, RequireMFA: true, MaxSessionAge: 8 * time.Hour, IdleTimeout: 30 * time.Minute,
		UpdatedBy: "u-a", UpdatedAt: epoch}
	if err := s.PutOrgPolicy(ctx, p); err != nil {
		t.Fatal(err)
	}
	if err := s.PutOrgPolicy(ctx, store.OrgPolicy{OrgID: "org-x", UpdatedAt: epoch}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("policy of a missing organization: err = %v", err)
	}
	got, err := s.OrgPolicy(ctx, "org-a")
	if err != nil || !got.RequireSSO || !got.RequireMFA || got.MaxSessionAge != 8*time.Hour || got.IdleTimeout != 30*time.Minute ||
		got.UpdatedBy != "u-a" || !got.UpdatedAt.Equal(epoch) {
		t.Fatalf("OrgPolicy = %+v, %v", got, err)
	}
	later := epoch.Add(time.Hour)
	if err := s.PutOrgPolicy(ctx, store.OrgPolicy{OrgID: "org-a", RequireMFA: true, UpdatedBy: "u-a", UpdatedAt: later}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.OrgPolicy(ctx, "org-a"); err != nil || got.RequireSSO || !got.RequireMFA || got.MaxSessionAge != 0 || got.IdleTimeout != 0 || !got.UpdatedAt.Equal(later) {
		t.Fatalf("OrgPolicy after replace = %+v, %v", got, err)
	}
	if _, err := s.OrgPolicy(ctx, "org-b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another organization's policy: err = %v", err)
	}
	if _, err := s.DeleteOrg(ctx, "org-a", "u-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OrgPolicy(ctx, "org-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("policy outlived its organization: err = %v", err)
	}
}
