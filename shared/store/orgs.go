package store

import (
	"context"
	"errors"
	"time"
)

// RoleOwner is the role of an organization's one owner. The store keeps
// exactly one member in it per organization: it is set by [Orgs.CreateOrg]
// and moved only by [Orgs.TransferOwnership].
const RoleOwner = "owner"

// ErrOwner means a write would leave an organization without exactly one
// owner: giving someone the owner role other than by transfer, changing or
// removing the owner's membership, or a transfer from someone who is not
// the owner.
var ErrOwner = errors.New("store: an organization has exactly one owner, changed only by transfer")

// Org is an organization: the tenant every customer record belongs to.
type Org struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// Member is one user's membership of one organization.
type Member struct {
	OrgID     string
	UserID    string
	Role      string // "owner", "admin", "operator", "viewer" or a custom role's name
	CreatedAt time.Time
	UpdatedAt time.Time
}

// UserOrg is an organization as seen by one of its members.
type UserOrg struct {
	Org
	Role string
}

// OrgRole is a custom role: a named set of permissions of one organization.
type OrgRole struct {
	OrgID       string
	Name        string
	Permissions []string // permission names, validated by the caller (shared/authz)
	CreatedAt   time.Time
}

// Orgs stores organizations, memberships and custom roles. Every method
// that reads or changes an organization's data takes the organization's id
// and touches nothing outside it (AUTHZ-3). Methods that change
// memberships lock the organization first, so concurrent changes to one
// organization are serialized.
type Orgs interface {
	// CreateOrg inserts o and makes ownerID its owner, in one transaction.
	// Returns ErrConflict if the id exists.
	CreateOrg(ctx context.Context, o Org, ownerID string) error
	// Org returns the organization, or ErrNotFound.
	Org(ctx context.Context, id string) (Org, error)
	// ListOrgs returns up to limit organizations (at most [MaxUserPage])
	// whose id sorts after after, in id order.
	ListOrgs(ctx context.Context, after string, limit int) ([]Org, error)
	// UserOrgs returns the organizations userID is a member of, with the
	// user's role in each, ordered by name then id.
	UserOrgs(ctx context.Context, userID string) ([]UserOrg, error)
	// Member returns userID's membership of orgID, or ErrNotFound.
	Member(ctx context.Context, orgID, userID string) (Member, error)
	// LockMember returns userID's membership of orgID after locking the
	// organization for the rest of the transaction (call it inside
	// [Store.Tx]): every membership or role change to the organization
	// takes the same lock, so what it returns stays true until the caller
	// commits. ErrNotFound if the organization or the membership does not
	// exist.
	LockMember(ctx context.Context, orgID, userID string) (Member, error)
	// Members returns up to limit members of orgID whose user id sorts after
	// after ("" for the first page), ordered by user id.
	Members(ctx context.Context, orgID, after string, limit int) ([]Member, error)
	// AddMember inserts m. Returns ErrOwner if m.Role is [RoleOwner],
	// ErrNotFound if the organization does not exist, ErrConflict if the
	// user is already a member.
	AddMember(ctx context.Context, m Member) error
	// SetMemberRole gives a member another role and returns the membership
	// as it was. Returns ErrNotFound if userID is not a member of orgID,
	// ErrOwner if the member is the owner or role is [RoleOwner].
	SetMemberRole(ctx context.Context, orgID, userID, role string, now time.Time) (Member, error)
	// RemoveMember deletes a membership and returns it. Returns ErrNotFound
	// if userID is not a member of orgID, ErrOwner if userID is the owner.
	RemoveMember(ctx context.Context, orgID, userID string) (Member, error)
	// TransferOwnership makes toUserID, already a member, the owner, and
	// fromUserID, the current owner, an admin, in one transaction. Returns
	// ErrOwner if fromUserID is not the owner (a concurrent transfer won),
	// ErrNotFound if toUserID is not a member, ErrConflict if from and to
	// are the same user.
	TransferOwnership(ctx context.Context, orgID, fromUserID, toUserID string, now time.Time) error
	// CreateOrgRole inserts a custom role. Returns ErrNotFound if the
	// organization does not exist, ErrConflict if the name is taken.
	CreateOrgRole(ctx context.Context, r OrgRole) error
	// OrgRole returns a custom role of orgID, or ErrNotFound.
	OrgRole(ctx context.Context, orgID, name string) (OrgRole, error)
	// OrgRoles returns the custom roles of orgID ordered by name.
	OrgRoles(ctx context.Context, orgID string) ([]OrgRole, error)
	// SetOrgRolePermissions replaces a custom role's permissions and
	// returns the role as it was. Returns ErrNotFound if there is no such role.
	SetOrgRolePermissions(ctx context.Context, orgID, name string, permissions []string) (OrgRole, error)
	// DeleteOrgRole deletes a custom role and returns it. Returns
	// ErrNotFound if there is no such role, ErrConflict (deleting nothing)
	// while a member holds it or the organization's SSO provisions it.
	DeleteOrgRole(ctx context.Context, orgID, name string) (OrgRole, error)
	// DeleteUserMemberships removes every membership of userID (account
	// deletion) and returns how many there were. Returns ErrOwner, and
	// removes nothing, if the user owns an organization.
	DeleteUserMemberships(ctx context.Context, userID string) (int64, error)
	// DeleteOrg deletes the organization with its memberships, custom
	// roles, OAuth connections (their sealed tokens with them), SSO
	// and SAML configurations and the one-time tokens scoped to it (pending
	// invitations), and returns what it removed. Billing records, webhook
	// events and audit events are kept for their retention. Returns
	// ErrNotFound if the organization does not exist, ErrOwner (removing
	// nothing) if ownerID is not its owner, say after a concurrent transfer.
	DeleteOrg(ctx context.Context, orgID, ownerID string) (OrgDeletion, error)
}

// OrgDeletion counts what [Orgs.DeleteOrg] removed.
type OrgDeletion struct {
	Members     int64
	Roles       int64
	Connections int64
	Tokens      int64 // one-time tokens scoped to the organization
	SSO         bool
	Domains     int64 // single sign-on domain claims
}
