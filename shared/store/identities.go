package store

import (
	"context"
	"time"
)

// Identity links a user to an account at an identity provider (sign-in
// with Google, GitHub or an organization's OIDC provider). Only the
// provider's name and its opaque subject are kept (AUTH-10).
type Identity struct {
	ID        string // opaque, what the user names to unlink it
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
	// are linked already (to anyone), or the id exists.
	LinkIdentity(ctx context.Context, id Identity) error
	// UserIdentities returns the user's links, oldest first.
	UserIdentities(ctx context.Context, userID string) ([]Identity, error)
	// DeleteIdentity deletes the user's link with this id and returns it.
	// Returns ErrNotFound if the user has no such link (another user's
	// link included).
	DeleteIdentity(ctx context.Context, userID, id string) (Identity, error)
	// ProveEmail records that the holder of the user's address proved it
	// at at (a password-reset or confirmation link was used). An address
	// proven for the first time (EmailVerifiedAt was zero) gets
	// EmailVerifiedAt = at, and every identity linked before, which no
	// proven holder of the address linked, is deleted. An address proven
	// before keeps its time and loses only identities linked before that
	// time. It returns the deleted identities. Returns ErrNotFound for an
	// unknown user.
	ProveEmail(ctx context.Context, userID string, at time.Time) ([]Identity, error)
}
