package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// An organization has at most one SCIM token, found by its hash, replaced
// on rotation and gone with the organization; provisioned users are kept
// per organization, paged, and never visible to another one.
//
// Controls: AUTHZ-5, AUTHZ-3
func testSCIM(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	newOrg(t, s, "org-a", "u-a", nil)
	newOrg(t, s, "org-b", "u-b", nil)
	first := store.SCIMToken{OrgID: "org-a", Hash: sha256.Sum256([]byte("one")), CreatedBy: "u-a", CreatedAt: epoch}
	if err := s.SetSCIMToken(ctx, first); err != nil {
		t.Fatal(err)
	}
	if err := s.SetSCIMToken(ctx, store.SCIMToken{OrgID: "org-x", Hash: sha256.Sum256([]byte("x")), CreatedAt: epoch}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token of a missing organization: err = %v", err)
	}
	got, err := s.SCIMTokenByHash(ctx, first.Hash)
	if err != nil || got.OrgID != "org-a" || got.CreatedBy != "u-a" || !got.CreatedAt.Equal(epoch) || got.Hash != first.Hash {
		t.Fatalf("SCIMTokenByHash = %+v, %v", got, err)
	}
	second := store.SCIMToken{OrgID: "org-a", Hash: sha256.Sum256([]byte("two")), CreatedBy: "u-a", CreatedAt: epoch.Add(time.Hour)}
	if err := s.SetSCIMToken(ctx, second); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SCIMTokenByHash(ctx, first.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("rotated-out token still found: %v", err)
	}
	if got, err := s.SCIMTokenOf(ctx, "org-a"); err != nil || got.Hash != second.Hash {
		t.Fatalf("SCIMTokenOf = %+v, %v", got, err)
	}
	if _, err := s.SCIMTokenOf(ctx, "org-b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("org without a token: err = %v", err)
	}

	for _, id := range []string{"u-1", "u-2", "u-3"} {
		if err := s.CreateUser(ctx, authUser(id, id+"@corp.example")); err != nil {
			t.Fatal(err)
		}
		u := store.SCIMUser{OrgID: "org-a", UserID: id, ExternalID: "ext-" + id, Active: true, CreatedAt: epoch, UpdatedAt: epoch}
		if err := s.PutSCIMUser(ctx, u); err != nil {
			t.Fatal(err)
		}
	}
	later := epoch.Add(time.Minute)
	if err := s.PutSCIMUser(ctx, store.SCIMUser{OrgID: "org-a", UserID: "u-2", ExternalID: "ext-2b", Active: false,
		CreatedAt: later, UpdatedAt: later}); err != nil {
		t.Fatal(err)
	}
	u2, err := s.SCIMUser(ctx, "org-a", "u-2")
	if err != nil || u2.Active || u2.ExternalID != "ext-2b" || !u2.CreatedAt.Equal(epoch) || !u2.UpdatedAt.Equal(later) {
		t.Fatalf("SCIMUser after update = %+v, %v", u2, err)
	}
	if _, err := s.SCIMUser(ctx, "org-b", "u-2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another organization's record: err = %v", err)
	}
	page, total, err := s.SCIMUsers(ctx, "org-a", 1, 1)
	if err != nil || total != 3 || len(page) != 1 || page[0].UserID != "u-2" {
		t.Fatalf("SCIMUsers(1, 1) = %+v, %d, %v", page, total, err)
	}
	if page, total, err := s.SCIMUsers(ctx, "org-b", 0, 10); err != nil || total != 0 || len(page) != 0 {
		t.Fatalf("SCIMUsers of org-b = %+v, %d, %v", page, total, err)
	}
	if err := s.DeleteSCIMUser(ctx, "org-b", "u-1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete through another organization: err = %v", err)
	}
	if err := s.DeleteSCIMUser(ctx, "org-a", "u-1"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteSCIMToken(ctx, "org-b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete a token that does not exist: err = %v", err)
	}
	if _, err := s.DeleteOrg(ctx, "org-a", "u-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SCIMTokenByHash(ctx, second.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("token outlived its organization: %v", err)
	}
	if _, total, err := s.SCIMUsers(ctx, "org-a", 0, 10); err != nil || total != 0 {
		t.Fatalf("scim users outlived their organization: %d, %v", total, err)
	}
}
