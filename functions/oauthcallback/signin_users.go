package oauthcallback

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/shared/oauthstate"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// maxNameLen bounds the display name taken from a provider.
const maxNameLen = 100

// resolveUser returns the user a provider identity signs in as (AUTH-10):
// the user linked to its subject; or, in a link flow, the signed-in user,
// linked now; or a new user with the provider's verified e-mail. An
// e-mail that already has an account is never linked automatically
// ("account_exists": sign in and link instead), so a provider cannot hand
// out someone else's account.
func (s *server) resolveUser(ctx context.Context, r *http.Request, provider string, id who, st oauthstate.State) (string, error) {
	userID, err := s.d.Store.IdentityUser(ctx, provider, id.subject)
	switch {
	case err == nil && st.Link && userID != st.UserID:
		return "", fail("identity_in_use", errors.New("provider account linked to another user"))
	case err == nil:
		return userID, nil
	case !errors.Is(err, store.ErrNotFound):
		return "", fail("unavailable", err)
	case st.Link:
		return st.UserID, s.link(ctx, r, st.UserID, provider, id)
	}
	return s.createUser(ctx, r, provider, id)
}

// link stores the identity for userID and audits it.
func (s *server) link(ctx context.Context, r *http.Request, userID, provider string, id who) error {
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		if err := tx.LinkIdentity(ctx, store.Identity{Provider: provider, Subject: id.subject, UserID: userID,
			CreatedAt: s.d.Now()}); err != nil {
			return err
		}
		return s.auditSignIn(ctx, tx, r, "auth.identity_link", userID, provider)
	})
	if errors.Is(err, store.ErrConflict) {
		return fail("identity_in_use", err)
	}
	if err != nil {
		return fail("unavailable", err)
	}
	return nil
}

// createUser creates a user for a provider identity with a verified
// e-mail no account has, and links the identity, in one transaction.
func (s *server) createUser(ctx context.Context, r *http.Request, provider string, id who) (string, error) {
	if !id.emailVerified || !web.ValidEmail(id.email) {
		return "", fail("email_not_verified", errors.New("provider gave no verified e-mail"))
	}
	if _, err := s.d.Store.UserByEmail(ctx, id.email); err == nil {
		return "", fail("account_exists", errors.New("an account has this e-mail"))
	} else if !errors.Is(err, store.ErrNotFound) {
		return "", fail("unavailable", err)
	}
	userID, err := s.newUserID()
	if err != nil {
		return "", fail("server_error", err)
	}
	now := s.d.Now()
	name := []rune(id.name)
	if len(name) > maxNameLen {
		name = name[:maxNameLen]
	}
	err = s.d.Store.Tx(ctx, func(tx store.Store) error {
		// No password: the account signs in through its providers (or
		// sets a password through the reset flow).
		if err := tx.CreateUser(ctx, store.User{ID: userID, Email: id.email, Name: string(name),
			EmailVerifiedAt: now, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		if err := tx.LinkIdentity(ctx, store.Identity{Provider: provider, Subject: id.subject, UserID: userID, CreatedAt: now}); err != nil {
			return err
		}
		return s.auditSignIn(ctx, tx, r, "auth.register", userID, provider)
	})
	if errors.Is(err, store.ErrConflict) {
		return "", fail("account_exists", err)
	}
	if err != nil {
		return "", fail("unavailable", fmt.Errorf("create user: %w", err))
	}
	return userID, nil
}
