package oauthcallback

import (
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/dnsproof"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// maxDomains bounds an organization's domain claims.
const maxDomains = 20

// limitDomainVerify bounds DNS lookups per organization.
var limitDomainVerify = ratelimit.SSODomainVerify

var (
	errDomainUnavailable = web.Conflict("domain_unavailable",
		"This organization has claimed this domain already, or another organization has verified it.")
	errDomainNotProven = web.Conflict("domain_not_proven",
		"The TXT record was not found. Publish it, wait for DNS to update, and try again.")
)

type domainRequest struct {
	Domain string `json:"domain"`
}

// domainJSON is a domain claim as the API shows it, with the record that
// proves it.
type domainJSON struct {
	ID         string     `json:"id"`
	Domain     string     `json:"domain"`
	Status     string     `json:"status"`
	Record     recordJSON `json:"record"`
	CreatedAt  time.Time  `json:"created_at"`
	VerifiedAt *time.Time `json:"verified_at"`
	CheckedAt  *time.Time `json:"checked_at"`
}

type recordJSON struct {
	Type  string `json:"type"`
	Name  string `json:"name"`
	Value string `json:"value"`
}

func toDomainJSON(d store.SSODomain) domainJSON {
	ch := dnsproof.ChallengeFor(d.Domain, d.Token)
	return domainJSON{ID: d.ID, Domain: d.Domain, Status: d.Status, Record: recordJSON{Type: "TXT", Name: ch.Name, Value: ch.Value},
		CreatedAt: d.CreatedAt.UTC(), VerifiedAt: timeOrNil(d.VerifiedAt), CheckedAt: timeOrNil(d.CheckedAt)}
}

func timeOrNil(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// addDomain answers POST /sso/domains?org= (owner, step-up): claims a
// domain and returns the TXT record to publish, with a random value of its
// own (AUTH-13).
func (s *server) addDomain(w http.ResponseWriter, r *http.Request) error {
	m, err := owner(r)
	if err != nil {
		return err
	}
	if err := s.sessions.RequireRecentAuth(r.Context()); err != nil {
		return err
	}
	var req domainRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	name, err := dnsproof.NormalizeDomain(req.Domain)
	if err != nil {
		return web.Invalid(map[string]string{"domain": "must be a registrable domain name such as example.com"})
	}
	d := store.SSODomain{OrgID: m.OrgID, Domain: name, CreatedBy: m.UserID, CreatedAt: s.d.Now()}
	if d.ID, err = randomID(s.d.Rand, "dom_"); err != nil {
		return web.Unavailable(err)
	}
	if d.Token, err = dnsproof.NewToken(s.d.Rand); err != nil {
		return web.Unavailable(err)
	}
	err = s.d.Store.Tx(r.Context(), func(tx store.Store) error {
		have, err := tx.SSODomains(r.Context(), m.OrgID)
		if err != nil {
			return err
		}
		if len(have) >= maxDomains {
			return web.Conflict("too_many_domains", "An organization can claim at most 20 domains.")
		}
		if err := tx.CreateSSODomain(r.Context(), d); err != nil {
			return err
		}
		return s.auditDomain(r, tx, m.UserID, "sso.domain.add", d, store.OutcomeSuccess, "")
	})
	if err := domainError(err); err != nil {
		return err
	}
	d.Status = store.DomainPending
	return web.WriteJSON(w, http.StatusCreated, toDomainJSON(d))
}

// listDomains answers GET /sso/domains?org= (owner).
func (s *server) listDomains(w http.ResponseWriter, r *http.Request) error {
	m, err := owner(r)
	if err != nil {
		return err
	}
	list, err := s.d.Store.SSODomains(r.Context(), m.OrgID)
	if err != nil {
		return web.Unavailable(err)
	}
	out := make([]domainJSON, 0, len(list))
	for _, d := range list {
		out = append(out, toDomainJSON(d))
	}
	return web.WriteJSON(w, http.StatusOK, map[string]any{"domains": out})
}

// verifyDomain answers POST /sso/domains/{id}/verify?org= (owner): looks
// the TXT record up and, if it holds the claim's value, marks the domain
// verified. Every attempt is audited.
func (s *server) verifyDomain(w http.ResponseWriter, r *http.Request) error {
	m, err := owner(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	d, err := s.d.Store.SSODomain(ctx, m.OrgID, r.PathValue("id"))
	if errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	} else if err != nil {
		return web.Unavailable(err)
	}
	if err := ratelimit.HTTPError(s.d.Limiter.Allow(ctx, limitDomainVerify, m.OrgID)); err != nil {
		return err
	}
	if err := s.resolver.Verify(ctx, d.Domain, d.Token); err != nil {
		reason := "lookup_failed"
		if errors.Is(err, dnsproof.ErrNotProven) {
			reason = "record_not_found"
		}
		s.recordDomain(r, m.UserID, "sso.domain.verify", d, store.OutcomeFailure, reason)
		if reason == "lookup_failed" {
			return web.Unavailable(err)
		}
		return errDomainNotProven.WithCause(err)
	}
	now := s.d.Now()
	err = s.d.Store.Tx(ctx, func(tx store.Store) error {
		if err := tx.VerifySSODomain(ctx, m.OrgID, d.ID, now); err != nil {
			return err
		}
		return s.auditDomain(r, tx, m.UserID, "sso.domain.verify", d, store.OutcomeSuccess, "")
	})
	if errors.Is(err, store.ErrConflict) {
		s.recordDomain(r, m.UserID, "sso.domain.verify", d, store.OutcomeFailure, "verified_elsewhere")
	}
	if err := domainError(err); err != nil {
		return err
	}
	d.Status, d.VerifiedAt, d.CheckedAt = store.DomainVerified, now, now
	return web.WriteJSON(w, http.StatusOK, toDomainJSON(d))
}

// deleteDomain answers DELETE /sso/domains/{id}?org= (owner, step-up).
func (s *server) deleteDomain(w http.ResponseWriter, r *http.Request) error {
	m, err := owner(r)
	if err != nil {
		return err
	}
	if err := s.sessions.RequireRecentAuth(r.Context()); err != nil {
		return err
	}
	err = s.d.Store.Tx(r.Context(), func(tx store.Store) error {
		d, err := tx.DeleteSSODomain(r.Context(), m.OrgID, r.PathValue("id"))
		if err != nil {
			return err
		}
		return s.auditDomain(r, tx, m.UserID, "sso.domain.delete", d, store.OutcomeSuccess, "")
	})
	if err := domainError(err); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// domainError maps a domain transaction's error to a response: nil, a
// *web.Error as is, 404, 409 domain_unavailable, else 503.
func domainError(err error) error {
	var we *web.Error
	switch {
	case err == nil, errors.As(err, &we):
		return err
	case errors.Is(err, store.ErrNotFound):
		return web.NotFound()
	case errors.Is(err, store.ErrConflict):
		return errDomainUnavailable.WithCause(err)
	}
	return web.Unavailable(err)
}

// auditDomain records a domain event in tx.
func (s *server) auditDomain(r *http.Request, tx store.AuditLog, actor, action string, d store.SSODomain, outcome store.Outcome, reason string) error {
	meta := map[string]any{"domain": d.Domain}
	if reason != "" {
		meta["reason"] = reason
	}
	_, err := s.d.Audit.RecordTx(r.Context(), tx, audit.Event{Actor: actor, OrgID: d.OrgID, Action: action,
		Target: "sso_domain:" + d.ID, Outcome: outcome, Network: s.network(r), Metadata: meta})
	return err
}

// recordDomain records a refused domain event outside any transaction,
// logging (not failing on) an error.
func (s *server) recordDomain(r *http.Request, actor, action string, d store.SSODomain, outcome store.Outcome, reason string) {
	if err := s.auditDomain(r, s.d.Store, actor, action, d, outcome, reason); err != nil {
		s.logger.WarnContext(r.Context(), "audit of a domain event failed", "action", action, "error", err.Error())
	}
}

// randomID returns prefix and 16 random bytes in hex.
func randomID(rand io.Reader, prefix string) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", err
	}
	return prefix + hex.EncodeToString(b[:]), nil
}
