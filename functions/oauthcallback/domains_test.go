package oauthcallback

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Domain claims: owners only, step-up to add and delete, a normalized
// name, a random TXT value of its own per organization and domain, checked
// through the resolver; every change and every failed verification is
// audited.
//
// Controls: AUTH-13, AUTH-12, AUTHZ-2, AUDIT-1, APP-1
func TestSSODomains(t *testing.T) {
	eachBackend(t, func(t *testing.T, e *testEnv) {
		owner := bearer(e.users["ownerA"])
		add := func(hdr []string, body string) (int, string) {
			rec := e.do(t, http.MethodPost, "/sso/domains?org="+orgA, body, append(hdr, jsonBody...)...)
			return rec.Code, rec.Body.String()
		}
		for _, tc := range []struct {
			name   string
			hdr    []string
			body   string
			status int
		}{
			{"admin, not owner", bearer(e.users["admin"]), `{"domain":"corp.example.com"}`, http.StatusForbidden},
			{"other organization", bearer(e.users["ownerB"]), `{"domain":"corp.example.com"}`, http.StatusForbidden},
			{"public suffix", owner, `{"domain":"co.uk"}`, http.StatusBadRequest},
			{"e-mail address", owner, `{"domain":"a@corp.example.com"}`, http.StatusBadRequest},
			{"unknown field", owner, `{"domain":"corp.example.com","verified":true}`, http.StatusBadRequest},
		} {
			if code, body := add(tc.hdr, tc.body); code != tc.status {
				t.Fatalf("%s: %d %s", tc.name, code, body)
			}
		}
		a := e.claimDomain(t, e.users["ownerA"], orgA, "Corp.Example.COM")
		b := e.claimDomain(t, e.users["ownerB"], orgB, "corp.example.com")
		if a.Domain != "corp.example.com" || a.Status != "pending" || a.Record.Type != "TXT" ||
			a.Record.Name != "_gatehouse-challenge.corp.example.com" || a.Record.Value == b.Record.Value ||
			!strings.HasPrefix(a.Record.Value, "gatehouse-domain-verification=") {
			t.Fatalf("claims %+v and %+v", a, b)
		}
		if code, _ := add(owner, `{"domain":"corp.example.com"}`); code != http.StatusConflict {
			t.Fatalf("second claim of one domain: %d", code)
		}
		verify := func(org string, d domainJSON, owner testUser) (int, string) {
			rec := e.do(t, http.MethodPost, "/sso/domains/"+d.ID+"/verify?org="+org, "", bearer(owner)...)
			return rec.Code, rec.Body.String()
		}
		if code, body := verify(orgA, a, e.users["ownerA"]); code != http.StatusConflict || !strings.Contains(body, "domain_not_proven") {
			t.Fatalf("no record: %d %s", code, body)
		}
		e.dns.SetTXT(a.Record.Name, b.Record.Value)
		if code, body := verify(orgA, a, e.users["ownerA"]); code != http.StatusConflict {
			t.Fatalf("another organization's value: %d %s", code, body)
		}
		e.dns.Fail(true)
		if code, body := verify(orgA, a, e.users["ownerA"]); code != http.StatusServiceUnavailable {
			t.Fatalf("resolver failing: %d %s", code, body)
		}
		e.dns.Fail(false)
		if code, _ := verify(orgB, a, e.users["ownerB"]); code != http.StatusNotFound {
			t.Fatalf("verify another organization's claim: %d", code)
		}
		e.dns.SetTXT(a.Record.Name, "v=spf1 -all", a.Record.Value, b.Record.Value)
		if code, body := verify(orgA, a, e.users["ownerA"]); code != http.StatusOK || !strings.Contains(body, `"status":"verified"`) {
			t.Fatalf("verify: %d %s", code, body)
		}
		// The other organization published its value too, too late.
		if code, body := verify(orgB, b, e.users["ownerB"]); code != http.StatusConflict || !strings.Contains(body, "domain_unavailable") {
			t.Fatalf("second organization's verification: %d %s", code, body)
		}
		rec := e.do(t, http.MethodGet, "/sso/domains?org="+orgA, "", owner...)
		var list struct{ Domains []domainJSON }
		if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &list) != nil || len(list.Domains) != 1 ||
			list.Domains[0].Status != "verified" || list.Domains[0].VerifiedAt == nil {
			t.Fatalf("list: %d %s", rec.Code, rec.Body)
		}
		if rec := e.do(t, http.MethodGet, "/sso/domains?org="+orgA, "", bearer(e.users["admin"])...); rec.Code != http.StatusForbidden {
			t.Fatalf("admin listed domains: %d", rec.Code)
		}

		stale := e.signIn(t, "user-ownerA")
		e.stale(t, stale)
		for _, req := range []struct{ method, target, body string }{
			{http.MethodPost, "/sso/domains?org=" + orgA, `{"domain":"other.example.com"}`},
			{http.MethodDelete, "/sso/domains/" + a.ID + "?org=" + orgA, ""},
		} {
			rec := e.do(t, req.method, req.target, req.body, append(bearer(stale), jsonBody...)...)
			if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "reauthentication_required") {
				t.Fatalf("%s %s without step-up: %d %s", req.method, req.target, rec.Code, rec.Body)
			}
		}
		if rec := e.do(t, http.MethodDelete, "/sso/domains/"+a.ID+"?org="+orgB, "", bearer(e.users["ownerB"])...); rec.Code != http.StatusNotFound {
			t.Fatalf("delete another organization's claim: %d", rec.Code)
		}
		if rec := e.do(t, http.MethodDelete, "/sso/domains/"+a.ID+"?org="+orgA, "", owner...); rec.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rec.Code, rec.Body)
		}
		// Deleted, the domain is free for its other claimant.
		if code, body := verify(orgB, b, e.users["ownerB"]); code != http.StatusOK {
			t.Fatalf("verification after the delete: %d %s", code, body)
		}
		actions := auditActions(t, e)
		for _, want := range []string{"sso.domain.add", "sso.domain.verify", "sso.domain.delete"} {
			if !slices.Contains(actions, want) {
				t.Fatalf("%s not audited: %v", want, actions)
			}
		}
		if n := auditFailures(t, e, "sso.domain.verify"); n != 4 {
			t.Fatalf("%d failed verifications audited, want 4", n)
		}
	})
}

// Organizations racing to verify one domain, each with its own record
// published, through the HTTP API on PostgreSQL: exactly one wins, the
// others get 409, and the store holds one verified claim.
//
// Controls: AUTH-13
func TestSSODomainConcurrentClaims(t *testing.T) {
	e := newTestEnv(t, bootstraptest.Backends[len(bootstraptest.Backends)-1])
	ctx, now := context.Background(), e.Clock.Now()
	const n = 12
	owners := make([]testUser, n)
	claims := make([]domainJSON, n)
	var values []string
	for i := range n {
		org, user := fmt.Sprintf("org-race-%02d", i), fmt.Sprintf("user-race-%02d", i)
		if err := e.Store.CreateUser(ctx, store.User{ID: user, Email: user + "@example.com", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := e.Store.CreateOrg(ctx, store.Org{ID: org, Name: org, CreatedAt: now}, user); err != nil {
			t.Fatal(err)
		}
		owners[i] = e.signIn(t, user)
		claims[i] = e.claimDomain(t, owners[i], org, "contested.example.com")
		values = append(values, claims[i].Record.Value)
	}
	e.dns.SetTXT(claims[0].Record.Name, values...)
	codes := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			rec := e.do(t, http.MethodPost, fmt.Sprintf("/sso/domains/%s/verify?org=org-race-%02d", claims[i].ID, i), "", bearer(owners[i])...)
			codes[i] = rec.Code

		})
	}
	wg.Wait()
	won := slices.Index(codes, http.StatusOK)
	for i, c := range codes {
		if i != won && c != http.StatusConflict {
			t.Fatalf("codes %v: want one 200 and 409s", codes)
		}
	}
	if won < 0 {
		t.Fatalf("codes %v: no verification won", codes)
	}
	d, err := e.Store.VerifiedSSODomain(ctx, "contested.example.com")
	if err != nil || d.OrgID != fmt.Sprintf("org-race-%02d", won) {
		t.Fatalf("verified claim %+v, %v; want org-race-%02d's", d, err, won)
	}
}
