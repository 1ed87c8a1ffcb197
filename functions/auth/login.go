package auth

import (
	"context"
	"errors"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/password"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/timetext"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// errBadLogin is the one answer for an unknown address, a wrong password
// and a locked account alike.
var errBadLogin = web.Unauthorized("invalid_credentials", "The email address or password is incorrect.")

// Limits of the magic-link routes.
var (
	limitMagicNetwork       = ratelimit.MagicLinkNetwork
	limitMagicAccount       = ratelimit.MagicLinkAccount
	limitMagicVerifyNetwork = ratelimit.MagicVerifyNetwork
)

type loginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// mfaRequired is the /login answer for a user with a second factor.
type mfaRequired struct {
	MFARequired bool     `json:"mfa_required"`
	MFAToken    string   `json:"mfa_token"`
	Methods     []string `json:"methods"`
}

// handleLogin serves POST /login. Every path spends exactly one Argon2id
// verification with the current parameters, so a known and an unknown
// address take the same time; every failure gets the same 401 body.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) error {
	var req loginRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	v := web.NewValidator()
	email := emailField(v, req.Email)
	v.Require(req.Password != "" && len(req.Password) <= maxPasswordBytes, "password", "must be 1 to 1024 bytes")
	if err := v.Err(); err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.d.Store.UserByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return web.Unavailable(err)
	}
	attempt, err := s.sessions.BeginLogin(ctx, r, email, u.ID)
	if err != nil {
		return err
	}
	if err := s.verifyPassword(ctx, u, req.Password); err != nil || attempt.Locked() {
		return s.loginFailed(ctx, r, attempt, u.ID, err)
	}
	s.upgradeHash(ctx, u, req.Password)
	return s.firstFactorPassed(w, r, u.ID, []string{"pwd"})
}

// verifyPassword checks pw against u's hash, or spends a dummy
// verification when there is no user or no password.
func (s *Server) verifyPassword(ctx context.Context, u store.User, pw string) error {
	if u.ID == "" || u.PasswordHash == "" {
		return s.hasher.VerifyDummy(ctx, pw)
	}
	return s.hasher.Verify(ctx, pw, u.PasswordHash)
}

// loginFailed counts the failure, audits it and answers errBadLogin. A
// verification that could not run (context ended) is a 503 instead.
func (s *Server) loginFailed(ctx context.Context, r *http.Request, a session.Attempt, userID string, cause error) error {
	if cause != nil && !errors.Is(cause, password.ErrMismatch) {
		if errors.Is(cause, password.ErrMalformedHash) || errors.Is(cause, password.ErrUnknownPepper) {
			s.d.Logger.ErrorContext(ctx, "stored password hash cannot be verified", "user", userID, "error", cause.Error())
		} else {
			return web.Unavailable(cause)
		}
	}
	if err := s.sessions.Failed(ctx, a); err != nil {
		return web.Unavailable(err)
	}
	actor := userID
	if actor == "" {
		actor = "anonymous"
	}
	s.record(ctx, audit.Event{Actor: actor, Action: "auth.login", Target: userID, Outcome: store.OutcomeFailure,
		Network: s.network(r), Metadata: map[string]any{"locked": a.Locked()}})
	return errBadLogin.WithCause(cause)
}

// upgradeHash re-hashes the password when the stored hash has other
// parameters or another pepper. A failure only delays the upgrade.
func (s *Server) upgradeHash(ctx context.Context, u store.User, pw string) {
	if !s.hasher.NeedsRehash(u.PasswordHash) {
		return
	}
	hash, err := s.hasher.Hash(ctx, pw)
	if err == nil {
		err = s.d.Store.SetPasswordHash(ctx, u.ID, hash, s.d.Now())
	}
	if err != nil {
		s.d.Logger.WarnContext(ctx, "password hash upgrade failed", "user", u.ID, "error", err.Error())
	}
}

// firstFactorPassed starts a session, or hands off to the second factor
// when the user has one.
func (s *Server) firstFactorPassed(w http.ResponseWriter, r *http.Request, userID string, methods []string) error {
	ctx := r.Context()
	if err := s.ssoPolicy(r, userID, methods); err != nil {
		return err
	}
	second, err := s.ext.Methods(ctx, userID)
	if err != nil {
		return keepWebError(err)
	}
	if len(second) == 0 {
		return s.sessions.Complete(ctx, w, r, userID, methods)
	}
	tok, err := s.sessions.IssueMFAToken(ctx, userID, methods)
	if err != nil {
		return web.Unavailable(err)
	}
	return web.WriteTokenJSON(w, http.StatusOK, mfaRequired{MFARequired: true, MFAToken: tok, Methods: second})
}

// handleMagicLink serves POST /magic-link: 202 with the same body for any
// address; an account's address is sent a single-use sign-in link.
func (s *Server) handleMagicLink(w http.ResponseWriter, r *http.Request) error {
	return s.acceptEmailRequest(w, r, "magic link", limitMagicNetwork, limitMagicAccount, s.sendMagicLink)
}

// sendMagicLink sends the account with address email a sign-in link.
func (s *Server) sendMagicLink(ctx context.Context, email string) error {
	return s.mailAccountLink(ctx, email, purposeMagicLink, "/magic-link", s.cfg.MagicLinkTTL, notify.Message{
		Kind: notify.KindMagicLink, Subject: "Your sign-in link",
		Text: "Open the link to sign in. It works once, for " + timetext.Duration(s.cfg.MagicLinkTTL) +
			". If you did not ask for it, ignore this message."})
}

type tokenRequest struct {
	Token string `json:"token"`
}

// handleMagicLinkVerify serves POST /magic-link/verify: it spends the link
// and signs the user in (or hands off to their second factor). Every check
// of the request (client mode and Origin, input, limit) runs before the
// link is spent (AUTH-15).
func (s *Server) handleMagicLinkVerify(w http.ResponseWriter, r *http.Request) error {
	if err := s.sessions.CheckClient(r); err != nil {
		return err
	}
	var req tokenRequest
	if err := s.decodeLinkRequest(r, &req, &req.Token, limitMagicVerifyNetwork, nil); err != nil {
		return err
	}
	t, err := consumeLinkToken(r.Context(), s.d.Store, purposeMagicLink, req.Token, s.d.Now())
	if err != nil {
		return err
	}
	if err := s.proveLinkAddress(r, t.Subject); err != nil {
		return err
	}
	return s.firstFactorPassed(w, r, t.Subject, []string{"email"})
}

// ssoPolicy refuses a password or magic-link sign-in of a user whose
// organization requires its single sign-on of the user's address
// (AUTHZ-5): the answer names the organization, so the client can send the
// user there. It runs after the first factor passed, so it tells nothing
// to someone who does not hold the password or the link.
func (s *Server) ssoPolicy(r *http.Request, userID string, methods []string) error {
	ctx := r.Context()
	u, err := s.d.Store.User(ctx, userID)
	if err != nil {
		return web.Unavailable(err)
	}
	org, err := authz.SSORequired(ctx, s.d.Store, u.Email, u.ID)
	if err != nil {
		return web.Unavailable(err)
	}
	if org == "" {
		return nil
	}
	s.record(ctx, audit.Event{Actor: userID, OrgID: org, Action: "auth.login", Target: userID, Outcome: store.OutcomeFailure,
		Network: s.network(r), Metadata: map[string]any{"methods": methods, "error_code": "sso_required"}})
	return authz.SSORequiredError(org)
}
