package oauthcallback

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/oauthstate"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/timetext"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// maxNameLen bounds the display name taken from a provider.
const maxNameLen = 100

// purposeSignInConfirm is the one-time token e-mailed to finish the first
// sign-in of a provider identity; signInConfirmTTL is its lifetime.
const (
	purposeSignInConfirm = "signin_confirm"
	signInConfirmTTL     = 30 * time.Minute
	tokenLen             = 43 // base64url of 32 bytes
)

// Limits of the e-mails a first sign-in sends, per address, and of the
// confirmation route, per network.
var (
	limitConfirmMail    = ratelimit.SignInConfirmMail
	limitConfirmNetwork = ratelimit.SignInConfirmNetwork
)

var errInvalidLink = web.BadRequest("invalid_token", "The link is invalid or has expired.")

// pendingConfirm is the Data of a sign-in confirmation token. No secret:
// the provider's opaque subject and profile name.
type pendingConfirm struct {
	Provider string `json:"provider"`
	Subject  string `json:"subject"`
	Name     string `json:"name"`
	OrgID    string `json:"org,omitempty"`
}

// signInLinked returns the user the identity is linked to, after checking
// that an organization's provider still speaks for that account's own
// address (its domain verified by the organization, checked in identify).
// ErrNotFound (unwrapped) means no account is linked to the identity.
func (s *server) signInLinked(ctx context.Context, p *idp, id who) (string, error) {
	userID, err := s.d.Store.IdentityUser(ctx, p.name, id.subject)
	if errors.Is(err, store.ErrNotFound) {
		return "", store.ErrNotFound
	} else if err != nil {
		return "", fail("unavailable", err)
	}
	if p.sso.OrgID == "" {
		return userID, nil
	}
	u, err := s.d.Store.User(ctx, userID)
	if err != nil {
		return "", fail("unavailable", err)
	}
	if !strings.EqualFold(u.Email, id.email) {
		return "", fail("email_mismatch", errors.New("the organization's provider vouches for another address"))
	}
	return userID, nil
}

// signInPending handles the first sign-in of an identity no account is
// linked to. Whether or not an account has the address, the answer is the
// same redirect with signin_pending=email (AUTH-13: no account_exists
// oracle), and the address, which the provider verified, gets an e-mail:
// with no account, a link that creates one (the holder proves the address
// to Gatehouse itself); with an account, a notice that it was not signed
// in, and that its holder can sign in and link the provider from their
// account. No provider can sign in to an account it was not linked to by
// that account's holder.
func (s *server) signInPending(ctx context.Context, p *idp, id who, st oauthstate.State) (string, error) {
	if !id.emailVerified || !web.ValidEmail(id.email) {
		return "", fail("email_not_verified", errors.New("provider gave no verified e-mail"))
	}
	location := withParams(st.ReturnTo, "signin_pending", "email")
	err := s.d.Limiter.Allow(ctx, limitConfirmMail, id.email)
	var limited *ratelimit.LimitedError
	if errors.As(err, &limited) {
		s.logger.InfoContext(ctx, "first sign-in e-mail skipped: address limited", "provider", p.name)
		return location, nil
	} else if err != nil {
		return "", fail("unavailable", err)
	}
	u, err := s.d.Store.UserByEmail(ctx, id.email)
	switch {
	case errors.Is(err, store.ErrNotFound):
		err = s.mailConfirm(ctx, p, id, st)
	case err == nil:
		err = s.d.Notifier.Notify(ctx, notify.Message{To: u.Email, Kind: notify.KindSignupAttempt, OrgID: st.OrgID,
			Subject: "Someone tried to sign in with " + providerLabel(p),
			Text: "Someone signed in with " + providerLabel(p) + " as this address. Your account is not linked to it, " +
				"so nothing was signed in. If it was you, sign in as usual and link it from your account's sign-in methods. " +
				"Otherwise you can ignore this message."})
	}
	if err != nil {
		return "", fail("unavailable", err)
	}
	return location, nil
}

// mailConfirm sends the address a link that creates its account, linked to
// the identity.
func (s *server) mailConfirm(ctx context.Context, p *idp, id who, st oauthstate.State) error {
	name := []rune(id.name)
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	data, err := json.Marshal(pendingConfirm{Provider: p.name, Subject: id.subject, Name: string(name), OrgID: p.sso.OrgID})
	if err != nil {
		return err
	}
	var b [32]byte
	if _, err := s.d.Rand.Read(b[:]); err != nil {
		return err
	}
	tok := base64.RawURLEncoding.EncodeToString(b[:])
	now := s.d.Now()
	if err := s.d.Store.CreateOneTimeToken(ctx, store.OneTimeToken{Hash: sha256.Sum256([]byte(tok)), Purpose: purposeSignInConfirm,
		Subject: id.email, Scope: p.sso.OrgID, Data: string(data), CreatedAt: now, ExpiresAt: now.Add(signInConfirmTTL)}); err != nil {
		return fmt.Errorf("store sign-in confirmation: %w", err)
	}
	link := s.linkBase + "/signin/confirm#" + url.Values{"token": {tok}}.Encode()
	return s.d.Notifier.Notify(ctx, notify.Message{To: id.email, Kind: notify.KindEmailVerification, OrgID: st.OrgID,
		Subject: "Confirm your new account", Links: []string{link},
		Text: "Open the link to finish signing in with " + providerLabel(p) + " and create your account. It works once, for " +
			timetext.Duration(signInConfirmTTL) + ". If you did not sign in, ignore this message."})
}

type confirmRequest struct {
	Token string `json:"token"`
}

// confirmSignIn answers POST /signin/confirm {"token"}: the holder of an
// address, back from the e-mail of a first sign-in, gets the account
// created and linked to the identity, and a session (cookies for a
// browser, JSON tokens for an API client). Every check runs before the
// single-use token is spent (AUTH-15); in one transaction it is spent, the
// organization's domain checked again, and the account created with its
// address proven and the identity linked.
func (s *server) confirmSignIn(w http.ResponseWriter, r *http.Request) error {
	var req confirmRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	v := web.NewValidator()
	v.Length("token", req.Token, tokenLen, tokenLen)
	if err := v.Err(); err != nil {
		return err
	}
	if session.IsBrowser(r) {
		if err := web.CheckOrigin(r, s.d.Config.AllowedOrigins); err != nil {
			return err
		}
	}
	if err := ratelimit.HTTPError(s.d.Limiter.Allow(r.Context(), limitConfirmNetwork, s.network(r))); err != nil {
		return err
	}
	userID, pc, err := s.createConfirmed(r, req.Token)
	if err != nil {
		return err
	}
	if pc.OrgID != "" {
		if c, ok := s.orgProvisioning(r.Context(), pc); ok {
			if err := s.provision(r, c, userID); err != nil {
				return web.Unavailable(err)
			}
		}
	}
	u, err := s.d.Store.User(r.Context(), userID)
	if err != nil {
		return web.Unavailable(err)
	}
	if org, err := authz.SSORequired(r.Context(), s.d.Store, u.Email, u.ID); err != nil {
		return web.Unavailable(err)
	} else if org != "" && org != pc.OrgID {
		return authz.SSORequiredError(org)
	}
	amr := []string{amrFederated, "email"}
	if pc.OrgID != "" {
		amr = append(amr, amrOrgSSO)
	}
	return s.sessions.CompleteSSO(r.Context(), w, r, userID, amr, pc.OrgID)
}

// orgProvisioning is the provisioning of the organization whose single
// sign-on (OIDC or SAML, as pc's provider says) a confirmed sign-in came
// through.
func (s *server) orgProvisioning(ctx context.Context, pc pendingConfirm) (store.SSOConfig, bool) {
	if pc.Provider == samlProvider(pc.OrgID) {
		c, err := s.d.Store.SAMLConfig(ctx, pc.OrgID)
		return store.SSOConfig{OrgID: c.OrgID, ProvisionRole: c.ProvisionRole}, err == nil
	}
	c, err := s.d.Store.SSOConfig(ctx, pc.OrgID)
	return c, err == nil
}

// createConfirmed spends the token and creates the account it confirms.
func (s *server) createConfirmed(r *http.Request, tok string) (string, pendingConfirm, error) {
	ctx := r.Context()
	var pc pendingConfirm
	var userID string
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		now := s.d.Now()
		t, err := tx.ConsumeOneTimeToken(ctx, purposeSignInConfirm, sha256.Sum256([]byte(tok)), now)
		switch {
		case errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrUsed) || errors.Is(err, store.ErrExpired):
			return errInvalidLink.WithCause(err)
		case err != nil:
			return err
		}
		if err := json.Unmarshal([]byte(t.Data), &pc); err != nil {
			return errInvalidLink.WithCause(err)
		}
		if pc.OrgID != "" {
			if err := s.orgDomain(ctx, pc.OrgID, t.Subject); err != nil {
				return errInvalidLink.WithCause(err)
			}
		}
		if userID, err = randomID(s.d.Rand, "usr_"); err != nil {
			return err
		}
		u := store.User{ID: userID, Email: t.Subject, Name: pc.Name, EmailVerifiedAt: now, CreatedAt: now, UpdatedAt: now}
		if err := tx.CreateUser(ctx, u); errors.Is(err, store.ErrConflict) {
			return errInvalidLink.WithCause(err) // the address got an account meanwhile
		} else if err != nil {
			return err
		}
		link := store.Identity{Provider: pc.Provider, Subject: pc.Subject, UserID: userID, CreatedAt: now}
		if link.ID, err = randomID(s.d.Rand, "idn_"); err != nil {
			return err
		}
		if err := tx.LinkIdentity(ctx, link); errors.Is(err, store.ErrConflict) {
			return errInvalidLink.WithCause(err) // the identity was linked meanwhile
		} else if err != nil {
			return err
		}
		if err := s.d.Events.Emit(ctx, tx, events.User(events.UserCreated, events.UserData{UserID: userID, Email: u.Email, By: "user"})); err != nil {
			return err
		}
		if err := s.d.Events.Emit(ctx, tx, events.Identity(events.IdentityLinked, userID, pc.Provider)); err != nil {
			return err
		}
		return s.auditSignIn(ctx, tx, r, "auth.register", userID, pc.Provider)
	})
	var we *web.Error
	if err != nil && !errors.As(err, &we) {
		err = web.Unavailable(fmt.Errorf("create confirmed user: %w", err))
	}
	return userID, pc, err
}
