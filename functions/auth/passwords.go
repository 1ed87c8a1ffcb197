package auth

import (
	"context"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Limits of the password-reset request.
var (
	limitResetNetwork = ratelimit.Limit{Name: "reset-network", Burst: 20, Period: 15 * time.Minute}
	limitResetAccount = ratelimit.Limit{Name: "reset-account", Burst: 3, Period: 15 * time.Minute}
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
		Text: "Open the link to choose a new password. It works once, for " + s.cfg.ResetTTL.String() +
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
	err := s.replacePassword(w, r, req.Password, "auth.password_reset", "",
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
// setPassword). Once that commits it notifies the user and answers 204.
// An error that is not a *web.Error is a 503.
func (s *Server) replacePassword(w http.ResponseWriter, r *http.Request, pw, action, keep string,
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
		return s.setPassword(ctx, tx, r, u, pw, hash, action, keep)
	})
	if err := keepWebError(err); err != nil {
		return err
	}
	s.notifyPasswordChanged(ctx, u)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// setPassword checks pw against the user's own words, stores hash, revokes
// the user's sessions but keep (none when keep is ""), clears the lockout
// and audits action, all through tx.
func (s *Server) setPassword(ctx context.Context, tx store.Store, r *http.Request, u store.User, pw, hash, action, keep string) error {
	v := web.NewValidator()
	s.checkPassword(v, pw, u.Email, u.Name)
	if err := v.Err(); err != nil {
		return err
	}
	now := s.d.Now()
	if err := tx.SetPasswordHash(ctx, u.ID, hash, now); err != nil {
		return err
	}
	if err := s.revokeOthers(ctx, tx, u.ID, keep); err != nil {
		return err
	}
	if err := tx.ClearLockout(ctx, session.LockoutKey(u.Email)); err != nil {
		return err
	}
	_, err := s.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: u.ID, Action: action, Target: u.ID, Network: s.network(r)})
	return err
}

// revokeOthers revokes every session of the user but keep.
func (s *Server) revokeOthers(ctx context.Context, tx store.Store, userID, keep string) error {
	if keep == "" {
		return s.sessions.RevokeAllForUser(ctx, tx, userID)
	}
	list, err := tx.UserSessions(ctx, userID, s.d.Now())
	if err != nil {
		return err
	}
	for _, sess := range list {
		if sess.ID == keep {
			continue
		}
		if err := tx.RevokeSession(ctx, sess.ID, s.d.Now(), "password_change"); err != nil {
			return err
		}
	}
	return nil
}

func (s *Server) notifyPasswordChanged(ctx context.Context, u store.User) {
	err := s.d.Notifier.Notify(ctx, notify.Message{To: u.Email, Kind: notify.KindAlert,
		Subject: "Your password was changed",
		Text: "The password of your account was just changed and your other sessions were signed out. " +
			"If this was not you, reset your password now."})
	if err != nil {
		s.d.Logger.ErrorContext(ctx, "password change notice not sent", "user", u.ID, "error", err.Error())
	}
}

type passwordChangeRequest struct {
	Password string `json:"password"`
}

// handlePasswordChange serves POST /password/change (step-up required):
// it sets the new password and signs out every other session.
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
	if err := v.Err(); err != nil {
		return err
	}
	p, _ := session.FromContext(ctx)
	return s.replacePassword(w, r, req.Password, "auth.password_change", p.SessionID,
		func(ctx context.Context, tx store.Store) (store.User, error) {
			return tx.User(ctx, p.UserID)
		})
}
