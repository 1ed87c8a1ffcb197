package rotate

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Purger is one job of the purge, retention or outbox task: it deletes (or
// republishes) what is due at now and returns how many rows it handled. It
// must be idempotent: what it handled is not due any more.
type Purger interface {
	Name() string
	Purge(ctx context.Context, now time.Time) (int64, error)
}

// PurgeFunc adapts a function to a [Purger].
func PurgeFunc(name string, fn func(ctx context.Context, now time.Time) (int64, error)) Purger {
	return purgeFunc{name, fn}
}

type purgeFunc struct {
	name string
	fn   func(ctx context.Context, now time.Time) (int64, error)
}

func (p purgeFunc) Name() string                                            { return p.name }
func (p purgeFunc) Purge(ctx context.Context, now time.Time) (int64, error) { return p.fn(ctx, now) }

// Older returns a Purger that calls del with the time age before now: del
// removes what is older than that.
func Older(name string, age time.Duration, del func(ctx context.Context, before time.Time) (int64, error)) Purger {
	return PurgeFunc(name, func(ctx context.Context, now time.Time) (int64, error) { return del(ctx, now.Add(-age)) })
}

// SessionRevoker revokes sessions on a suspected exposure: every session
// created before before, or only those of the organization's members when
// orgID is not empty.
type SessionRevoker interface {
	RevokeSessions(ctx context.Context, orgID string, before, now time.Time) (int64, error)
}

// storeSessions revokes sessions through the store.
type storeSessions struct{ s store.Rotation }

func (s storeSessions) RevokeSessions(ctx context.Context, orgID string, before, now time.Time) (int64, error) {
	return s.s.RevokeSessionsBefore(ctx, orgID, before, now, "suspected_key_exposure")
}

// staleAfter is how long expired material is kept before it is purged, so
// that an expiry a moment ago still explains a refusal in the logs.
const staleAfter = time.Hour

// defaultPurgers are the purges the store offers (DATA-2, CRED-6). Their
// names key the report's counts, so they avoid words the log redaction
// treats as secrets ("token", "credential"). Expired
// or revoked sessions with their refresh tokens, expired one-time tokens
// (reset, magic-link, confirmation), used OAuth state nonces and SAML
// assertion ids, rate-limit
// buckets that limit nothing, old lockout state, published outbox rows,
// event webhooks delivered or dead for 30 days, and the ciphertexts of revoked and invalid credentials past the grace
// period (the rows, and their audit trail, stay).
func defaultPurgers(s store.Store, cfg Config) []Purger {
	return []Purger{
		Older("sessions", staleAfter, s.PurgeSessions),
		Older("one_time_links", staleAfter, s.PurgeOneTimeTokens),
		Older("oauth_nonces", staleAfter, s.PurgeOAuthNonces),
		Older("saml_assertions", staleAfter, s.PurgeSAMLAssertions),
		PurgeFunc("rate_limits", s.PurgeRates),
		Older("lockouts", 24*time.Hour, s.PurgeLockouts),
		Older("outbox_published", 7*24*time.Hour, s.PurgeOutbox),
		Older("event_deliveries", 30*24*time.Hour, s.PurgeEventDeliveries),
		Older("revoked_connections_cleared", cfg.CredentialGrace, s.PurgeRevokedCredentials),
	}
}

// defaultRetention is what the retention task deletes after the audit log:
// the billing records after 7 years (AUDIT-3) - webhook events by receipt,
// billing accounts by their last change.
func defaultRetention(s store.Store) []Purger {
	return []Purger{
		PurgeFunc("webhook_events", func(ctx context.Context, now time.Time) (int64, error) {
			return s.PurgeWebhookEventsBefore(ctx, now.AddDate(-7, 0, 0))
		}),
		PurgeFunc("billing_accounts", func(ctx context.Context, now time.Time) (int64, error) {
			return s.PurgeBillingAccountsBefore(ctx, now.AddDate(-7, 0, 0))
		}),
	}
}

// runPurgers runs each purger and counts what it handled under its name.
// Dry runs report what would run and touch nothing.
func (r *Rotator) runPurgers(ctx context.Context, rn *run, ps []Purger, none string) (result, error) {
	if len(ps) == 0 {
		return result{skipped: true, note: none}, nil
	}
	counts := map[string]int64{}
	if rn.dry() {
		for _, p := range ps {
			counts[p.Name()] = 0
		}
		return result{counts: counts, note: "dry run: nothing deleted"}, nil
	}
	var errs []error
	now := r.now()
	for _, p := range ps {
		n, err := p.Purge(ctx, now)
		counts[p.Name()] = n
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p.Name(), err))
		}
	}
	return result{counts: counts}, errors.Join(errs...)
}

// revokeSessions revokes, on suspected exposure, every session (or one
// organization's) created before the run started: sessions signed in after
// the response began are not touched by a resumed run.
func (r *Rotator) revokeSessions(ctx context.Context, rn *run) (result, error) {
	if rn.dry() {
		return result{note: "dry run: no session revoked"}, nil
	}
	n, err := r.sessions.RevokeSessions(ctx, rn.req.Message.OrgID, rn.started, r.now())
	if err != nil {
		return result{}, fmt.Errorf("revoke sessions: %w", err)
	}
	r.event(ctx, rn, "session.revoke_all", rn.req.Message.OrgID, map[string]any{"revoked": n})
	return result{counts: map[string]int64{"revoked": n}}, nil
}
