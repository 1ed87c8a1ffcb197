package rotate

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/dnsproof"
	"github.com/gatehouse-dev/gatehouse/shared/dnsproof/dnstest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// The domains task re-checks, through the DNS resolver, each verified
// single sign-on domain whose last check is a day old: a record still there
// moves the check time on; a record gone disables the domain at once
// (audited), so the organization's provider stops speaking for it; a
// resolver that does not answer leaves the domain until a week without a
// successful check has passed.
//
// Controls: AUTH-13, AUDIT-1
func TestDomainsRecheck(t *testing.T) {
	for _, b := range backends {
		t.Run(b, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t, b)
			ctx := context.Background()
			dns := dnstest.New(t)
			resolver, err := dnsproof.NewResolver(dns.Addr)
			if err != nil {
				t.Fatal(err)
			}
			now := f.Clock.Now()
			for _, org := range []string{"org-1", "org-2"} {
				f.user(t, "owner-"+org)
				if err := f.Store.CreateOrg(ctx, store.Org{ID: org, Name: org, CreatedAt: now}, "owner-"+org); err != nil {
					t.Fatal(err)
				}
			}
			claims := map[string]store.SSODomain{}
			for _, c := range []struct{ id, org, domain string }{
				{"d-kept", "org-1", "kept.example.com"}, {"d-gone", "org-1", "gone.example.com"},
				{"d-silent", "org-2", "silent.example.com"}, {"d-fresh", "org-2", "fresh.example.com"},
			} {
				tok, err := dnsproof.NewToken(f.Rand)
				if err != nil {
					t.Fatal(err)
				}
				d := store.SSODomain{ID: c.id, OrgID: c.org, Domain: c.domain, Token: tok, CreatedBy: "owner-" + c.org, CreatedAt: now}
				if err := f.Store.CreateSSODomain(ctx, d); err != nil {
					t.Fatal(err)
				}
				at := now
				if c.id == "d-fresh" {
					at = now.Add(23 * time.Hour)
				}
				if err := f.Store.VerifySSODomain(ctx, c.org, c.id, at); err != nil {
					t.Fatal(err)
				}
				claims[c.id] = d
				ch := dnsproof.ChallengeFor(d.Domain, d.Token)
				dns.SetTXT(ch.Name, ch.Value)
			}
			dns.Remove(dnsproof.ChallengeFor("gone.example.com", "").Name)
			dns.Break(dnsproof.ChallengeFor("silent.example.com", "").Name)
			rot := f.rotator(t, testConfig(), WithDomainChecker(resolver))

			f.Clock.Advance(25 * time.Hour)
			if rep, err := rot.Run(ctx, Request{ID: "dry", Message: Message{Tasks: []string{TaskDomains}, Reason: ReasonSchedule, DryRun: true}}); err != nil ||
				rep.Count(TaskDomains, "due") != 3 || rep.Count(TaskDomains, "disabled") != 0 {
				t.Fatalf("dry run: %+v, %v", rep, err)
			}
			rep, err := rot.Run(ctx, Request{ID: "day-1", Message: schedule(TaskDomains)})
			if err != nil {
				t.Fatal(err)
			}
			for name, want := range map[string]int64{"due": 3, "confirmed": 1, "disabled": 1, "unanswered": 1} {
				if got := rep.Count(TaskDomains, name); got != want {
					t.Errorf("day 1: %s = %d, want %d", name, got, want)
				}
			}
			status := func(id string) string {
				d, err := f.Store.SSODomain(ctx, claims[id].OrgID, id)
				if err != nil {
					t.Fatal(err)
				}
				return d.Status
			}
			for id, want := range map[string]string{"d-kept": "verified", "d-gone": "disabled", "d-silent": "verified", "d-fresh": "verified"} {
				if got := status(id); got != want {
					t.Fatalf("day 1: %s is %s, want %s", id, got, want)
				}
			}
			if _, err := f.Store.VerifiedSSODomain(ctx, "gone.example.com"); !errors.Is(err, store.ErrNotFound) {
				t.Fatalf("a disabled domain still speaks for its organization: %v", err)
			}
			f.IntegrateAudit(t)
			evs, err := f.Store.OrgAuditEvents(ctx, "org-1", 0, 100)
			if err != nil {
				t.Fatal(err)
			}
			var disabled []string
			for _, ev := range evs {
				if ev.Action == "sso.domain.disable" {
					disabled = append(disabled, ev.Target+" "+string(ev.Metadata))
				}
			}
			if len(disabled) != 1 || !strings.Contains(disabled[0], "sso_domain:d-gone") || !strings.Contains(disabled[0], "record_gone") {
				t.Fatalf("disable events: %q", disabled)
			}

			// A week of silence disables the domain that never answers.
			f.Clock.Advance(6 * 24 * time.Hour)
			if _, err := rot.Run(ctx, Request{ID: "day-7", Message: schedule(TaskDomains)}); err != nil {
				t.Fatal(err)
			}
			for id, want := range map[string]string{"d-kept": "verified", "d-silent": "disabled", "d-fresh": "verified"} {
				if got := status(id); got != want {
					t.Fatalf("day 7: %s is %s, want %s", id, got, want)
				}
			}
		})
	}
}
