package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const connectionColumns = `id, org_id, platform, account, scopes, status, status_reason,
	access_token, refresh_token, token_type, expires_at, created_by, created_at, updated_at,
	refreshed_at, status_at`

func scanConnection(r Row) (store.Connection, error) {
	var c store.Connection
	var scopes, status string
	var expires, refreshed *time.Time
	err := r.Scan(&c.ID, &c.OrgID, &c.Platform, &c.Account, &scopes, &status, &c.StatusReason,
		&c.AccessToken, &c.RefreshToken, &c.TokenType, &expires, &c.CreatedBy, &c.CreatedAt, &c.UpdatedAt,
		&refreshed, &c.StatusAt)
	c.Scopes = strings.Fields(scopes)
	c.Status = store.ConnectionStatus(status)
	if expires != nil {
		c.ExpiresAt = *expires
	}
	if refreshed != nil {
		c.RefreshedAt = *refreshed
	}
	return c, err
}

// sealedKeyID returns envelope.KeyID of ct, or nil for a nil ct, so the
// companion key-id column is always in sync with its ciphertext.
func sealedKeyID(ct []byte) (*string, error) {
	if ct == nil {
		return nil, nil
	}
	id, err := envelope.KeyID(ct)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

// connNullTime returns nil for the zero time, so it is stored as NULL.
func connNullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// CreateConnection implements [store.Connections].
func (db *DB) CreateConnection(ctx context.Context, c store.Connection) error {
	if c.Status != store.ConnectionActive {
		return fmt.Errorf("insert connection %s: status %q, want active", c.ID, c.Status)
	}
	accessKey, err := sealedKeyID(c.AccessToken)
	if err != nil || accessKey == nil {
		return fmt.Errorf("insert connection %s: access token is not a ciphertext: %v", c.ID, err)
	}
	refreshKey, err := sealedKeyID(c.RefreshToken)
	if err != nil {
		return fmt.Errorf("insert connection %s: refresh token: %w", c.ID, err)
	}
	_, err = db.conn.Exec(ctx, `INSERT INTO connections (id, org_id, platform, account, scopes, status,
		status_reason, access_token, access_token_key_id, refresh_token, refresh_token_key_id, token_type,
		expires_at, created_by, created_at, updated_at, status_at)
		VALUES ($1, $2, $3, $4, $5, $6, '', $7, $8, $9, $10, $11, $12, $13, $14, $14, $14)`,
		c.ID, c.OrgID, c.Platform, c.Account, strings.Join(c.Scopes, " "), string(c.Status),
		c.AccessToken, accessKey, c.RefreshToken, refreshKey, c.TokenType, connNullTime(c.ExpiresAt),
		c.CreatedBy, c.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert connection %s: %w", c.ID, err)
	}
	return nil
}

// Connection implements [store.Connections].
func (db *DB) Connection(ctx context.Context, orgID, id string) (store.Connection, error) {
	return scanConnection(db.conn.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections
		WHERE org_id = $1 AND id = $2`, orgID, id))
}

// LockConnection implements [store.Connections].
func (db *DB) LockConnection(ctx context.Context, orgID, id string) (store.Connection, error) {
	return scanConnection(db.conn.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections
		WHERE org_id = $1 AND id = $2`+db.dialect.ForUpdate, orgID, id))
}

// CurrentConnection implements [store.Connections].
func (db *DB) CurrentConnection(ctx context.Context, orgID, platform, account string) (store.Connection, error) {
	return scanConnection(db.conn.QueryRow(ctx, `SELECT `+connectionColumns+` FROM connections
		WHERE org_id = $1 AND platform = $2 AND account = $3 AND status <> 'revoked'`, orgID, platform, account))
}

// ListConnections implements [store.Connections].
func (db *DB) ListConnections(ctx context.Context, orgID string) ([]store.Connection, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+connectionColumns+` FROM connections
		WHERE org_id = $1 ORDER BY created_at DESC, id`, orgID)
	return collect(rows, err, func(r Rows) (store.Connection, error) { return scanConnection(r) })
}

// UpdateConnectionTokens implements [store.Connections]. One UPDATE writes
// the access token, the refresh token (or keeps the stored one) and the
// expiry together, so no reader sees a new access token with an old
// refresh token.
func (db *DB) UpdateConnectionTokens(ctx context.Context, orgID, id string, t store.ConnectionTokens, now time.Time) error {
	accessKey, err := sealedKeyID(t.AccessToken)
	if err != nil || accessKey == nil {
		return fmt.Errorf("update connection %s: access token is not a ciphertext: %v", id, err)
	}
	refreshKey, err := sealedKeyID(t.RefreshToken)
	if err != nil {
		return fmt.Errorf("update connection %s: refresh token: %w", id, err)
	}
	var scopes *string
	if t.Scopes != nil {
		s := strings.Join(t.Scopes, " ")
		scopes = &s
	}
	n, err := db.conn.Exec(ctx, `UPDATE connections SET
		access_token = $3, access_token_key_id = $4,
		refresh_token = COALESCE($5, refresh_token), refresh_token_key_id = COALESCE($6, refresh_token_key_id),
		token_type = $7, expires_at = $8, scopes = COALESCE($9, scopes),
		status = 'active', status_reason = '',
		status_at = CASE WHEN status = 'active' THEN status_at ELSE $10 END,
		refreshed_at = $10, updated_at = $10
		WHERE org_id = $1 AND id = $2 AND status <> 'revoked'`,
		orgID, id, t.AccessToken, accessKey, t.RefreshToken, refreshKey, t.TokenType, connNullTime(t.ExpiresAt), scopes, now)
	if err != nil {
		return fmt.Errorf("update connection %s tokens: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("update connection %s tokens: %w", id, store.ErrNotFound)
	}
	return nil
}

// Status moves a connection may make, as complete statements.
const (
	setInvalidSQL = `UPDATE connections SET status = $3, status_reason = $4, status_at = $5, updated_at = $5
		WHERE org_id = $1 AND id = $2 AND status = 'active'`
	setRevokedSQL = `UPDATE connections SET status = $3, status_reason = $4, status_at = $5, updated_at = $5
		WHERE org_id = $1 AND id = $2 AND status <> 'revoked'`
)

// SetConnectionStatus implements [store.Connections].
func (db *DB) SetConnectionStatus(ctx context.Context, orgID, id string, status store.ConnectionStatus, reason string, now time.Time) error {
	var n int64
	var err error
	switch status {
	case store.ConnectionInvalid:
		n, err = db.conn.Exec(ctx, setInvalidSQL, orgID, id, string(status), reason, now)
	case store.ConnectionRevoked:
		n, err = db.conn.Exec(ctx, setRevokedSQL, orgID, id, string(status), reason, now)
	default:
		return fmt.Errorf("set connection %s status: cannot move to %q", id, status)
	}
	if err != nil {
		return fmt.Errorf("set connection %s %s: %w", id, status, err)
	}
	if n == 0 {
		return fmt.Errorf("set connection %s %s: %w", id, status, store.ErrNotFound)
	}
	return nil
}

// ShopConnected implements [store.Connections].
func (db *DB) ShopConnected(ctx context.Context, shop string) (string, error) {
	var org string
	err := db.conn.QueryRow(ctx, `SELECT org_id FROM connections
		WHERE platform = $1 AND account = $2 AND status = 'active'`, store.PlatformShopify, strings.ToLower(shop)).Scan(&org)
	if err != nil {
		return "", fmt.Errorf("find shop connection: %w", err)
	}
	return org, nil
}

// RevokeShopConnection implements [store.Connections].
func (db *DB) RevokeShopConnection(ctx context.Context, shop, reason string, now time.Time) (store.Connection, error) {
	c, err := scanConnection(db.conn.QueryRow(ctx, `UPDATE connections
		SET status = 'revoked', status_reason = $3, status_at = $4, updated_at = $4
		WHERE platform = $1 AND account = $2 AND status = 'active'
		RETURNING `+connectionColumns, store.PlatformShopify, strings.ToLower(shop), reason, now))
	if err != nil {
		return c, fmt.Errorf("revoke shop connection: %w", err)
	}
	return c, nil
}

// PurgeRevokedCredentials implements [store.Connections].
func (db *DB) PurgeRevokedCredentials(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.conn.Exec(ctx, `UPDATE connections SET access_token = NULL, access_token_key_id = NULL,
		refresh_token = NULL, refresh_token_key_id = NULL
		WHERE status <> 'active' AND status_at < $1 AND (access_token IS NOT NULL OR refresh_token IS NOT NULL)`, before)
	if err != nil {
		return 0, fmt.Errorf("purge revoked credentials: %w", err)
	}
	return n, nil
}

// UseOAuthNonce implements [store.Connections]. The primary key decides:
// of concurrent inserts of one hash, the database commits exactly one.
func (db *DB) UseOAuthNonce(ctx context.Context, hash [32]byte, expiresAt time.Time) error {
	n, err := db.conn.Exec(ctx, `INSERT INTO oauth_nonces (hash, expires_at) VALUES ($1, $2)
		ON CONFLICT (hash) DO NOTHING`, hash[:], expiresAt)
	if err != nil {
		return fmt.Errorf("record oauth nonce: %w", err)
	}
	if n == 0 {
		return store.ErrUsed
	}
	return nil
}

// PurgeOAuthNonces implements [store.Connections].
func (db *DB) PurgeOAuthNonces(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.conn.Exec(ctx, `DELETE FROM oauth_nonces WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge oauth nonces: %w", err)
	}
	return n, nil
}
