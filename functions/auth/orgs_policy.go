package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/dnsproof"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// minOrgSessionAge is the shortest maximum session age an organization
// may set; the longest is the global absolute session lifetime
// (GATEHOUSE_SESSION_ABSOLUTE_TIMEOUT, 30 days by default).
const minOrgSessionAge = time.Hour

// minOrgIdleTimeout is the shortest idle timeout an organization may set:
// the shortest gap between refreshes sessions record, longer than an
// access token lives, so a session in use is never taken for idle. The
// longest is the global idle timeout (GATEHOUSE_SESSION_IDLE_TIMEOUT).
const minOrgIdleTimeout = session.MinRecordedIdle

// revokeReasonPolicy is recorded on sessions a new policy ends.
const revokeReasonPolicy = "org_policy"

func (x *ext) registerPolicy(mux *http.ServeMux) {
	mux.Handle("GET /orgs/{org}/policy", x.orgRoute(authz.PermRead, x.policyGet))
	mux.Handle("PUT /orgs/{org}/policy", x.orgRoute(authz.PermRead, x.stepUp(x.policyPut)))
}

// policyJSON is an organization's sign-in policy in the API.
type policyJSON struct {
	RequireSSO           bool       `json:"require_sso"`
	RequireMFA           bool       `json:"require_mfa"`
	MaxSessionAgeSeconds int64      `json:"max_session_age_seconds"`
	IdleTimeoutSeconds   int64      `json:"idle_session_timeout_seconds"`
	UpdatedAt            *time.Time `json:"updated_at"`
}

func toPolicyJSON(p store.OrgPolicy) policyJSON {
	out := policyJSON{RequireSSO: p.RequireSSO, RequireMFA: p.RequireMFA, MaxSessionAgeSeconds: int64(p.MaxSessionAge / time.Second),
		IdleTimeoutSeconds: int64(p.IdleTimeout / time.Second)}
	if !p.UpdatedAt.IsZero() {
		at := p.UpdatedAt.UTC()
		out.UpdatedAt = &at
	}
	return out
}

// policyGet answers GET /orgs/{org}/policy (any member: members need to
// know what the organization requires of them).
func (x *ext) policyGet(w http.ResponseWriter, r *http.Request) error {
	m := orgMember(r)
	p, err := x.d.Store.OrgPolicy(r.Context(), m.OrgID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return web.Unavailable(err)
	}
	return web.WriteJSON(w, http.StatusOK, toPolicyJSON(p))
}

// policyPut answers PUT /orgs/{org}/policy (owner, step-up). Turning a
// requirement on ends, in the same transaction, the members' sessions
// that do not meet it: single-factor sessions for MFA; sessions not
// started through this organization's own single sign-on (password, magic
// link, passkey, Google, GitHub, another organization's SSO) of members
// on its verified domains for SSO (the owner's excepted: break-glass).
func (x *ext) policyPut(w http.ResponseWriter, r *http.Request) error {
	var req policyJSON
	if err := extDecode(r, &req, func(v *web.Validator) {
		age, maxAge := time.Duration(req.MaxSessionAgeSeconds)*time.Second, x.sessions.AbsoluteTimeout()
		v.Require(req.MaxSessionAgeSeconds == 0 || req.MaxSessionAgeSeconds > 0 && age >= minOrgSessionAge && age <= maxAge,
			"max_session_age_seconds", fmt.Sprintf("must be 0 (the global %d) or between %d and %d",
				int64(maxAge/time.Second), int64(minOrgSessionAge/time.Second), int64(maxAge/time.Second)))
		idle, maxIdle := time.Duration(req.IdleTimeoutSeconds)*time.Second, x.sessions.IdleTimeout()
		v.Require(req.IdleTimeoutSeconds == 0 || req.IdleTimeoutSeconds > 0 && idle >= minOrgIdleTimeout && idle <= maxIdle,
			"idle_session_timeout_seconds", fmt.Sprintf("must be 0 (the global %d) or between %d and %d",
				int64(maxIdle/time.Second), int64(minOrgIdleTimeout/time.Second), int64(maxIdle/time.Second)))
	}); err != nil {
		return err
	}
	m, ctx := orgMember(r), r.Context()
	if m.Role != authz.RoleOwner {
		return web.Forbidden().WithCause(errors.New("the policy is owner-only"))
	}
	if p, _ := session.FromContext(ctx); req.RequireMFA && p.Level < 2 {
		return authz.ErrMFARequired // the owner proves a second factor first, so the policy cannot lock them out
	}
	next := store.OrgPolicy{OrgID: m.OrgID, RequireSSO: req.RequireSSO, RequireMFA: req.RequireMFA,
		MaxSessionAge: time.Duration(req.MaxSessionAgeSeconds) * time.Second,
		IdleTimeout:   time.Duration(req.IdleTimeoutSeconds) * time.Second, UpdatedBy: m.UserID, UpdatedAt: x.d.Now()}
	err := x.d.Store.Tx(ctx, func(tx store.Store) error {
		actor, err := orgActor(r, tx)
		if err != nil {
			return err
		}
		if actor.Role != authz.RoleOwner {
			return web.Forbidden()
		}
		if next.RequireSSO {
			if err := ssoReady(ctx, tx, m.OrgID); err != nil {
				return err
			}
		}
		prev, err := tx.OrgPolicy(ctx, m.OrgID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.PutOrgPolicy(ctx, next); err != nil {
			return err
		}
		ended, err := x.endUnmetSessions(ctx, tx, prev, next)
		if err != nil {
			return err
		}
		return x.record(r, tx, audit.Event{Actor: m.UserID, OrgID: m.OrgID, Action: "org.policy.update", Target: "org:" + m.OrgID,
			Metadata: map[string]any{"from": toPolicyJSON(prev), "to": toPolicyJSON(next), "sessions_ended": ended}})
	})
	if err != nil {
		return orgStoreError(err)
	}
	return web.WriteJSON(w, http.StatusOK, toPolicyJSON(next))
}

// ssoReady refuses to require SSO of an organization that has no SSO
// configuration (OIDC or SAML) or no verified domain: nobody could sign in.
func ssoReady(ctx context.Context, tx store.Store, orgID string) error {
	notReady := web.Conflict("sso_not_ready", "Configure single sign-on and verify a domain before requiring it.")
	_, oidcErr := tx.SSOConfig(ctx, orgID)
	_, samlErr := tx.SAMLConfig(ctx, orgID)
	switch {
	case oidcErr != nil && !errors.Is(oidcErr, store.ErrNotFound):
		return oidcErr
	case samlErr != nil && !errors.Is(samlErr, store.ErrNotFound):
		return samlErr
	case oidcErr != nil && samlErr != nil:
		return notReady
	}
	domains, err := tx.SSODomains(ctx, orgID)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(domains, func(d store.SSODomain) bool { return d.Status == store.DomainVerified }) {
		return notReady
	}
	return nil
}

// endUnmetSessions ends the sessions a requirement turned on (in next, not
// in prev) no longer admits, and returns how many.
func (x *ext) endUnmetSessions(ctx context.Context, tx store.Store, prev, next store.OrgPolicy) (int, error) {
	mfaOn, ssoOn := next.RequireMFA && !prev.RequireMFA, next.RequireSSO && !prev.RequireSSO
	if !mfaOn && !ssoOn {
		return 0, nil
	}
	domains, err := tx.SSODomains(ctx, next.OrgID)
	if err != nil {
		return 0, err
	}
	now, ended := x.d.Now(), 0
	for after := ""; ; {
		members, err := tx.Members(ctx, next.OrgID, after, 200)
		if err != nil {
			return ended, err
		}
		for _, mem := range members {
			n, err := x.endMemberSessions(ctx, tx, mem, domains, mfaOn, ssoOn, now)
			if err != nil {
				return ended, err
			}
			ended += n
		}
		if len(members) < 200 {
			return ended, nil
		}
		after = members[len(members)-1].UserID
	}
}

// endMemberSessions ends mem's sessions that a new requirement refuses.
func (x *ext) endMemberSessions(ctx context.Context, tx store.Store, mem store.Member, domains []store.SSODomain,
	mfaOn, ssoOn bool, now time.Time) (int, error) {
	ssoApplies := false
	if ssoOn && mem.Role != authz.RoleOwner {
		u, err := tx.User(ctx, mem.UserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
		ssoApplies = onVerifiedDomain(u.Email, domains)
	}
	if !mfaOn && !ssoApplies {
		return 0, nil
	}
	sessions, err := tx.UserSessions(ctx, mem.UserID, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, s := range sessions {
		if mfaOn && s.AuthLevel < 2 || ssoApplies && s.SSOOrgID != mem.OrgID {
			if err := tx.RevokeSession(ctx, s.ID, now, revokeReasonPolicy); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// onVerifiedDomain reports whether email is on one of the verified domains.
func onVerifiedDomain(email string, domains []store.SSODomain) bool {
	d, err := dnsproof.EmailDomain(email)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(domains, func(v store.SSODomain) bool {
		return v.Status == store.DomainVerified && strings.EqualFold(v.Domain, d)
	})
}
