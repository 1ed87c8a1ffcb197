package oauthcallback

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/gatehouse-dev/gatehouse/shared/dnsproof"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/oauthstate"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Why a link cannot start, as the link route answers it.
var linkRefusals = map[string]string{
	"address_not_proven": "Confirm your e-mail address first (reset your password or sign in with an e-mail link), then link.",
	"not_a_member":       "Only members of the organization can link its sign-in provider.",
	"domain_not_allowed": "The organization's sign-in provider can be linked only by addresses at its verified domains.",
}

// mayLink checks, before a link flow starts, what the callback checks again:
// the account's address is proven, and for an organization's provider
// ("oidc", "saml") the user is a member whose address is at one of the
// organization's verified domains.
func (s *server) mayLink(ctx context.Context, userID, provider, orgID string) error {
	u, err := s.d.Store.User(ctx, userID)
	if err != nil {
		return web.Unavailable(err)
	}
	err = s.linkRules(ctx, u, provider, orgID)
	var fe *flowError
	if errors.As(err, &fe) && linkRefusals[fe.code] != "" {
		return &web.Error{Status: http.StatusForbidden, Code: fe.code, Message: linkRefusals[fe.code], Err: fe.cause}
	}
	if err != nil {
		return web.Unavailable(err)
	}
	return nil
}

// linkRules returns a *flowError when u may not link an identity of
// provider (orgID selecting the organization of "oidc" and "saml").
func (s *server) linkRules(ctx context.Context, u store.User, provider, orgID string) error {
	if u.EmailVerifiedAt.IsZero() {
		return fail("address_not_proven", fmt.Errorf("user %s has not proven their address", u.ID))
	}
	if provider != signInOIDC && provider != signInSAML {
		return nil
	}
	if _, err := s.d.Store.Member(ctx, orgID, u.ID); errors.Is(err, store.ErrNotFound) {
		return fail("not_a_member", fmt.Errorf("user %s is not a member of %q", u.ID, orgID))
	} else if err != nil {
		return fail("unavailable", err)
	}
	return s.orgDomain(ctx, orgID, u.Email)
}

// orgDomain returns nil if email is at a domain orgID has verified, else a
// *flowError domain_not_allowed (or unavailable).
func (s *server) orgDomain(ctx context.Context, orgID, email string) error {
	domain, err := dnsproof.EmailDomain(email)
	if err != nil {
		return fail("domain_not_allowed", err)
	}
	d, err := s.d.Store.VerifiedSSODomain(ctx, domain)
	switch {
	case errors.Is(err, store.ErrNotFound) || err == nil && d.OrgID != orgID:
		return fail("domain_not_allowed", fmt.Errorf("domain %q is not verified by %q", domain, orgID))
	case err != nil:
		return fail("unavailable", err)
	}
	return nil
}

// linkIdentity links the identity id of provider p to the user who started
// the link flow st, after checking again everything the start checked, and
// that the provider vouches for the account's own address. The user is
// told.
func (s *server) linkIdentity(ctx context.Context, r *http.Request, p *idp, id who, st oauthstate.State) error {
	u, err := s.d.Store.User(ctx, st.UserID)
	if err != nil {
		return fail("unavailable", err)
	}
	if err := s.linkRules(ctx, u, st.Platform, st.OrgID); err != nil {
		return err
	}
	if !id.emailVerified || !strings.EqualFold(id.email, u.Email) {
		return fail("email_mismatch", errors.New("the provider's verified e-mail is not the account's"))
	}
	owner, err := s.d.Store.IdentityUser(ctx, p.name, id.subject)
	switch {
	case err == nil && owner == u.ID:
		return nil // linked already
	case err == nil:
		return fail("identity_in_use", errors.New("provider account linked to another user"))
	case !errors.Is(err, store.ErrNotFound):
		return fail("unavailable", err)
	}
	link := store.Identity{Provider: p.name, Subject: id.subject, UserID: u.ID, CreatedAt: s.d.Now()}
	if link.ID, err = randomID(s.d.Rand, "idn_"); err != nil {
		return fail("server_error", err)
	}
	err = s.d.Store.Tx(ctx, func(tx store.Store) error {
		if err := tx.LinkIdentity(ctx, link); err != nil {
			return err
		}
		if err := s.d.Events.Emit(ctx, tx, events.Identity(events.IdentityLinked, u.ID, p.name)); err != nil {
			return err
		}
		return s.auditSignIn(ctx, tx, r, "auth.identity_link", u.ID, p.name)
	})
	if errors.Is(err, store.ErrConflict) {
		return fail("identity_in_use", err)
	}
	if err != nil {
		return fail("unavailable", err)
	}
	s.notifyLinked(ctx, u.Email, p)
	return nil
}

// providerLabel names a provider for people: "Google", "GitHub", or the
// organization's single sign-on.
func providerLabel(p *idp) string {
	switch p.name {
	case signInGoogle:
		return "Google"
	case signInGitHub:
		return "GitHub"
	}
	return "your organization's single sign-on"
}

// notifyLinked tells the account holder an identity was linked (AUTH-13).
func (s *server) notifyLinked(ctx context.Context, email string, p *idp) {
	s.notice(ctx, notify.Message{To: email, Kind: notify.KindAlert, OrgID: p.sso.OrgID,
		Subject: "A sign-in method was added to your account",
		Text: "Your account can now be signed in to with " + providerLabel(p) + ". If this was not you, " +
			"remove it from your account's sign-in methods, reset your password and sign out everywhere."})
}

// notice sends m, logging (not failing on) an error: the change it reports
// has committed.
func (s *server) notice(ctx context.Context, m notify.Message) {
	if err := s.d.Notifier.Notify(ctx, m); err != nil {
		s.logger.ErrorContext(ctx, "notice not sent", "kind", m.Kind, "error", err.Error())
	}
}
