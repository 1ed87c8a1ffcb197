package oauthcallback

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/outbound"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// ssoSaveUser limits saves per user: each save makes requests to a host
// the user chose.
var ssoSaveUser = ratelimit.SSOSaveUser

// ssoRequest is the body of PUT /sso. The identity provider speaks only
// for the organization's verified domains (/sso/domains); the free-text
// "allowed_domains" of earlier versions is gone, and a body that still has
// it is refused as an unknown field.
type ssoRequest struct {
	Issuer        string `json:"issuer"`
	ClientID      string `json:"client_id"`
	ClientSecret  string `json:"client_secret"`
	ProvisionRole string `json:"provision_role"`
}

// ssoJSON is a configuration as read back: never the secret.
type ssoJSON struct {
	Issuer          string    `json:"issuer"`
	ClientID        string    `json:"client_id"`
	VerifiedDomains []string  `json:"verified_domains"`
	ProvisionRole   string    `json:"provision_role,omitempty"`
	UpdatedAt       time.Time `json:"updated_at"`
	SignInURL       string    `json:"sign_in_url"`
}

// owner returns the member if they own the organization: single sign-on
// is managed by owners only.
func owner(r *http.Request) (authz.Member, error) {
	m, ok := authz.MemberFrom(r.Context())
	if !ok || m.Role != authz.RoleOwner {
		return m, web.Forbidden().WithCause(errors.New("sso configuration is owner-only"))
	}
	return m, nil
}

// getSSO answers GET /sso?org=.
func (s *server) getSSO(w http.ResponseWriter, r *http.Request) error {
	m, err := owner(r)
	if err != nil {
		return err
	}
	c, err := s.d.Store.SSOConfig(r.Context(), m.OrgID)
	if errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	} else if err != nil {
		return web.Unavailable(err)
	}
	return s.writeSSO(w, r, c)
}

// putSSO answers PUT /sso?org=: creates or replaces the configuration,
// sealing the client secret (CRED-1). Step-up required. The issuer's
// discovery document and keys are fetched here, through the outbound
// client (APP-7), and the endpoints stored with the configuration; a
// failure is audited and answered with its cause ([discoveryError]).
func (s *server) putSSO(w http.ResponseWriter, r *http.Request) error {
	m, err := owner(r)
	if err != nil {
		return err
	}
	if err := s.sessions.RequireRecentAuth(r.Context()); err != nil {
		return err
	}
	if err := ratelimit.HTTPError(s.d.Limiter.Allow(r.Context(), ssoSaveUser, m.UserID)); err != nil {
		return err
	}
	var req ssoRequest
	if err := web.DecodeJSON(r, &req); err != nil {
		return err
	}
	if err := s.validateSSO(&req); err != nil {
		return err
	}
	found, err := s.discoverIssuer(r, m, req.Issuer)
	if err != nil {
		return err
	}
	c, err := s.d.Store.SSOConfig(r.Context(), m.OrgID)
	if errors.Is(err, store.ErrNotFound) {
		c = store.SSOConfig{OrgID: m.OrgID, CreatedAt: s.d.Now()}
		if c.ID, err = s.newSSOID(); err != nil {
			return err
		}
	} else if err != nil {
		return web.Unavailable(err)
	}
	c.Issuer, c.ClientID, c.UpdatedBy, c.UpdatedAt = req.Issuer, req.ClientID, m.UserID, s.d.Now()
	c.ProvisionRole = req.ProvisionRole
	c.Discovery = found.stored(s.d.Now())
	if c.ClientSecret, err = s.d.Keyring.Seal(r.Context(), envelope.PurposeCredential, ssoBinding(c), []byte(req.ClientSecret)); err != nil {
		return web.Unavailable(err)
	}
	err = s.d.Store.Tx(r.Context(), func(tx store.Store) error {
		if err := checkProvisionRole(r.Context(), tx, m.OrgID, c.ProvisionRole); err != nil {
			return err
		}
		if err := tx.PutSSOConfig(r.Context(), c); err != nil {
			return err
		}
		_, err := s.d.Audit.RecordTx(r.Context(), tx, audit.Event{Actor: m.UserID, OrgID: m.OrgID, Action: "sso.configure",
			Target: c.ID, Network: s.network(r), Metadata: map[string]any{"issuer": c.Issuer,
				"provision_role": c.ProvisionRole}})
		return err
	})
	var we *web.Error
	if errors.As(err, &we) {
		return err
	} else if err != nil {
		return web.Unavailable(fmt.Errorf("store sso config: %w", err))
	}
	s.signin.cache.Remember(c.Issuer, found.meta.JWKSURL, found.keys)
	return s.writeSSO(w, r, c)
}

// deleteSSO answers DELETE /sso?org=. Step-up required.
func (s *server) deleteSSO(w http.ResponseWriter, r *http.Request) error {
	m, err := owner(r)
	if err != nil {
		return err
	}
	if err := s.sessions.RequireRecentAuth(r.Context()); err != nil {
		return err
	}
	err = s.d.Store.Tx(r.Context(), func(tx store.Store) error {
		if err := tx.DeleteSSOConfig(r.Context(), m.OrgID); err != nil {
			return err
		}
		_, err := s.d.Audit.RecordTx(r.Context(), tx, audit.Event{Actor: m.UserID, OrgID: m.OrgID, Action: "sso.delete",
			Target: m.OrgID, Network: s.network(r)})
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return web.NotFound()
	} else if err != nil {
		return web.Unavailable(err)
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// validateSSO checks and normalizes a configuration (APP-1). The issuer
// must be an https URL the outbound client may request (plain http only
// for tests); a refused address is left to discovery, which reports it
// with its cause.
func (s *server) validateSSO(req *ssoRequest) error {
	v := web.NewValidator()
	u, err := s.client.CheckURL(req.Issuer)
	okURL := err == nil && u.RawQuery == "" && u.Fragment == "" || errors.Is(err, outbound.ErrRefused)
	v.Require(okURL && len(req.Issuer) <= 512, "issuer", "must be the provider's https issuer URL")
	v.Length("client_id", req.ClientID, 1, 256)
	v.Length("client_secret", req.ClientSecret, 1, 512)
	v.Length("provision_role", req.ProvisionRole, 0, 32)
	return v.Err()
}

func (s *server) newSSOID() (string, error) { return randomID(s.d.Rand, "sso_") }

// writeSSO answers a configuration as GET and PUT /sso do, with the
// organization's verified domains.
func (s *server) writeSSO(w http.ResponseWriter, r *http.Request, c store.SSOConfig) error {
	domains, err := s.d.Store.SSODomains(r.Context(), c.OrgID)
	if err != nil {
		return web.Unavailable(err)
	}
	verified := []string{}
	for _, d := range domains {
		if d.Status == store.DomainVerified {
			verified = append(verified, d.Domain)
		}
	}
	return web.WriteJSON(w, http.StatusOK, ssoJSON{Issuer: c.Issuer, ClientID: c.ClientID, VerifiedDomains: verified,
		ProvisionRole: c.ProvisionRole, UpdatedAt: c.UpdatedAt,
		SignInURL: s.callbackBase + "/signin/oidc?org=" + url.QueryEscape(c.OrgID)})
}

// checkProvisionRole accepts no provisioning, a built-in role other than
// owner, or a custom role of the organization.
func checkProvisionRole(ctx context.Context, tx store.Orgs, orgID, role string) error {
	invalid := web.Invalid(map[string]string{"provision_role": "must be empty, a built-in role other than owner, or a custom role of the organization"})
	switch {
	case role == "":
		return nil
	case role == authz.RoleOwner:
		return invalid
	case authz.IsBuiltin(role):
		return nil
	}
	if _, err := tx.OrgRole(ctx, orgID, role); errors.Is(err, store.ErrNotFound) {
		return invalid
	} else if err != nil {
		return err
	}
	return nil
}

// provision makes userID, just signed in through the organization's SSO,
// a member with the configuration's provision role if they are not one
// yet (just-in-time membership). Existing members keep their role. An
// organization that provisions through SCIM gets no just-in-time members,
// and a user its identity provider deprovisioned is never added back
// (AUTHZ-5). A custom role deleted since the configuration was saved
// provisions nothing, and the sign-in goes on. A membership added is
// audited and announced (org.member.added, by "sso") in its transaction.
func (s *server) provision(r *http.Request, c store.SSOConfig, userID string) error {
	if c.OrgID == "" || c.ProvisionRole == "" {
		return nil
	}
	ctx := r.Context()
	err := s.d.Store.Tx(ctx, func(tx store.Store) error {
		if _, err := tx.Member(ctx, c.OrgID, userID); err == nil || !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if scim, err := scimManaged(ctx, tx, c.OrgID, userID); scim || err != nil {
			return err
		}
		if err := checkProvisionRole(ctx, tx, c.OrgID, c.ProvisionRole); err != nil {
			var we *web.Error
			if errors.As(err, &we) {
				s.logger.WarnContext(ctx, "sso provisioning skipped: role no longer exists", "org_id", c.OrgID)
				return nil
			}
			return err
		}
		if err := tx.AddMember(ctx, store.Member{OrgID: c.OrgID, UserID: userID, Role: c.ProvisionRole, CreatedAt: s.d.Now()}); err != nil {
			return err
		}
		_, err := s.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: userID, OrgID: c.OrgID, Action: "org.member.add",
			Target: "user:" + userID, Network: s.network(r), Metadata: map[string]any{"role": c.ProvisionRole, "via": "sso"}})
		if err != nil {
			return err
		}
		return s.d.Events.Emit(ctx, tx, events.Member(events.OrgMemberAdded,
			events.MemberData{OrgID: c.OrgID, UserID: userID, Role: c.ProvisionRole, By: "sso"}))
	})
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil // a concurrent sign-in added them
	case err != nil:
		return fail("unavailable", fmt.Errorf("sso provisioning: %w", err))
	}
	return nil
}

// scimManaged reports whether SCIM decides userID's membership of orgID:
// the organization has a SCIM token, or deprovisioned the user.
func scimManaged(ctx context.Context, tx store.Store, orgID, userID string) (bool, error) {
	if _, err := tx.SCIMTokenOf(ctx, orgID); err == nil {
		return true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	rec, err := tx.SCIMUser(ctx, orgID, userID)
	switch {
	case err == nil:
		return !rec.Active, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}
