package auth

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// linkedIdentityJSON is a linked sign-in provider account as GET
// /identities lists it.
type linkedIdentityJSON struct {
	ID        string    `json:"id"`
	Provider  string    `json:"provider"`
	CreatedAt time.Time `json:"created_at"`
}

// handleIdentities serves GET /identities: the provider accounts linked
// to the user, oldest first (AUTH-13).
func (s *Server) handleIdentities(w http.ResponseWriter, r *http.Request) error {
	p, _ := session.FromContext(r.Context())
	ids, err := s.d.Store.UserIdentities(r.Context(), p.UserID)
	if err != nil {
		return web.Unavailable(err)
	}
	out := make([]linkedIdentityJSON, 0, len(ids))
	for _, id := range ids {
		out = append(out, linkedIdentityJSON{ID: id.ID, Provider: id.Provider, CreatedAt: id.CreatedAt.UTC()})
	}
	web.NoStore(w)
	return web.WriteJSON(w, http.StatusOK, map[string]any{"identities": out})
}

// handleIdentityDelete serves DELETE /identities/{id} (step-up): unlinks
// one of the user's provider accounts and, in the same transaction, ends
// every other session of the user (AUTH-14: whoever signed in through it
// is out); then the user is told. 404 for an identity that is not theirs.
func (s *Server) handleIdentityDelete(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.sessions.RequireRecentAuth(ctx); err != nil {
		return err
	}
	p, _ := session.FromContext(ctx)
	var gone store.Identity
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		var err error
		if gone, err = tx.DeleteIdentity(ctx, p.UserID, r.PathValue("id")); err != nil {
			return err
		}
		if err := s.sessions.RevokeOtherSessions(ctx, tx, p.UserID, p.SessionID, "identity_unlinked"); err != nil {
			return err
		}
		_, err = s.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: p.UserID, Action: "auth.identity_unlink", Target: p.UserID,
			Network: s.network(r), Metadata: map[string]any{"provider": gone.Provider, "identity": gone.ID}})
		if err != nil {
			return err
		}
		return s.d.Events.Emit(ctx, tx, events.Identity(events.IdentityUnlinked, p.UserID, gone.Provider))
	})
	if errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	} else if err != nil {
		return web.Unavailable(err)
	}
	if u, err := s.d.Store.User(ctx, p.UserID); err == nil {
		s.notifyUnlinked(ctx, u.Email, []store.Identity{gone},
			"It was removed from your account, and your other sessions were signed out.")
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// proveAddress records, in tx, that the holder of u's address just proved
// it (a password-reset or sign-in link was used). On the first proof every
// identity linked before it is removed (AUTH-13: a provider that vouched
// for an address no one had proven cannot keep a way in), and if any was,
// every session of the user ends in the same transaction (AUTH-14). It
// returns the removed identities, which the caller reports with
// [Server.notifyUnlinked] once tx has committed.
func (s *Server) proveAddress(ctx context.Context, tx store.Store, r *http.Request, u store.User) ([]store.Identity, error) {
	if !u.EmailVerifiedAt.IsZero() {
		return nil, nil // proven before: every identity since was linked by its holder
	}
	removed, err := tx.ProveEmail(ctx, u.ID, s.d.Now())
	if err != nil || len(removed) == 0 {
		return nil, err
	}
	if err := s.sessions.RevokeOtherSessions(ctx, tx, u.ID, "", "address_proven"); err != nil {
		return nil, err
	}
	providers := make([]string, len(removed))
	for i, id := range removed {
		providers[i] = id.Provider
	}
	_, err = s.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: u.ID, Action: "auth.identity_unlink", Target: u.ID,
		Network: s.network(r), Metadata: map[string]any{"providers": providers, "reason": "address_proven"}})
	if err != nil {
		return nil, err
	}
	for _, id := range removed {
		if err := s.d.Events.Emit(ctx, tx, events.Identity(events.IdentityUnlinked, u.ID, id.Provider)); err != nil {
			return nil, err
		}
	}
	return removed, nil
}

// proveLinkAddress runs [Server.proveAddress] in a transaction of its own
// for the user whose e-mailed sign-in link was just spent, and reports
// what it removed.
func (s *Server) proveLinkAddress(r *http.Request, userID string) error {
	ctx := r.Context()
	u, err := s.d.Store.User(ctx, userID)
	if err == nil && !u.EmailVerifiedAt.IsZero() {
		return nil // the common case: no transaction
	}
	var removed []store.Identity
	err = s.d.Store.Tx(ctx, func(tx store.Store) error {
		var err error
		if u, err = tx.User(ctx, userID); err != nil {
			return err
		}
		removed, err = s.proveAddress(ctx, tx, r, u)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return errInvalidLink.WithCause(err) // the account was deleted after the link was sent
	} else if err != nil {
		return keepWebError(err)
	}
	s.notifyUnlinked(ctx, u.Email, removed, "They were linked before you proved this address, "+
		"so signing in with an e-mailed link removed them and signed out your other sessions.")
	return nil
}

// notifyUnlinked tells the holder of email that the identities ids no
// longer sign in to the account; why says what happened. Nothing is sent
// for no identities.
func (s *Server) notifyUnlinked(ctx context.Context, email string, ids []store.Identity, why string) {
	if len(ids) == 0 {
		return
	}
	names := make([]string, len(ids))
	for i, id := range ids {
		names[i] = providerName(id.Provider)
	}
	err := s.d.Notifier.Notify(ctx, notify.Message{To: email, Kind: notify.KindAlert,
		Subject: "A sign-in method was removed from your account",
		Text: "Your account can no longer be signed in to with " + strings.Join(names, ", ") + ". " + why +
			" If this was not you, reset your password and review your account's sign-in methods."})
	if err != nil {
		s.d.Logger.ErrorContext(ctx, "unlink notice not sent", "error", err.Error())
	}
}

// providerName names a stored provider for people.
func providerName(provider string) string {
	switch {
	case provider == "google":
		return "Google"
	case provider == "github":
		return "GitHub"
	case strings.HasPrefix(provider, "oidc:"):
		return "single sign-on (" + strings.TrimPrefix(provider, "oidc:") + ")"
	}
	return provider
}
