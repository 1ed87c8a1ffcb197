package auth

import (
	"context"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/timetext"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Limits of the password-reset request.
var (
	limitResetNetwork = ratelimit.ResetNetwork
	limitResetAccount = ratelimit.ResetAccount
)

// handleResetRequest serves POST /password/reset: 202 with the same body
// for any address; an account's address is sent a single-use reset link.
func (s *Server) handleResetRequest(w http.ResponseWriter, r *http.Request) error {
	return s.acceptEmailRequest(w, r, "password reset request", limitResetNetwork, limitResetAccount, s.sendResetLink)
}

// sendResetLink sends the account with address email a password-reset link.
func (s *Server) sendResetLink(ctx context.Context, email string) error {
	return s.mailAccountLink(ctx, email, purposeReset, "/reset-password", s.cfg.ResetTTL, notify.Message{
		Kind: notify.KindPasswordReset, Subject: "Reset your password",
		Text: "Open the link to choose a new password. It works once, for " + timetext.Duration(s.cfg.ResetTTL) +
			". If you did not ask for it, ignore this message: your password stays as it is."})
}

type resetConfirmRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
}

// handleResetConfirm serves POST /password/reset/confirm. In one
// transaction it spends the token, sets the new password, revokes every
// session of the user and clears the account's lockout; then it notifies
// the user. It answers 204; the user signs in with the new password.
func (s *Server) handleResetConfirm(w http.ResponseWriter, r *http.Request) error {
	var req resetConfirmRequest
	if err := s.decodeLinkRequest(r, &req, &req.Token, limitConfirmNetwork, func(v *web.Validator) {
		s.checkPassword(v, req.Password)
	}); err != nil {
		return err
	}
	var proven store.User
	var unlinked []store.Identity
	err := s.replacePassword(w, r, req.Password, "auth.password_reset", session.ReasonPasswordReset, "",
		func(ctx context.Context, tx store.Store) (store.User, error) {
			t, err := consumeLinkToken(ctx, tx, purposeReset, req.Token, s.d.Now())
			if err != nil {
				return store.User{}, err
			}
			u, err := tx.User(ctx, t.Subject)
			if err != nil {
				return u, errInvalidLink.WithCause(err)
			}
			proven = u
			unlinked, err = s.proveAddress(ctx, tx, r, u)
			return u, err
		})
	if err == nil {
		s.notifyUnlinked(r.Context(), proven.Email, unlinked,
			"They were linked before you proved this address, so the password reset removed them.")
	}
	return err
}

// replacePassword hashes pw and, in one transaction, finds the user with
// find and sets the password, revoking the user's sessions but keep (see
// setPassword). Once that commits it notifies the user (AUTH-14) and
// answers 204. An error that is not a *web.Error is a 503.
func (s *Server) replacePassword(w http.ResponseWriter, r *http.Request, pw, action, reason, keep string,
	find func(ctx context.Context, tx store.Store) (store.User, error)) error {
	ctx := r.Context()
	hash, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		return web.Unavailable(err)
	}
	var u store.User
	err = s.d.Store.Tx(ctx, func(tx store.Store) error {
		var err error
		if u, err = find(ctx, tx); err != nil {
			return err
		}
		return s.setPassword(ctx, tx, r, u, pw, hash, action, reason, keep)
	})
	if err := keepWebError(err); err != nil {
		return err
	}
	s.sessions.NotifySignInChange(ctx, u.ID, reason, true)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setPassword checks pw against the user's own words, stores hash, revokes
// the user's sessions but keep (all when keep is "") for reason, clears the
// lockout and audits action, all through tx.
func (s *Server) setPassword(ctx context.Context, tx store.Store, r *http.Request, u store.User, pw, hash, action, reason, keep string) error {
	v := web.NewValidator()
	s.checkPassword(v, pw, u.Email, u.Name)
	if err := v.Err(); err != nil {
		return err
	}
	now := s.d.Now()
	if err := tx.SetPasswordHash(ctx, u.ID, hash, now); err != nil {
		return err
	}
	if err := s.sessions.RevokeOtherSessions(ctx, tx, u.ID, keep, reason); err != nil {
		return err
	}
	if err := tx.ClearLockout(ctx, session.LockoutKey(u.Email)); err != nil {
		return err
	}
	_, err := s.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: u.ID, Action: action, Target: u.ID, Network: s.network(r)})
	return err
}

type passwordChangeRequest struct {
	Password        string `json:"password"`
	CurrentPassword string `json:"current_password"`
}

// handlePasswordChange serves POST /password/change (step-up required):
// an account that has a password must also give it as current_password,
// checked under the sign-in limits and lockout, so a session left open
// cannot replace the password on its own. It sets the new password and
// signs out every other session (AUTH-14).
func (s *Server) handlePasswordChange(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.sessions.RequireRecentAuth(ctx); err != nil {
		return err
	}
	var req passwordChangeRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	v := web.NewValidator()
	s.checkPassword(v, req.Password)
	v.Require(len(req.CurrentPassword) <= maxPasswordBytes, "current_password", "must be at most 1024 bytes")
	if err := v.Err(); err != nil {
		return err
	}
	p, _ := session.FromContext(ctx)
	u, err := s.d.Store.User(ctx, p.UserID)
	if err != nil {
		return web.Unavailable(err)
	}
	if err := s.checkCurrentPassword(r, u, req.CurrentPassword); err != nil {
		return err
	}
	return s.replacePassword(w, r, req.Password, "auth.password_change", session.ReasonPasswordChanged, p.SessionID,
		func(ctx context.Context, tx store.Store) (store.User, error) {
			return tx.User(ctx, p.UserID)
		})
}

// checkCurrentPassword verifies pw as u's current password, as a sign-in
// would (limits, lockout, audit on failure). An account without a password
// has nothing to give, and must give nothing.
func (s *Server) checkCurrentPassword(r *http.Request, u store.User, pw string) error {
	if u.PasswordHash == "" {
		if pw != "" {
			return web.Invalid(map[string]string{"current_password": "the account has no password"})
		}
		return nil
	}
	if pw == "" {
		return web.Invalid(map[string]string{"current_password": "is required"})
	}
	return s.stepUp(r, u, reauthRequest{Method: "password", Password: pw})
}
