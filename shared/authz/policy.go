package authz

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/dnsproof"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Answers of an organization's sign-in policy (AUTHZ-5).
var (
	// ErrMFARequired: the organization's routes need a session that passed
	// a second factor; enroll one, then sign in again or step up.
	ErrMFARequired = &web.Error{Status: http.StatusForbidden, Code: "mfa_required",
		Message: "This organization requires a second factor: enroll one, then sign in with it."}
	// ErrSessionTooOld: the session is older than the organization allows.
	ErrSessionTooOld = &web.Error{Status: http.StatusUnauthorized, Code: "session_too_old",
		Message: "This organization requires you to sign in again."}
	// ErrSessionIdle: the session was left unused longer than the
	// organization allows.
	ErrSessionIdle = &web.Error{Status: http.StatusUnauthorized, Code: "session_idle",
		Message: "This organization ends sessions left unused: sign in again."}
)

// SSORequiredError says which organization's single sign-on a user must
// use. Its web form is a 403 sso_required naming the organization.
func SSORequiredError(orgID string) *web.Error {
	return &web.Error{Status: http.StatusForbidden, Code: "sso_required",
		Message: "Your organization requires signing in through its single sign-on.", Fields: map[string]string{"org": orgID}}
}

// SSORequired returns the organization that requires its single sign-on
// of the holder of email, or "" when none does: the address is on a
// domain an organization verified, that organization requires SSO, and
// userID (the account, "" when there is none) is not its owner. The owner
// keeps every way of signing in, so an identity provider outage or
// takeover cannot lock the organization out (break-glass). A store
// failure is an error: the caller refuses the sign-in.
func SSORequired(ctx context.Context, s store.Store, email, userID string) (string, error) {
	domain, err := dnsproof.EmailDomain(email)
	if err != nil {
		return "", nil // not an address a domain can be verified for
	}
	d, err := s.VerifiedSSODomain(ctx, domain)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("sso policy: %w", err)
	}
	p, err := s.OrgPolicy(ctx, d.OrgID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !p.RequireSSO {
		return "", nil
	} else if err != nil {
		return "", fmt.Errorf("sso policy: %w", err)
	}
	if userID != "" {
		m, err := s.Member(ctx, d.OrgID, userID)
		if err == nil && m.Role == RoleOwner {
			return "", nil
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return "", fmt.Errorf("sso policy: %w", err)
		}
	}
	return d.OrgID, nil
}

// admit applies orgID's policy to the signed-in principal p: a second
// factor when the organization requires MFA, a session no older than its
// maximum age and refreshed within its idle timeout.
func (a *Authorizer) admit(ctx context.Context, p session.Principal, orgID string, now time.Time) error {
	pol, err := a.store.OrgPolicy(ctx, orgID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return web.Unavailable(fmt.Errorf("load policy: %w", err))
	}
	if pol.RequireMFA && p.Level < 2 {
		return ErrMFARequired
	}
	if pol.MaxSessionAge > 0 && (p.Started.IsZero() || now.Sub(p.Started) > pol.MaxSessionAge) {
		return ErrSessionTooOld
	}
	if pol.IdleTimeout > 0 && idleFor(p.LastSeen, p.Started, p.LongestIdle, now) > pol.IdleTimeout {
		// The principal may come from the session cache, which a refresh
		// elsewhere does not update: read the row before refusing.
		s, err := a.store.SessionCheck(ctx, p.SessionID)
		if err != nil {
			return web.Unavailable(fmt.Errorf("read session: %w", err))
		}
		if idleFor(s.LastSeenAt, s.CreatedAt, s.LongestIdle, now) > pol.IdleTimeout {
			return ErrSessionIdle
		}
	}
	return nil
}

// idleFor is the longest a session has been left unused at now: its
// longest recorded gap between refreshes, or the time since its last
// refresh (its start when never refreshed), whichever is longer.
func idleFor(lastSeen, started time.Time, longest time.Duration, now time.Time) time.Duration {
	if lastSeen.Before(started) {
		lastSeen = started
	}
	return max(now.Sub(lastSeen), longest)
}
