package scim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"unicode/utf8"

	"github.com/elimity-com/scim"
	scimerrors "github.com/elimity-com/scim/errors"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/dnsproof"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// maxName bounds a provisioned user's name, as sign-up does.
const maxName = 100

// RevokeReason is the reason recorded on the sessions a deprovisioning ends.
const RevokeReason = "scim_deprovisioned"

func invalid(detail string) error {
	return scimerrors.ScimError{ScimType: scimerrors.ScimTypeInvalidValue, Status: http.StatusBadRequest, Detail: detail}
}

// checkProfile refuses an address that is not on a domain the caller's
// organization has verified (AUTH-13): an identity provider provisions its
// own organization's people only.
func (s *Service) checkProfile(r *http.Request, p profile) error {
	if !web.ValidEmail(p.email) {
		return invalid("userName must be an e-mail address.")
	}
	if utf8.RuneCountInString(p.name) > maxName || len(p.externalID) > 256 {
		return invalid("The name is longer than 100 characters or externalId longer than 256.")
	}
	domain, err := dnsproof.EmailDomain(p.email)
	if err != nil {
		return invalid("userName must be an e-mail address.")
	}
	d, err := s.d.Store.VerifiedSSODomain(r.Context(), domain)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && d.OrgID != callerOf(r.Context()).orgID:
		return invalid("userName must be an address on one of the organization's verified domains.")
	case err != nil:
		return s.unavailable(r, err)
	}
	return nil
}

// provision creates the account when the address has none and the
// membership when active, in one transaction. A user already provisioned
// and active is a conflict; one deactivated before is provisioned again.
func (s *Service) provision(r *http.Request, p profile) (store.User, store.SCIMUser, error) {
	ctx, c, now := r.Context(), callerOf(r.Context()), s.d.Now()
	var u store.User
	var rec store.SCIMUser
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		var err error
		if u, err = s.account(r, tx, p); err != nil {
			return err
		}
		old, err := tx.SCIMUser(ctx, c.orgID, u.ID)
		switch {
		case err == nil && old.Active:
			return scimerrors.ScimError{ScimType: scimerrors.ScimTypeUniqueness, Status: http.StatusConflict,
				Detail: "This user is already provisioned."}
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		rec = store.SCIMUser{OrgID: c.orgID, UserID: u.ID, ExternalID: p.externalID, Active: p.active, CreatedAt: now, UpdatedAt: now}
		if err := tx.PutSCIMUser(ctx, rec); err != nil {
			return err
		}
		if p.active {
			if err := s.addMember(r, tx, u.ID); err != nil {
				return err
			}
		}
		return s.record(r, tx, "scim.user.provision", u.ID, map[string]any{"active": p.active})
	})
	return u, rec, s.scimError(r, err)
}

// account returns the account of p's address, creating it when there is
// none: no password, address unverified.
func (s *Service) account(r *http.Request, tx store.Store, p profile) (store.User, error) {
	u, err := tx.UserByEmail(r.Context(), p.email)
	if !errors.Is(err, store.ErrNotFound) {
		return u, err
	}
	id, err := newUserID(s.d.Rand)
	if err != nil {
		return u, err
	}
	now := s.d.Now()
	u = store.User{ID: id, Email: p.email, Name: p.name, CreatedAt: now, UpdatedAt: now}
	if err := tx.CreateUser(r.Context(), u); err != nil {
		return u, fmt.Errorf("create provisioned user: %w", err)
	}
	if err := s.emit(r, tx, events.User(events.UserCreated, events.UserData{UserID: u.ID, Email: u.Email, By: "scim"})); err != nil {
		return u, err
	}
	return u, s.record(r, tx, "scim.user.create", u.ID, nil)
}

// addMember makes userID a member with the role the organization's SSO
// provisions (viewer when it names none). An existing membership is kept.
func (s *Service) addMember(r *http.Request, tx store.Store, userID string) error {
	ctx, org := r.Context(), callerOf(r.Context()).orgID
	if _, err := tx.Member(ctx, org, userID); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	role := authz.RoleViewer
	if c, err := tx.SSOConfig(ctx, org); err == nil && c.ProvisionRole != "" {
		role = c.ProvisionRole
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := tx.AddMember(ctx, store.Member{OrgID: org, UserID: userID, Role: role, CreatedAt: s.d.Now()}); err != nil {
		return err
	}
	if err := s.emit(r, tx, events.Member(events.OrgMemberAdded, events.MemberData{OrgID: org, UserID: userID, Role: role, By: "scim"})); err != nil {
		return err
	}
	return s.record(r, tx, "org.member.add", userID, map[string]any{"role": role, "via": "scim"})
}

// provisioned returns a user the caller's organization provisioned, or a
// SCIM 404: another organization's users do not exist here.
func (s *Service) provisioned(r *http.Request, id string) (store.User, store.SCIMUser, error) {
	ctx := r.Context()
	rec, err := s.d.Store.SCIMUser(ctx, callerOf(ctx).orgID, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, rec, scimerrors.ScimErrorResourceNotFound(id)
	} else if err != nil {
		return store.User{}, rec, s.unavailable(r, err)
	}
	u, err := s.d.Store.User(ctx, id)
	if err != nil {
		return u, rec, s.unavailable(r, err)
	}
	return u, rec, nil
}

// update stores rec with active and applies the change of state:
// activation adds the membership, deactivation deprovisions.
func (s *Service) update(r *http.Request, u store.User, rec store.SCIMUser, active bool) (scim.Resource, error) {
	was := rec.Active
	rec.Active, rec.UpdatedAt = active, s.d.Now()
	if was && !active {
		if err := s.deprovision(r, rec, false); err != nil {
			return scim.Resource{}, err
		}
		return s.userResource(r, u, rec)
	}
	err := s.d.Store.Tx(r.Context(), func(tx store.Store) error {
		if err := tx.PutSCIMUser(r.Context(), rec); err != nil {
			return err
		}
		if !was && active {
			if err := s.addMember(r, tx, u.ID); err != nil {
				return err
			}
			return s.record(r, tx, "scim.user.activate", u.ID, nil)
		}
		return nil
	})
	if err := s.scimError(r, err); err != nil {
		return scim.Resource{}, err
	}
	return s.userResource(r, u, rec)
}

// deprovision removes the user's membership of the caller's organization
// and ends every session of the user that the organization's single
// sign-on (OIDC or SAML) started, in one transaction; the session caches
// of every instance hear of it at commit (AUTHZ-5). The user's other
// sessions (password, passkey, magic link, Google, GitHub, another
// organization's SSO) stay: without the membership they no longer reach
// this organization's routes. The record is kept inactive, so single
// sign-on does not add the member back, or deleted (forget). Other
// organizations' memberships are untouched. The owner cannot be
// deprovisioned: ownership moves by transfer only.
func (s *Service) deprovision(r *http.Request, rec store.SCIMUser, forget bool) error {
	ctx, now := r.Context(), s.d.Now()
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		m, err := tx.LockMember(ctx, rec.OrgID, rec.UserID)
		switch {
		case err == nil && m.Role == store.RoleOwner:
			return scimerrors.ScimError{ScimType: scimerrors.ScimTypeMutability, Status: http.StatusBadRequest,
				Detail: "The organization's owner cannot be deprovisioned; transfer ownership first."}
		case err == nil:
			if _, err := tx.RemoveMember(ctx, rec.OrgID, rec.UserID); err != nil {
				return err
			}
			if err := s.emit(r, tx, events.Member(events.OrgMemberRemoved, events.MemberData{OrgID: rec.OrgID, UserID: rec.UserID, Role: m.Role, By: "scim"})); err != nil {
				return err
			}
		case !errors.Is(err, store.ErrNotFound):
			return err
		}
		if forget {
			err = tx.DeleteSCIMUser(ctx, rec.OrgID, rec.UserID)
		} else {
			rec.Active, rec.UpdatedAt = false, now
			err = tx.PutSCIMUser(ctx, rec)
		}
		if err != nil {
			return err
		}
		n, err := tx.RevokeSSOSessions(ctx, rec.UserID, rec.OrgID, now, RevokeReason)
		if err != nil {
			return err
		}
		if n > 0 {
			if err := s.emit(r, tx, events.SessionsRevoked(events.SessionRevokedData{UserID: rec.UserID, Reason: RevokeReason})); err != nil {
				return err
			}
		}
		return s.record(r, tx, "scim.user.deprovision", rec.UserID, map[string]any{"sessions_ended": n, "deleted": forget})
	})
	return s.scimError(r, err)
}

// record appends an audit event of the caller's organization in tx.
func (s *Service) record(r *http.Request, tx store.AuditLog, action, userID string, meta map[string]any) error {
	c := callerOf(r.Context())
	e := audit.Event{Actor: c.actor, OrgID: c.orgID, Action: action, Target: "user:" + userID, Metadata: meta}
	if p := web.Network(web.ClientIP(r, s.d.Config.TrustedProxyHops)); p.IsValid() {
		e.Network = p.String()
	}
	_, err := s.d.Audit.RecordTx(r.Context(), tx, e)
	return err
}

// scimError passes SCIM errors through and turns anything else into a
// 503: the change was rolled back, never half-done.
func (s *Service) scimError(r *http.Request, err error) error {
	var se scimerrors.ScimError
	switch {
	case err == nil || errors.As(err, &se):
		return err
	case errors.Is(err, store.ErrOwner):
		return scimerrors.ScimError{ScimType: scimerrors.ScimTypeMutability, Status: http.StatusBadRequest,
			Detail: "The organization's owner cannot be changed through SCIM."}
	}
	return s.unavailable(r, err)
}

// unavailable logs err and answers 503.
func (s *Service) unavailable(r *http.Request, err error) error {
	s.d.Logger.ErrorContext(r.Context(), "scim: store unavailable", "err", err)
	return scimerrors.ScimError{Status: http.StatusServiceUnavailable, Detail: "Try again later."}
}

// newUserID returns an opaque user id in the auth function's format: "u_"
// and 16 random bytes.
func newUserID(rand io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("user id: %w", err)
	}
	return "u_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}
