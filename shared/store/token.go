package store

import (
	"context"
	"time"
)

// OneTimeToken is a single-use secret (password reset, magic link, sign-up
// confirmation, invitation) as stored: only the SHA-256 of the secret is kept.
type OneTimeToken struct {
	Hash      [32]byte
	Purpose   string // "password_reset", "magic_link", ...
	Subject   string // what the token acts on, e.g. a user id or an email address
	Scope     string // what it belongs to, for listing (an invitation's organization); "" for none
	Data      string // purpose-specific JSON, no secrets
	CreatedAt time.Time
	ExpiresAt time.Time
	UsedAt    time.Time // zero until consumed
}

// OneTimeTokens stores single-use tokens.
type OneTimeTokens interface {
	// CreateOneTimeToken stores t. Returns ErrConflict if the hash exists.
	CreateOneTimeToken(ctx context.Context, t OneTimeToken) error
	// ConsumeOneTimeToken marks the token with this purpose and hash used
	// at now and returns it. Of any number of concurrent calls exactly one
	// succeeds; the others get ErrUsed. Returns ErrNotFound for an unknown
	// hash or another purpose, ErrExpired past ExpiresAt (and does not
	// consume it).
	ConsumeOneTimeToken(ctx context.Context, purpose string, hash [32]byte, now time.Time) (OneTimeToken, error)
	// SupersedeOneTimeTokens stores t and, in the same transaction,
	// deletes every unused token of t's purpose and subject: a newer link
	// of a kind invalidates the older ones. Returns ErrConflict if the
	// hash exists.
	SupersedeOneTimeTokens(ctx context.Context, t OneTimeToken) error
	// OneTimeToken returns the token with this purpose and hash without
	// consuming it, so a caller can check a request fully before spending
	// it. Returns ErrNotFound for an unknown hash or another purpose,
	// ErrUsed once consumed, ErrExpired past ExpiresAt.
	OneTimeToken(ctx context.Context, purpose string, hash [32]byte, now time.Time) (OneTimeToken, error)
	// PendingOneTimeTokens returns the tokens of purpose and scope (which
	// must not be empty) that are neither used nor expired at now, oldest
	// first.
	PendingOneTimeTokens(ctx context.Context, purpose, scope string, now time.Time) ([]OneTimeToken, error)
	// RevokeOneTimeToken deletes the unused token with this purpose, scope
	// and hash. Returns ErrNotFound if there is none (another scope's, or
	// used).
	RevokeOneTimeToken(ctx context.Context, purpose, scope string, hash [32]byte) error
	// PurgeOneTimeTokens deletes tokens that expired before now.
	PurgeOneTimeTokens(ctx context.Context, before time.Time) (int64, error)
}
