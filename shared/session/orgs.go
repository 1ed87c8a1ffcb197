package session

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/token"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// maxOrgIDLen bounds the organization a client asks a token for.
const maxOrgIDLen = 64

// Orgs reports a user's standing in an organization, for
// organization-scoped access tokens. The auth function implements it on
// shared/authz, which imports this package (hence an interface here).
type Orgs interface {
	// OrgClaims returns userID's role and permissions in orgID as they are
	// now, or an error wrapping [ErrNotMember].
	OrgClaims(ctx context.Context, orgID, userID string) (token.Org, error)
}

// ErrNotMember means the user is not a member of the organization.
var ErrNotMember = errors.New("session: not a member of the organization")

// errNotMember is the answer to a request for a token of an organization
// the user is not in: the same 403 whether or not the organization exists.
var errNotMember = web.Forbidden()

// orgClaims returns the organization claims for a token of userID scoped
// to orgID, nil for orgID "". Errors are *web.Error.
func (m *Manager) orgClaims(ctx context.Context, orgID, userID string) (*token.Org, error) {
	if orgID == "" {
		return nil, nil
	}
	if m.cfg.Orgs == nil {
		return nil, web.BadRequest("organization_unsupported", "Organization-scoped tokens are not available here.")
	}
	o, err := m.cfg.Orgs.OrgClaims(ctx, orgID, userID)
	switch {
	case errors.Is(err, ErrNotMember):
		return nil, errNotMember
	case err != nil:
		return nil, web.Unavailable(fmt.Errorf("read membership for an organization token: %w", err))
	}
	return &o, nil
}

// CurrentOrg re-reads the standing that an organization-scoped token
// claims: the claims as they are now, or [ErrNotMember] (wrapped) if the
// user left. For introspection, which must see a role change at once. p
// must come from an organization-scoped token.
func (m *Manager) CurrentOrg(ctx context.Context, p Principal) (token.Org, error) {
	if p.Token.Org == nil || m.cfg.Orgs == nil {
		return token.Org{}, fmt.Errorf("principal has no organization: %w", ErrNotMember)
	}
	return m.cfg.Orgs.OrgClaims(ctx, p.Token.Org.ID, p.UserID)
}
