package store

import (
	"context"
	"time"
)

// OrgPolicy is what an organization requires of its members' sign-ins.
// The zero value requires nothing.
type OrgPolicy struct {
	OrgID string
	// RequireSSO: members whose address is on one of the organization's
	// verified domains sign in only through its single sign-on (the owner
	// keeps a password or passkey: the break-glass path).
	RequireSSO bool
	// RequireMFA: the organization's routes answer only sessions that
	// passed a second factor.
	RequireMFA bool
	// MaxSessionAge, when not zero, bounds how old a session may be to
	// reach the organization's routes (within the global absolute limit).
	MaxSessionAge time.Duration
	// IdleTimeout, when not zero, bounds how long ago a session may have
	// last been refreshed to reach the organization's routes (within the
	// global idle timeout).
	IdleTimeout time.Duration
	UpdatedBy   string
	UpdatedAt   time.Time
}

// OrgPolicies stores organizations' sign-in policies.
type OrgPolicies interface {
	// OrgPolicy returns orgID's policy, or ErrNotFound if it never set one.
	OrgPolicy(ctx context.Context, orgID string) (OrgPolicy, error)
	// PutOrgPolicy inserts or replaces p. Returns ErrNotFound if the
	// organization does not exist.
	PutOrgPolicy(ctx context.Context, p OrgPolicy) error
}
