package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

func domainClaim(id, org, domain string) store.SSODomain {
	return store.SSODomain{ID: id, OrgID: org, Domain: domain, Token: "token-" + id, CreatedBy: "u-" + org, CreatedAt: epoch}
}

// A domain is claimed per organization, verified by at most one, re-checked
// while verified, disabled when its record is gone, and deleted with its
// organization.
//
// Controls: AUTH-13, AUTHZ-3
func testSSODomains(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	newOrg(t, s, "org-a", "u-a", nil)
	newOrg(t, s, "org-b", "u-b", nil)
	a, b := domainClaim("dom-a", "org-a", "corp.example"), domainClaim("dom-b", "org-b", "corp.example")
	for _, d := range []store.SSODomain{a, b, domainClaim("dom-a2", "org-a", "b.example")} {
		if err := s.CreateSSODomain(ctx, d); err != nil {
			t.Fatalf("claim %s by %s: %v", d.Domain, d.OrgID, err)
		}
	}
	if err := s.CreateSSODomain(ctx, domainClaim("dom-a3", "org-a", "corp.example")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second claim by one org: err = %v, want ErrConflict", err)
	}
	list, err := s.SSODomains(ctx, "org-a")
	if err != nil || len(list) != 2 || list[0].Domain != "b.example" || !sameDomain(list[1], withStatus(a, store.DomainPending)) {
		t.Fatalf("SSODomains = %+v, %v", list, err)
	}
	if _, err := s.SSODomain(ctx, "org-b", "dom-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("another org's domain: err = %v", err)
	}
	if _, err := s.VerifiedSSODomain(ctx, "corp.example"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("pending domain found verified: %v", err)
	}
	at := epoch.Add(time.Hour)
	if err := s.VerifySSODomain(ctx, "org-b", "dom-a", at); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("verify another org's claim: err = %v", err)
	}
	if err := s.VerifySSODomain(ctx, "org-a", "dom-a", at); err != nil {
		t.Fatal(err)
	}
	if err := s.VerifySSODomain(ctx, "org-b", "dom-b", at); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second org verified a verified domain: err = %v", err)
	}
	if err := s.CreateSSODomain(ctx, domainClaim("dom-c", "org-c", "corp.example")); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("claim of a domain verified elsewhere: err = %v", err)
	}
	got, err := s.VerifiedSSODomain(ctx, "corp.example")
	if err != nil || got.OrgID != "org-a" || got.Status != store.DomainVerified || !got.VerifiedAt.Equal(at) || !got.CheckedAt.Equal(at) {
		t.Fatalf("VerifiedSSODomain = %+v, %v", got, err)
	}

	if due, err := s.SSODomainsDue(ctx, at, 10); err != nil || len(due) != 0 {
		t.Fatalf("due before its check time: %+v, %v", due, err)
	}
	if due, err := s.SSODomainsDue(ctx, at.Add(time.Second), 10); err != nil || len(due) != 1 || due[0].ID != "dom-a" {
		t.Fatalf("SSODomainsDue = %+v, %v", due, err)
	}
	if err := s.CheckedSSODomain(ctx, "dom-a", at.Add(24*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if due, _ := s.SSODomainsDue(ctx, at.Add(time.Hour), 10); len(due) != 0 {
		t.Fatalf("a checked domain is due: %+v", due)
	}
	for name, err := range map[string]error{
		"check a pending domain":   s.CheckedSSODomain(ctx, "dom-b", at),
		"disable a pending domain": s.DisableSSODomain(ctx, "dom-b"),
	} {
		if !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("%s: err = %v, want ErrNotFound", name, err)
		}
	}
	if err := s.DisableSSODomain(ctx, "dom-a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.VerifiedSSODomain(ctx, "corp.example"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("disabled domain still verified: %v", err)
	}
	// Disabled, it frees the domain for its real holder.
	if err := s.VerifySSODomain(ctx, "org-b", "dom-b", at); err != nil {
		t.Fatalf("verify after the other org's claim was disabled: %v", err)
	}
	if del, err := s.DeleteSSODomain(ctx, "org-b", "dom-b"); err != nil || del.Domain != "corp.example" {
		t.Fatalf("DeleteSSODomain = %+v, %v", del, err)
	}
	if _, err := s.DeleteSSODomain(ctx, "org-b", "dom-b"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: err = %v", err)
	}
	gone, err := s.DeleteOrg(ctx, "org-a", "u-a")
	if err != nil || gone.Domains != 2 {
		t.Fatalf("DeleteOrg = %+v, %v; want 2 domains", gone, err)
	}
	if list, _ := s.SSODomains(ctx, "org-a"); len(list) != 0 {
		t.Fatalf("domains survive their org: %+v", list)
	}
}

func withStatus(d store.SSODomain, status string) store.SSODomain {
	d.Status = status
	return d
}

// Many organizations verifying one domain at once: exactly one wins.
//
// Controls: AUTH-13
func testSSODomainVerifyRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	const n = 20
	for i := range n {
		org := fmt.Sprintf("org-%02d", i)
		newOrg(t, s, org, "u-"+org, nil)
		if err := s.CreateSSODomain(ctx, domainClaim("dom-"+org, org, "contested.example")); err != nil {
			t.Fatal(err)
		}
	}
	errs := race(n, func(i int) error {
		org := fmt.Sprintf("org-%02d", i)
		return s.VerifySSODomain(ctx, org, "dom-"+org, epoch)
	})
	exactlyOne(t, errs, store.ErrConflict)
	got, err := s.VerifiedSSODomain(ctx, "contested.example")
	if err != nil || errs[orgIndex(t, got.OrgID)] != nil {
		t.Fatalf("verified claim %+v, %v is not the winner's", got, err)
	}
}

func orgIndex(t *testing.T, org string) int {
	t.Helper()
	var i int
	if _, err := fmt.Sscanf(org, "org-%02d", &i); err != nil {
		t.Fatal(err)
	}
	return i
}

func sameDomain(a, b store.SSODomain) bool {
	return a.ID == b.ID && a.OrgID == b.OrgID && a.Domain == b.Domain && a.Token == b.Token && a.Status == b.Status &&
		a.CreatedBy == b.CreatedBy && a.CreatedAt.Equal(b.CreatedAt) && a.VerifiedAt.Equal(b.VerifiedAt) &&
		a.CheckedAt.Equal(b.CheckedAt)
}
