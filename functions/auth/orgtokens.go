package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/authz"
	"github.com/gatehouse-dev/gatehouse/shared/session"
	"github.com/gatehouse-dev/gatehouse/shared/token"
)

// orgClaims gives the session manager a member's standing for
// organization-scoped tokens, read through the authorizer so a token
// grants exactly what the API would.
type orgClaims struct{ authz *authz.Authorizer }

// OrgClaims implements [session.Orgs].
func (o orgClaims) OrgClaims(ctx context.Context, orgID, userID string) (token.Org, error) {
	m, err := o.authz.Member(ctx, orgID, userID)
	switch {
	case errors.Is(err, authz.ErrNotMember):
		return token.Org{}, fmt.Errorf("org %s: %w", orgID, session.ErrNotMember)
	case err != nil:
		return token.Org{}, err
	}
	perms := make([]string, len(m.Permissions))
	for i, p := range m.Permissions {
		perms[i] = string(p)
	}
	return token.Org{ID: orgID, Role: m.Role, Permissions: perms}, nil
}
