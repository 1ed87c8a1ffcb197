// Package authz decides what a signed-in user may do in an organization:
// the built-in roles, custom roles as named permission sets, and the
// request middleware every function puts in front of its organization
// routes. It denies by default: a route without [Authorizer.Require], an
// unknown permission, a user who is not a member, or a role that does not
// grant the permission all get 403 (AUTHZ-1, AUTHZ-2, AUTHZ-3).
package authz

import (
	"fmt"
	"regexp"
	"slices"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Permission is one thing a member may do in an organization.
type Permission string

// The permissions. Owner-only ones ([Permission.OwnerOnly]) are held by the
// owner alone and cannot be put in a custom role.
const (
	// PermRead reads the organization's data (members, roles, connections, billing status).
	PermRead Permission = "read"
	// PermFeaturesUse uses the product's features with the organization's integrations.
	PermFeaturesUse Permission = "features.use"
	// PermMembersManage invites, removes and changes the roles of members, and manages custom roles.
	PermMembersManage Permission = "members.manage"
	// PermIntegrationsManage connects and disconnects integrations and manages their credentials.
	PermIntegrationsManage Permission = "integrations.manage"
	// PermAuditRead reads the organization's audit trail.
	PermAuditRead Permission = "audit.read"
	// PermBillingManage changes plan, payment method and billing details. Owner only.
	PermBillingManage Permission = "billing.manage"
	// PermOrgDelete deletes the organization. Owner only.
	PermOrgDelete Permission = "org.delete"
	// PermOwnershipTransfer hands the owner role to another member. Owner only.
	PermOwnershipTransfer Permission = "org.transfer"
)

// Permissions returns every permission, in a fixed order.
func Permissions() []Permission {
	return []Permission{PermRead, PermFeaturesUse, PermMembersManage, PermIntegrationsManage, PermAuditRead,
		PermBillingManage, PermOrgDelete, PermOwnershipTransfer}
}

// Valid reports whether p is one of [Permissions].
func (p Permission) Valid() bool { return slices.Contains(Permissions(), p) }

// OwnerOnly reports whether only the owner may hold p.
func (p Permission) OwnerOnly() bool {
	return p == PermBillingManage || p == PermOrgDelete || p == PermOwnershipTransfer
}

// BuiltinOnly reports whether p is held only through the built-in roles
// that grant it and can never be put in a custom role: the owner-only
// permissions, and audit.read, which AUDIT-4 reserves to owners and admins.
func (p Permission) BuiltinOnly() bool { return p.OwnerOnly() || p == PermAuditRead }

// Built-in roles. Every other role name is a custom role of one organization.
const (
	RoleOwner    = store.RoleOwner // everything; exactly one per organization
	RoleAdmin    = "admin"         // members, integrations, all features, audit; no billing, deletion or transfer
	RoleOperator = "operator"      // features; no members or credentials
	RoleViewer   = "viewer"        // read only
)

// BuiltinRoles returns the built-in role names, most powerful first.
func BuiltinRoles() []string { return []string{RoleOwner, RoleAdmin, RoleOperator, RoleViewer} }

// IsBuiltin reports whether role is a built-in role.
func IsBuiltin(role string) bool { return slices.Contains(BuiltinRoles(), role) }

// BuiltinPermissions returns what a built-in role grants, and false for any
// other name.
func BuiltinPermissions(role string) ([]Permission, bool) {
	switch role {
	case RoleOwner:
		return Permissions(), true
	case RoleAdmin:
		return []Permission{PermRead, PermFeaturesUse, PermMembersManage, PermIntegrationsManage, PermAuditRead}, true
	case RoleOperator:
		return []Permission{PermRead, PermFeaturesUse}, true
	case RoleViewer:
		return []Permission{PermRead}, true
	}
	return nil, false
}

var customRoleName = regexp.MustCompile(`^[a-z][a-z0-9_-]{1,31}$`)

// ValidCustomRoleName reports whether name may name a custom role: 2 to 32
// characters of lowercase letters, digits, '_' and '-', starting with a
// letter, and not a built-in role's name.
func ValidCustomRoleName(name string) bool {
	return customRoleName.MatchString(name) && !IsBuiltin(name)
}

// ParseCustomPermissions checks the permission names of a custom role:
// each must be known, not built-in only ([Permission.BuiltinOnly]), and
// appear once. It returns them in
// the order of [Permissions].
func ParseCustomPermissions(names []string) ([]Permission, error) {
	if len(names) == 0 {
		return nil, fmt.Errorf("a custom role needs at least one permission")
	}
	seen := map[Permission]bool{}
	for _, n := range names {
		p := Permission(n)
		switch {
		case !p.Valid():
			return nil, fmt.Errorf("unknown permission %q", n)
		case p.OwnerOnly():
			return nil, fmt.Errorf("permission %q is the owner's alone", n)
		case p.BuiltinOnly():
			return nil, fmt.Errorf("permission %q is for owners and admins only", n)
		case seen[p]:
			return nil, fmt.Errorf("permission %q listed twice", n)
		}
		seen[p] = true
	}
	var out []Permission
	for _, p := range Permissions() {
		if seen[p] {
			out = append(out, p)
		}
	}
	return out, nil
}

// Member is a user's standing in one organization, as the middleware found it.
type Member struct {
	UserID      string
	OrgID       string
	Role        string
	Permissions []Permission
	Checked     Permission // the permission [Authorizer.Require] admitted the request for
}

// Can reports whether the member holds p.
func (m Member) Can(p Permission) bool { return p.Valid() && slices.Contains(m.Permissions, p) }
