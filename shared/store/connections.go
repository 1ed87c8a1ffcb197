package store

import (
	"context"
	"time"
)

// ConnectionStatus is the life-cycle state of a third-party connection.
type ConnectionStatus string

const (
	// ConnectionActive credentials may be used.
	ConnectionActive ConnectionStatus = "active"
	// ConnectionInvalid credentials failed (the provider refused the refresh
	// token, or the ciphertext did not open) and need re-authorization.
	// Re-authorizing the same account makes the connection active again.
	ConnectionInvalid ConnectionStatus = "invalid"
	// ConnectionRevoked is final: nothing can make the connection active
	// again or read its tokens for use (CRED-6).
	ConnectionRevoked ConnectionStatus = "revoked"
)

// PlatformShopify names the Shopify platform, whose Account is the shop's
// myshopify.com domain; a shop is active in at most one organization.
const PlatformShopify = "shopify"

// Connection is an organization's authorization at a third-party platform.
// AccessToken and RefreshToken are envelope ciphertexts (purpose credential,
// binding {OrgID, ID, "connections.access_token" / "connections.refresh_token"});
// both are nil once purged.
type Connection struct {
	ID           string
	OrgID        string
	Platform     string // registry name, e.g. "google_ads", "shopify"
	Account      string // shop domain for Shopify, else a label ("" if none)
	Scopes       []string
	Status       ConnectionStatus
	StatusReason string // why it is not active: "disconnected", "invalid_grant", "decrypt_failed", ...
	AccessToken  []byte
	RefreshToken []byte // nil when the provider issued none
	TokenType    string
	ExpiresAt    time.Time // access-token expiry; zero when the provider gave none
	CreatedBy    string    // user id
	CreatedAt    time.Time
	UpdatedAt    time.Time
	RefreshedAt  time.Time // zero until the first refresh or re-authorization
	StatusAt     time.Time // when Status last changed
}

// ConnectionTokens is a new set of sealed tokens for a connection.
type ConnectionTokens struct {
	AccessToken  []byte
	RefreshToken []byte // nil keeps the stored refresh token
	TokenType    string
	ExpiresAt    time.Time
	Scopes       []string // nil keeps the stored scopes
}

// Connections stores third-party connections and the single-use marks of
// OAuth state nonces. Every method that reads or changes a connection takes
// the organization and matches it in the query: another organization's
// connection is ErrNotFound (AUTHZ-3).
type Connections interface {
	// CreateConnection inserts c, which must be active. Returns ErrConflict
	// if the id exists, if the organization already has a connection that
	// is not revoked for the same platform and account, or if c is a
	// Shopify shop active in another organization.
	CreateConnection(ctx context.Context, c Connection) error
	// Connection returns connection id of organization orgID, or ErrNotFound.
	Connection(ctx context.Context, orgID, id string) (Connection, error)
	// LockConnection is [Connections.Connection] that also locks the row
	// until the transaction ends (call it inside Tx): concurrent lockers of
	// the same connection, on any instance, wait for each other.
	LockConnection(ctx context.Context, orgID, id string) (Connection, error)
	// CurrentConnection returns the organization's connection for platform
	// and account that is not revoked, or ErrNotFound.
	CurrentConnection(ctx context.Context, orgID, platform, account string) (Connection, error)
	// ListConnections returns the organization's connections, newest first.
	ListConnections(ctx context.Context, orgID string) ([]Connection, error)
	// UpdateConnectionTokens stores new tokens in one statement, makes the
	// connection active and sets RefreshedAt to now. Returns ErrNotFound if
	// the connection does not exist in orgID or is revoked.
	UpdateConnectionTokens(ctx context.Context, orgID, id string, t ConnectionTokens, now time.Time) error
	// SetConnectionStatus moves a connection to invalid (only from active)
	// or revoked (from active or invalid) with a reason. Returns ErrNotFound
	// if the connection does not exist in orgID or cannot make that move.
	SetConnectionStatus(ctx context.Context, orgID, id string, status ConnectionStatus, reason string, now time.Time) error
	// ShopConnected returns the organization whose active Shopify connection
	// is shop (a myshopify.com domain, compared lower-case), or ErrNotFound.
	ShopConnected(ctx context.Context, shop string) (orgID string, err error)
	// RevokeShopConnection marks the active connection of shop revoked with
	// reason (e.g. "app_uninstalled") and returns it as it is now. Returns
	// ErrNotFound if the shop has no active connection.
	RevokeShopConnection(ctx context.Context, shop, reason string, now time.Time) (Connection, error)
	// PurgeRevokedCredentials erases the ciphertexts of revoked and invalid
	// connections whose status changed before before, keeping the rows, and
	// returns how many connections it cleared.
	PurgeRevokedCredentials(ctx context.Context, before time.Time) (int64, error)

	// UseOAuthNonce records the SHA-256 of a state nonce as used until
	// expiresAt. Of any number of concurrent calls with one hash, exactly
	// one succeeds; the others get ErrUsed.
	UseOAuthNonce(ctx context.Context, hash [32]byte, expiresAt time.Time) error
	// PurgeOAuthNonces deletes used-nonce records that expired before before.
	PurgeOAuthNonces(ctx context.Context, before time.Time) (int64, error)
}
