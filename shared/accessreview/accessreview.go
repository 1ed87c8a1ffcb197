// Package accessreview builds an organization's access review (AUTHZ-5):
// every member with role, last sign-in, second factors, single sign-on and
// linked identities, stale members flagged, and pending invitations; and
// starts reviews, on demand or on a schedule, telling the owner.
package accessreview

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// StaleAfter is how long without a sign-in flags a member as stale.
const StaleAfter = 90 * 24 * time.Hour

// Period is how often an organization is reviewed by default: a quarter.
const Period = 91 * 24 * time.Hour

// StartedBySchedule starts the reviews the rotate function opens.
const StartedBySchedule = "schedule"

// KindAccessReview is the notification kind of a started review.
const KindAccessReview = "access_review"

// InvitationPurpose is the one-time-token purpose of organization
// invitations (functions/auth).
const InvitationPurpose = "org_invitation"

// Member is one member as a review shows it.
type Member struct {
	UserID      string     `json:"user_id"`
	Email       string     `json:"email"`
	Name        string     `json:"name"`
	Role        string     `json:"role"`
	MemberSince time.Time  `json:"member_since"`
	LastSignIn  *time.Time `json:"last_sign_in_at"`
	MFA         []string   `json:"mfa"`        // "totp", "webauthn"
	SSO         bool       `json:"sso"`        // linked to the organization's SSO
	Identities  []string   `json:"identities"` // providers of linked identities
	Stale       bool       `json:"stale"`      // no sign-in in 90 days
	Decision    string     `json:"decision"`   // "", "confirm" or "revoke"
}

// Invitation is a pending invitation as a review shows it.
type Invitation struct {
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	InvitedBy string    `json:"invited_by"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Report is a review with its members and invitations, read now.
type Report struct {
	ID             string       `json:"id"`
	OrgID          string       `json:"org_id"`
	StartedBy      string       `json:"started_by"`
	StartedAt      time.Time    `json:"started_at"`
	CompletedAt    *time.Time   `json:"completed_at"`
	StaleAfterDays int          `json:"stale_after_days"`
	Members        []Member     `json:"members"`
	Invitations    []Invitation `json:"invitations"`
}

// Build reads review r of its organization as of now.
func Build(ctx context.Context, s store.Store, r store.AccessReview, now time.Time) (Report, error) {
	rep := Report{ID: r.ID, OrgID: r.OrgID, StartedBy: r.StartedBy, StartedAt: r.StartedAt.UTC(),
		StaleAfterDays: int(StaleAfter / (24 * time.Hour)), Members: []Member{}, Invitations: []Invitation{}}
	if !r.CompletedAt.IsZero() {
		at := r.CompletedAt.UTC()
		rep.CompletedAt = &at
	}
	decisions, err := s.AccessReviewDecisions(ctx, r.ID)
	if err != nil {
		return rep, err
	}
	decided := map[string]string{}
	for _, d := range decisions {
		decided[d.UserID] = d.Decision
	}
	var ssoProviders []string // identity providers of the organization's single sign-on
	if c, err := s.SSOConfig(ctx, r.OrgID); err == nil {
		ssoProviders = append(ssoProviders, "oidc:"+c.Issuer)
	} else if !errors.Is(err, store.ErrNotFound) {
		return rep, err
	}
	if _, err := s.SAMLConfig(ctx, r.OrgID); err == nil {
		ssoProviders = append(ssoProviders, "saml:"+r.OrgID) // as functions/oauthcallback links SAML identities
	} else if !errors.Is(err, store.ErrNotFound) {
		return rep, err
	}
	for after := ""; ; {
		page, err := s.Members(ctx, r.OrgID, after, 200)
		if err != nil {
			return rep, err
		}
		for _, m := range page {
			mem, err := member(ctx, s, m, ssoProviders, now)
			if err != nil {
				return rep, err
			}
			mem.Decision = decided[m.UserID]
			rep.Members = append(rep.Members, mem)
		}
		if len(page) < 200 {
			break
		}
		after = page[len(page)-1].UserID
	}
	rep.Invitations, err = invitations(ctx, s, r.OrgID, now)
	return rep, err
}

// member reads what a review shows of m.
func member(ctx context.Context, s store.Store, m store.Member, ssoProviders []string, now time.Time) (Member, error) {
	out := Member{UserID: m.UserID, Role: m.Role, MemberSince: m.CreatedAt.UTC(), MFA: []string{}, Identities: []string{}}
	u, err := s.User(ctx, m.UserID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return out, err
	}
	out.Email, out.Name = u.Email, u.Name
	sessions, err := s.UserSessionHistory(ctx, m.UserID)
	if err != nil {
		return out, err
	}
	for _, ss := range sessions {
		if out.LastSignIn == nil || ss.CreatedAt.After(*out.LastSignIn) {
			at := ss.CreatedAt.UTC()
			out.LastSignIn = &at
		}
	}
	out.Stale = out.LastSignIn == nil && now.Sub(m.CreatedAt) > StaleAfter || out.LastSignIn != nil && now.Sub(*out.LastSignIn) > StaleAfter
	if sec, err := s.TOTPSecret(ctx, m.UserID); err == nil && !sec.ConfirmedAt.IsZero() {
		out.MFA = append(out.MFA, "totp")
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return out, err
	}
	creds, err := s.WebAuthnCredentials(ctx, m.UserID)
	if err != nil {
		return out, err
	}
	if len(creds) > 0 {
		out.MFA = append(out.MFA, "webauthn")
	}
	ids, err := s.UserIdentities(ctx, m.UserID)
	if err != nil {
		return out, err
	}
	for _, id := range ids {
		out.Identities = append(out.Identities, id.Provider)
		out.SSO = out.SSO || slices.Contains(ssoProviders, id.Provider)
	}
	return out, nil
}

// invitations reads the organization's pending invitations.
func invitations(ctx context.Context, s store.Store, orgID string, now time.Time) ([]Invitation, error) {
	toks, err := s.PendingOneTimeTokens(ctx, InvitationPurpose, orgID, now)
	if err != nil {
		return nil, err
	}
	out := []Invitation{}
	for _, t := range toks {
		var inv struct {
			Role      string `json:"role"`
			InvitedBy string `json:"invited_by"`
		}
		if err := json.Unmarshal([]byte(t.Data), &inv); err != nil {
			return nil, fmt.Errorf("decode invitation: %w", err)
		}
		out = append(out, Invitation{Email: t.Subject, Role: inv.Role, InvitedBy: inv.InvitedBy, ExpiresAt: t.ExpiresAt.UTC()})
	}
	return out, nil
}

// Starter starts reviews.
type Starter struct {
	Store    store.Store
	Audit    *audit.Log
	Notifier notify.Notifier
	Config   config.Base
	Rand     io.Reader
}

// Start opens a review of orgID started by (a user id, or "schedule"),
// audited in the same transaction, and tells the owner with a link to the
// SaaS's review page. It returns the open review and whether this call
// started it (false: one was open already, returned as it is, and no one
// is told again).
func (st Starter) Start(ctx context.Context, orgID, by string, now time.Time) (store.AccessReview, bool, error) {
	var b [12]byte
	if _, err := io.ReadFull(st.Rand, b[:]); err != nil {
		return store.AccessReview{}, false, fmt.Errorf("review id: %w", err)
	}
	r := store.AccessReview{ID: "ar_" + base64.RawURLEncoding.EncodeToString(b[:]), OrgID: orgID, StartedBy: by, StartedAt: now}
	err := st.Store.Tx(ctx, func(tx store.Store) error {
		if err := tx.CreateAccessReview(ctx, r); err != nil {
			return err
		}
		_, err := st.Audit.RecordTx(ctx, tx, audit.Event{Actor: by, OrgID: orgID, Action: "org.access_review.start", Target: "review:" + r.ID})
		return err
	})
	if errors.Is(err, store.ErrConflict) {
		open, err := st.Store.OpenAccessReview(ctx, orgID)
		return open, false, err
	}
	if err != nil {
		return r, false, err
	}
	return r, true, st.notifyOwner(ctx, r)
}

// notifyOwner e-mails the owner that a review waits.
func (st Starter) notifyOwner(ctx context.Context, r store.AccessReview) error {
	org, err := st.Store.Org(ctx, r.OrgID)
	if err != nil {
		return err
	}
	owner, err := ownerOf(ctx, st.Store, r.OrgID)
	if err != nil {
		return err
	}
	link := Link(st.Config, r.OrgID)
	return st.Notifier.Notify(ctx, notify.Message{To: owner.Email, Kind: KindAccessReview, OrgID: r.OrgID,
		Subject: "Review who has access to " + org.Name,
		Text:    fmt.Sprintf("An access review of %q is open: confirm or remove each member, then complete it.\n\n%s\n", org.Name, link),
		Links:   []string{link}})
}

// Link is the SaaS's page for the open review of orgID: the first allowed
// browser origin (else the public URL) and /access-review?org=.
func Link(c config.Base, orgID string) string {
	base := ""
	if len(c.AllowedOrigins) > 0 {
		base = c.AllowedOrigins[0]
	} else if c.PublicURL != nil {
		base = c.PublicURL.Scheme + "://" + c.PublicURL.Host
	}
	return strings.TrimSuffix(base, "/") + "/access-review?" + url.Values{"org": {orgID}}.Encode()
}

// ownerOf returns the owner's account.
func ownerOf(ctx context.Context, s store.Store, orgID string) (store.User, error) {
	for after := ""; ; {
		page, err := s.Members(ctx, orgID, after, 200)
		if err != nil {
			return store.User{}, err
		}
		for _, m := range page {
			if m.Role == store.RoleOwner {
				return s.User(ctx, m.UserID)
			}
		}
		if len(page) < 200 {
			return store.User{}, fmt.Errorf("organization %s has no owner: %w", orgID, store.ErrNotFound)
		}
		after = page[len(page)-1].UserID
	}
}
