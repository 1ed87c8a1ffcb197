package rotate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/dnsproof"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// DomainChecker looks up a domain's challenge record ([dnsproof.Resolver]):
// nil when it holds token, [dnsproof.ErrNotProven] when the answer says it
// does not, another error when there was no answer.
type DomainChecker interface {
	Verify(ctx context.Context, domain, token string) error
}

// WithDomainChecker replaces the resolver the domains task asks.
func WithDomainChecker(c DomainChecker) Option { return func(r *Rotator) { r.domains = c } }

// Re-check policy of verified single sign-on domains (AUTH-13): each is
// looked up again once its last successful check is domainRecheckAge old
// (a run every hour checks each about daily). A record that is gone
// disables the domain at once; one that cannot be looked up for
// domainUnverifiableAge (dead name servers, a lapsed domain) disables it
// too, so a domain cannot stay verified by going silent.
const (
	domainRecheckAge      = 24 * time.Hour
	domainUnverifiableAge = 7 * 24 * time.Hour
	domainBatch           = 500
)

// recheckDomains runs the domains task.
func (r *Rotator) recheckDomains(ctx context.Context, rn *run) (result, error) {
	now := r.now()
	due, err := r.store.SSODomainsDue(ctx, now.Add(-domainRecheckAge), domainBatch)
	if err != nil {
		return result{}, fmt.Errorf("list domains due: %w", err)
	}
	counts := map[string]int64{"due": int64(len(due)), "confirmed": 0, "disabled": 0, "unanswered": 0}
	if rn.dry() {
		return result{counts: counts, note: "dry run: nothing looked up"}, nil
	}
	for _, d := range due {
		err := r.domains.Verify(ctx, d.Domain, d.Token)
		reason := "record_gone"
		switch {
		case err == nil:
			if err := r.store.CheckedSSODomain(ctx, d.ID, now); err != nil && !errors.Is(err, store.ErrNotFound) {
				return result{counts: counts}, fmt.Errorf("record check of domain %s: %w", d.ID, err)
			}
			counts["confirmed"]++
			continue
		case !errors.Is(err, dnsproof.ErrNotProven):
			counts["unanswered"]++
			r.d.Logger.WarnContext(ctx, "sso domain re-check unanswered", "domain_id", d.ID, "error", err.Error())
			if now.Sub(d.CheckedAt) < domainUnverifiableAge {
				continue
			}
			reason = "unverifiable"
		}
		if err := r.disableDomain(ctx, rn, d, reason); err != nil {
			return result{counts: counts}, err
		}
		counts["disabled"]++
	}
	return result{counts: counts}, nil
}

// disableDomain disables d and audits why, in one transaction. A domain
// deleted or disabled meanwhile is no error.
func (r *Rotator) disableDomain(ctx context.Context, rn *run, d store.SSODomain, reason string) error {
	err := r.store.Tx(ctx, func(tx store.Store) error {
		if err := tx.DisableSSODomain(ctx, d.ID); err != nil {
			return err
		}
		_, err := r.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: rn.req.Actor, OrgID: d.OrgID, Action: "sso.domain.disable",
			Target: "sso_domain:" + d.ID, Metadata: map[string]any{"domain": d.Domain, "reason": reason}})
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("disable domain %s: %w", d.ID, err)
	}
	return nil
}
