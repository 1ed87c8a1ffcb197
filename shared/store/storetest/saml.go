package storetest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// A SAML configuration is read back as written, replaced in place (its id
// and creation kept), kept per organization and removed with it.
//
// Controls: AUTHZ-3
func testSAMLConfigs(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	newOrg(t, s, "org-a", "u-a", nil)
	newOrg(t, s, "org-b", "u-b", nil)
	if _, err := s.SAMLConfig(ctx, "org-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("no configuration: err = %v", err)
	}
	c := store.SAMLConfig{ID: "saml-1", OrgID: "org-a", IDPEntityID: "https://idp.example.com/e", IDPMetadata: "<md/>",
		ProvisionRole: "member", AllowIDPInitiated: true, UpdatedBy: "u-a", CreatedAt: epoch, UpdatedAt: epoch}
	if err := s.PutSAMLConfig(ctx, c); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSAMLConfig(ctx, store.SAMLConfig{ID: "saml-x", OrgID: "org-x", CreatedAt: epoch, UpdatedAt: epoch}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("configuration of a missing organization: err = %v", err)
	}
	got, err := s.SAMLConfig(ctx, "org-a")
	if err != nil || got.ID != "saml-1" || got.IDPEntityID != c.IDPEntityID || got.IDPMetadata != "<md/>" ||
		got.ProvisionRole != "member" || !got.AllowIDPInitiated || !got.CreatedAt.Equal(epoch) {
		t.Fatalf("SAMLConfig = %+v, %v", got, err)
	}
	later := epoch.Add(time.Hour)
	if err := s.PutSAMLConfig(ctx, store.SAMLConfig{ID: "saml-2", OrgID: "org-a", IDPEntityID: "e2", IDPMetadata: "<md2/>",
		MetadataURL: "https://idp.example.com/md", UpdatedBy: "u-a", CreatedAt: later, UpdatedAt: later}); err != nil {
		t.Fatal(err)
	}
	got, err = s.SAMLConfig(ctx, "org-a")
	if err != nil || got.ID != "saml-1" || got.IDPEntityID != "e2" || got.AllowIDPInitiated || got.ProvisionRole != "" ||
		got.MetadataURL != "https://idp.example.com/md" || !got.CreatedAt.Equal(epoch) || !got.UpdatedAt.Equal(later) {
		t.Fatalf("SAMLConfig after replace = %+v, %v", got, err)
	}
	if _, err := s.SAMLConfig(ctx, "org-b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another organization's configuration: err = %v", err)
	}
	if err := s.DeleteSAMLConfig(ctx, "org-b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete none: err = %v", err)
	}
	if err := s.DeleteSAMLConfig(ctx, "org-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SAMLConfig(ctx, "org-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("after delete: err = %v", err)
	}
	if err := s.PutSAMLConfig(ctx, store.SAMLConfig{ID: "saml-3", OrgID: "org-b", UpdatedAt: epoch, CreatedAt: epoch}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.DeleteOrg(ctx, "org-b", "u-b"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SAMLConfig(ctx, "org-b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("configuration of a deleted organization: err = %v", err)
	}
}

// Of many concurrent consumers of one assertion exactly one wins, every
// later one is refused, the same id from another organization's provider is
// its own, and the record goes only once the assertion has expired.
//
// Controls: AUTH-13
func testSAMLAssertionReplay(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	exp := epoch.Add(5 * time.Minute)
	errs := race(50, func(int) error { return s.UseSAMLAssertion(ctx, "org-a", "_a1", exp) })
	exactlyOne(t, errs, store.ErrUsed)
	if err := s.UseSAMLAssertion(ctx, "org-a", "_a1", exp); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("replay after the race: err = %v", err)
	}
	if err := s.UseSAMLAssertion(ctx, "org-b", "_a1", exp); err != nil {
		t.Fatalf("same id, other organization: %v", err)
	}
	if n, err := s.PurgeSAMLAssertions(ctx, exp); err != nil || n != 0 {
		t.Fatalf("purge before expiry = %d, %v", n, err)
	}
	if n, err := s.PurgeSAMLAssertions(ctx, exp.Add(time.Second)); err != nil || n != 2 {
		t.Fatalf("purge after expiry = %d, %v; want 2", n, err)
	}
}
