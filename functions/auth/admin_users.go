package auth

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/timetext"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Revoke reasons of the sessions the admin API ends.
const (
	revokeAdminDisabled = "admin_disabled"
	revokeAdminRevoked  = "admin_revoked"
)

// adminUserJSON is a user as operators see it: no password hash, no
// factor secrets, no tokens.
type adminUserJSON struct {
	ID              string     `json:"id"`
	Email           string     `json:"email"`
	Name            string     `json:"name"`
	EmailVerifiedAt *time.Time `json:"email_verified_at"`
	DisabledAt      *time.Time `json:"disabled_at"`
	CreatedAt       time.Time  `json:"created_at"`
	UpdatedAt       time.Time  `json:"updated_at"`
	HasPassword     bool       `json:"has_password"`
}

// adminUserDetailJSON adds what GET /admin/users/{id} reads besides the row.
type adminUserDetailJSON struct {
	adminUserJSON
	MFA            adminMFAJSON        `json:"mfa"`
	ActiveSessions int                 `json:"active_sessions"`
	Identities     []adminIdentityJSON `json:"identities"`
	Orgs           []adminUserOrgJSON  `json:"orgs"`
}

type adminMFAJSON struct {
	TOTP                bool `json:"totp"`
	WebAuthnCredentials int  `json:"webauthn_credentials"`
	RecoveryCodesLeft   int  `json:"recovery_codes_left"`
}

type adminIdentityJSON struct {
	ID        string    `json:"id"`
	Provider  string    `json:"provider"`
	CreatedAt time.Time `json:"created_at"`
}

type adminUserOrgJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Role string `json:"role"`
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

func adminUser(u store.User) adminUserJSON {
	return adminUserJSON{ID: u.ID, Email: u.Email, Name: u.Name, EmailVerifiedAt: optionalTime(u.EmailVerifiedAt),
		DisabledAt: optionalTime(u.DisabledAt), CreatedAt: u.CreatedAt.UTC(), UpdatedAt: u.UpdatedAt.UTC(),
		HasPassword: u.PasswordHash != ""}
}

// handleAdminUsers serves GET /admin/users: ?id= reads one user, ?email=
// searches by e-mail prefix (lower-cased, as addresses are stored), in
// pages of ?limit= after ?after= (the last e-mail of the previous page).
func (s *Server) handleAdminUsers(w http.ResponseWriter, r *http.Request, c adminCall) error {
	ctx, q := r.Context(), r.URL.Query()
	after, limit, err := pageQuery(r)
	if err != nil {
		return err
	}
	v := web.NewValidator()
	prefix := normalizeEmail(q.Get("email"))
	v.Length("email", prefix, 0, 320)
	v.Length("id", q.Get("id"), 0, 128)
	if err := v.Err(); err != nil {
		return err
	}
	var users []store.User
	if id := q.Get("id"); id != "" {
		u, err := s.d.Store.User(ctx, id)
		if err == nil {
			users = append(users, u)
		} else if !errors.Is(err, store.ErrNotFound) {
			return web.Unavailable(err)
		}
	} else if users, err = s.d.Store.SearchUsers(ctx, prefix, after, limit); err != nil {
		return web.Unavailable(err)
	}
	if err := s.recordAdmin(ctx, c, "admin.user.search", "", map[string]any{"id": q.Get("id"),
		"email_prefix": prefix, "results": len(users)}); err != nil {
		return err
	}
	out := make([]adminUserJSON, 0, len(users))
	for _, u := range users {
		out = append(out, adminUser(u))
	}
	resp := map[string]any{"users": out}
	if len(users) == limit {
		resp["next_after"] = users[len(users)-1].Email
	}
	return web.WriteJSON(w, http.StatusOK, resp)
}

// adminTarget returns the user of the path's {id}: 404 if there is none.
func (s *Server) adminTarget(ctx context.Context, r *http.Request) (store.User, error) {
	id := r.PathValue("id")
	if err := validPathID(id); err != nil {
		return store.User{}, err
	}
	u, err := s.d.Store.User(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return u, web.NotFound().WithCause(err)
	}
	if err != nil {
		return u, web.Unavailable(err)
	}
	return u, nil
}

// handleAdminUser serves GET /admin/users/{id}: the user, its factors
// (counts only), active sessions, linked identities and organizations.
func (s *Server) handleAdminUser(w http.ResponseWriter, r *http.Request, c adminCall) error {
	ctx := r.Context()
	u, err := s.adminTarget(ctx, r)
	if err != nil {
		return err
	}
	d, err := s.adminUserDetail(ctx, u)
	if err != nil {
		return web.Unavailable(err)
	}
	if err := s.recordAdmin(ctx, c, "admin.user.read", "user:"+u.ID, nil); err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, d)
}

func (s *Server) adminUserDetail(ctx context.Context, u store.User) (adminUserDetailJSON, error) {
	d := adminUserDetailJSON{adminUserJSON: adminUser(u), Identities: []adminIdentityJSON{}, Orgs: []adminUserOrgJSON{}}
	st := s.d.Store
	totp, err := st.TOTPSecret(ctx, u.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return d, err
	}
	d.MFA.TOTP = err == nil && !totp.ConfirmedAt.IsZero()
	creds, err := st.WebAuthnCredentials(ctx, u.ID)
	if err != nil {
		return d, err
	}
	d.MFA.WebAuthnCredentials = len(creds)
	if d.MFA.RecoveryCodesLeft, err = st.RecoveryCodesLeft(ctx, u.ID); err != nil {
		return d, err
	}
	sessions, err := st.UserSessions(ctx, u.ID, s.d.Now())
	if err != nil {
		return d, err
	}
	d.ActiveSessions = len(sessions)
	ids, err := st.UserIdentities(ctx, u.ID)
	if err != nil {
		return d, err
	}
	for _, id := range ids {
		d.Identities = append(d.Identities, adminIdentityJSON{ID: id.ID, Provider: id.Provider, CreatedAt: id.CreatedAt.UTC()})
	}
	orgs, err := st.UserOrgs(ctx, u.ID)
	if err != nil {
		return d, err
	}
	for _, o := range orgs {
		d.Orgs = append(d.Orgs, adminUserOrgJSON{ID: o.ID, Name: o.Name, Role: o.Role})
	}
	return d, nil
}

// handleAdminDisable serves POST /admin/users/{id}/disable: in one
// transaction the user is disabled, every session ends (announced to every
// session cache) and the change is audited. A disabled user cannot sign in
// by any method ([store.ErrDisabled] at session creation).
func (s *Server) handleAdminDisable(w http.ResponseWriter, r *http.Request, c adminCall) error {
	return s.setDisabled(w, r, c, true)
}

// handleAdminEnable serves POST /admin/users/{id}/enable.
func (s *Server) handleAdminEnable(w http.ResponseWriter, r *http.Request, c adminCall) error {
	return s.setDisabled(w, r, c, false)
}

func (s *Server) setDisabled(w http.ResponseWriter, r *http.Request, c adminCall, disable bool) error {
	ctx := r.Context()
	target, err := s.adminTarget(ctx, r)
	if err != nil {
		return err
	}
	var u store.User
	err = s.d.Store.Tx(ctx, func(tx store.Store) error {
		at, action := s.d.Now(), "admin.user.disable"
		if !disable {
			at, action = time.Time{}, "admin.user.enable"
		}
		var err error
		if u, err = tx.SetUserDisabled(ctx, target.ID, at); err != nil {
			return err
		}
		if disable {
			if err := s.sessions.RevokeOtherSessions(ctx, tx, u.ID, "", revokeAdminDisabled); err != nil {
				return err
			}
		}
		if _, err := s.d.Audit.RecordTx(ctx, tx, c.event(action, "user:"+u.ID, nil)); err != nil {
			return err
		}
		return s.adminEvent(ctx, tx, action, u.ID)
	})
	if errors.Is(err, store.ErrNotFound) {
		return web.NotFound().WithCause(err)
	}
	if err := keepWebError(err); err != nil {
		return err
	}
	return web.WriteJSON(w, http.StatusOK, adminUser(u))
}

// handleAdminRevokeSessions serves POST /admin/users/{id}/sessions/revoke:
// every session of the user ends, through the store's announcing revoke.
func (s *Server) handleAdminRevokeSessions(w http.ResponseWriter, r *http.Request, c adminCall) error {
	ctx := r.Context()
	u, err := s.adminTarget(ctx, r)
	if err != nil {
		return err
	}
	err = s.d.Store.Tx(ctx, func(tx store.Store) error {
		if err := s.sessions.RevokeOtherSessions(ctx, tx, u.ID, "", revokeAdminRevoked); err != nil {
			return err
		}
		if _, err := s.d.Audit.RecordTx(ctx, tx, c.event("admin.user.sessions_revoke", "user:"+u.ID, nil)); err != nil {
			return err
		}
		return s.adminEvent(ctx, tx, "admin.user.sessions_revoke", u.ID)
	})
	if err := keepWebError(err); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleAdminResetMFA serves POST /admin/users/{id}/mfa/reset: the user's
// TOTP secret, passkeys and recovery codes are removed and every session
// ends in one transaction (AUTH-14); the user is then told.
func (s *Server) handleAdminResetMFA(w http.ResponseWriter, r *http.Request, c adminCall) error {
	ctx := r.Context()
	u, err := s.adminTarget(ctx, r)
	if err != nil {
		return err
	}
	err = s.sessions.RemoveSignInMethod(ctx, u.ID, "", session.ReasonMFAReset, func(tx store.Store) error {
		if err := tx.DeleteUserMFA(ctx, u.ID); err != nil {
			return err
		}
		if _, err := s.d.Audit.RecordTx(ctx, tx, c.event("admin.user.mfa_reset", "user:"+u.ID, nil)); err != nil {
			return err
		}
		return s.adminEvent(ctx, tx, "admin.user.mfa_reset", u.ID)
	})
	if err := keepWebError(err); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleAdminResendVerification serves POST /admin/users/{id}/verification:
// a user whose address was never proven is sent a fresh single-use link
// (the magic link's, which proves the address when used; it supersedes
// older ones). 409 already_verified for a proven address.
func (s *Server) handleAdminResendVerification(w http.ResponseWriter, r *http.Request, c adminCall) error {
	ctx := r.Context()
	u, err := s.adminTarget(ctx, r)
	if err != nil {
		return err
	}
	if !u.EmailVerifiedAt.IsZero() {
		return web.Conflict("already_verified", "The user's address is already verified.")
	}
	if !u.DisabledAt.IsZero() {
		return web.Conflict("user_disabled", "The user is disabled; enable it first.")
	}
	if err := s.recordAdmin(ctx, c, "admin.user.verification_sent", "user:"+u.ID, nil); err != nil {
		return err
	}
	err = s.mailAccountLink(ctx, u.Email, purposeMagicLink, "/magic-link", s.cfg.MagicLinkTTL, notify.Message{
		Kind: notify.KindEmailVerification, Subject: "Confirm your address",
		Text: "Open the link to confirm your address and sign in. It works once, for " +
			timetext.Duration(s.cfg.MagicLinkTTL) + ". If you did not ask for it, ignore this message."})
	if err != nil {
		return web.Unavailable(err)
	}
	w.WriteHeader(http.StatusAccepted)
	return nil
}

// handleAdminDelete serves DELETE /admin/users/{id}: the account is
// deleted exactly as DELETE /me deletes it (409 sole_owner while the user
// solely owns an organization: transfer it first).
func (s *Server) handleAdminDelete(w http.ResponseWriter, r *http.Request, c adminCall) error {
	ctx := r.Context()
	u, err := s.adminTarget(ctx, r)
	if err != nil {
		return err
	}
	e := c.event("user.delete", u.ID, nil)
	if _, err := s.deleteAccount(ctx, u.ID, e); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// adminEvent emits the event of an operator's change through tx, the
// change's transaction, so it commits exactly with the change
// (docs/events.md). The session.revoked of a disable or a revoke is
// emitted by the session manager as it ends the sessions.
func (s *Server) adminEvent(ctx context.Context, tx store.Store, action, userID string) error {
	switch action {
	case "admin.user.disable":
		return s.d.Events.Emit(ctx, tx, events.User(events.UserDisabled, events.UserData{UserID: userID, By: "operator"}))
	case "admin.user.enable":
		return s.d.Events.Emit(ctx, tx, events.User(events.UserEnabled, events.UserData{UserID: userID, By: "operator"}))
	case "admin.user.mfa_reset":
		return s.d.Events.Emit(ctx, tx, events.MFA(userID, "reset"))
	}
	return nil
}
