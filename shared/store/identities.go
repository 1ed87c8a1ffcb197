package store

import (
	"context"
	"time"
)

// Identity links a user to an account at an identity provider (sign-in
// with Google, GitHub or an organization's OIDC provider). Only the
// provider's name and its opaque subject are kept (AUTH-10).
type Identity struct {
	Provider  string // "google", "github", or "oidc:" + the issuer URL
	Subject   string // the provider's stable, opaque user id
	UserID    string
	CreatedAt time.Time
}

// Identities stores identity links. Deleting a user deletes its links.
type Identities interface {
	// IdentityUser returns the id of the user linked to provider and
	// subject, or ErrNotFound.
	IdentityUser(ctx context.Context, provider, subject string) (string, error)
	// LinkIdentity stores id. Returns ErrConflict if provider and subject
	// are linked already (to anyone).
	LinkIdentity(ctx context.Context, id Identity) error
	// UserIdentities returns the user's links, oldest first.
	UserIdentities(ctx context.Context, userID string) ([]Identity, error)
}
