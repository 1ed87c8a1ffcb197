package auth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/password"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/timetext"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Limits of the account routes.
var (
	limitRegisterNetwork = ratelimit.RegisterNetwork
	limitRegisterAccount = ratelimit.RegisterAccount
	limitConfirmNetwork  = ratelimit.LinkConfirmNetwork
)

// Field limits.
const (
	maxPasswordBytes = 1024 // a login may carry an old, long password; new ones obey the policy
	maxNameLen       = 100
	tokenLen         = 43 // base64url of 32 bytes
)

// handleRegister serves POST /register. Every well-formed request gets the
// same 202 body: a new address is sent a confirmation link, an existing
// one a notice that someone tried to sign up with it.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) error {
	return s.acceptEmailRequest(w, r, "register", limitRegisterNetwork, limitRegisterAccount, s.sendSignup)
}

// sendSignup sends the confirmation link, or the "someone tried" notice.
func (s *Server) sendSignup(ctx context.Context, email string) error {
	_, err := s.d.Store.UserByEmail(ctx, email)
	switch {
	case err == nil:
		return s.d.Notifier.Notify(ctx, notify.Message{To: email, Kind: notify.KindSignupAttempt,
			Subject: "Someone tried to sign up with your address",
			Text: "Someone tried to create an account with this address, which already has one. " +
				"If it was you, sign in instead or reset your password. Otherwise you can ignore this message."})
	case !errors.Is(err, store.ErrNotFound):
		return err
	}
	tok, err := s.newLinkToken(ctx, purposeSignup, email, "", s.cfg.SignupTTL)
	if err != nil {
		return err
	}
	return s.d.Notifier.Notify(ctx, notify.Message{To: email, Kind: notify.KindEmailVerification,
		Subject: "Confirm your new account", Links: []string{s.link("/signup/confirm", tok)},
		Text: "Open the link to confirm your address and choose a password. It is valid for " +
			timetext.Duration(s.cfg.SignupTTL) + "."})
}

type registerConfirmRequest struct {
	Token    string `json:"token"`
	Password string `json:"password"`
	Name     string `json:"name"`
}

// handleRegisterConfirm serves POST /register/confirm: it spends the
// confirmation token, creates the account with the chosen password and
// starts a session. Every check of the request (client mode and Origin,
// input, limit) runs before the token is spent (AUTH-15); the password's
// check against the address runs in the spending transaction.
func (s *Server) handleRegisterConfirm(w http.ResponseWriter, r *http.Request) error {
	if err := s.sessions.CheckClient(r); err != nil {
		return err
	}
	var req registerConfirmRequest
	if err := s.decodeLinkRequest(r, &req, &req.Token, limitConfirmNetwork, func(v *web.Validator) {
		v.Length("name", req.Name, 0, maxNameLen)
		s.checkPassword(v, req.Password)
	}); err != nil {
		return err
	}
	hash, err := s.hasher.Hash(r.Context(), req.Password)
	if err != nil {
		return web.Unavailable(err)
	}
	u, err := s.createUser(r.Context(), r, req, hash)
	if err != nil {
		return err
	}
	return s.sessions.Complete(r.Context(), w, r, u.ID, []string{"pwd"})
}

// checkPassword records a policy violation of a new password in v.
func (s *Server) checkPassword(v *web.Validator, pw string, context ...string) {
	err := s.policy.Check(pw, context...)
	var pe *password.PolicyError
	if errors.As(err, &pe) {
		v.Require(false, "password", pe.Reason)
	}
}

// createUser spends the token and inserts the user in one transaction; the
// password is checked against the address it confirms before anything
// commits.
func (s *Server) createUser(ctx context.Context, r *http.Request, req registerConfirmRequest, hash string) (store.User, error) {
	var u store.User
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		now := s.d.Now()
		t, err := consumeLinkToken(ctx, tx, purposeSignup, req.Token, now)
		if err != nil {
			return err
		}
		v := web.NewValidator()
		s.checkPassword(v, req.Password, t.Subject, req.Name)
		if err := v.Err(); err != nil {
			return err
		}
		// An organization that requires its SSO of this address gets no
		// password account on it (AUTHZ-5); the rollback leaves the link
		// unspent.
		if org, err := authz.SSORequired(ctx, tx, t.Subject, ""); err != nil {
			return err
		} else if org != "" {
			return authz.SSORequiredError(org)
		}
		id, err := newUserID(s.d.Rand)
		if err != nil {
			return err
		}
		u = store.User{ID: id, Email: t.Subject, Name: req.Name, PasswordHash: hash,
			EmailVerifiedAt: now, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateUser(ctx, u); err != nil {
			if errors.Is(err, store.ErrConflict) {
				return errInvalidLink.WithCause(err) // the address was registered meanwhile
			}
			return err
		}
		_, err = s.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: u.ID, Action: "auth.register", Target: u.ID,
			Network: s.network(r)})
		if err != nil {
			return err
		}
		return s.d.Events.Emit(ctx, tx, events.User(events.UserCreated, events.UserData{UserID: u.ID, Email: u.Email, By: "user"}))
	})
	return u, keepWebError(err)
}

// newUserID returns an opaque user id: "u_" and 16 random bytes.
func newUserID(rand io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return "", fmt.Errorf("read user id randomness: %w", err)
	}
	return "u_" + base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// keepWebError passes *web.Error through and turns anything else into 503.
func keepWebError(err error) error {
	var we *web.Error
	if err == nil || errors.As(err, &we) {
		return err
	}
	return web.Unavailable(err)
}
