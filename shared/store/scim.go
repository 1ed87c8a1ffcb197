package store

import (
	"context"
	"time"
)

// SCIMToken is an organization's provisioning credential (SCIM bearer
// token). Only its SHA-256 is stored: the token carries 256 random bits,
// so a plain hash is enough to make a stolen table useless.
type SCIMToken struct {
	OrgID     string
	Hash      [32]byte
	CreatedBy string
	CreatedAt time.Time
}

// SCIMUser records that an organization's identity provider provisioned a
// user through SCIM. Active false means the provider deactivated the user:
// the membership is gone, and single sign-on does not add it back.
type SCIMUser struct {
	OrgID      string
	UserID     string
	ExternalID string
	Active     bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// SCIM stores provisioning tokens and provisioned users. Every method
// touches one organization only (AUTHZ-3).
type SCIM interface {
	// SetSCIMToken stores t as its organization's only token, replacing an
	// earlier one (rotation). Returns ErrNotFound if the organization does
	// not exist.
	SetSCIMToken(ctx context.Context, t SCIMToken) error
	// SCIMTokenByHash returns the token with this hash, or ErrNotFound.
	SCIMTokenByHash(ctx context.Context, hash [32]byte) (SCIMToken, error)
	// SCIMTokenOf returns orgID's token, or ErrNotFound.
	SCIMTokenOf(ctx context.Context, orgID string) (SCIMToken, error)
	// DeleteSCIMToken removes orgID's token. ErrNotFound if it has none.
	DeleteSCIMToken(ctx context.Context, orgID string) error
	// PutSCIMUser inserts u or replaces the record of the same
	// organization and user (its CreatedAt is kept).
	PutSCIMUser(ctx context.Context, u SCIMUser) error
	// SCIMUser returns the record of userID in orgID, or ErrNotFound.
	SCIMUser(ctx context.Context, orgID, userID string) (SCIMUser, error)
	// SCIMUsers returns up to limit records of orgID ordered by user id,
	// skipping the first offset, and how many orgID has in all.
	SCIMUsers(ctx context.Context, orgID string, offset, limit int) ([]SCIMUser, int, error)
	// DeleteSCIMUser removes the record. ErrNotFound if there is none.
	DeleteSCIMUser(ctx context.Context, orgID, userID string) error
}
