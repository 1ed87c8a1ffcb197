package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const ssoColumns = `id, org_id, issuer, client_id, client_secret, updated_by, created_at, updated_at, provision_role, discovery`

func scanSSOConfig(r Row) (store.SSOConfig, error) {
	var c store.SSOConfig
	var discovery string
	err := r.Scan(&c.ID, &c.OrgID, &c.Issuer, &c.ClientID, &c.ClientSecret, &c.UpdatedBy,
		&c.CreatedAt, &c.UpdatedAt, &c.ProvisionRole, &discovery)
	if err == nil && discovery != "" {
		if err = json.Unmarshal([]byte(discovery), &c.Discovery); err != nil {
			err = fmt.Errorf("read sso discovery of %s: %w", c.ID, err)
		}
	}
	return c, err
}

// ssoDiscovery encodes d for the discovery column ("" when not discovered).
func ssoDiscovery(d store.SSODiscovery) (string, error) {
	if d.AuthURL == "" {
		return "", nil
	}
	d.DiscoveredAt = d.DiscoveredAt.UTC()
	b, err := json.Marshal(d)
	return string(b), err
}

// PutSSOConfig implements [store.SSOConfigs].
func (db *DB) PutSSOConfig(ctx context.Context, c store.SSOConfig) error {
	keyID, err := sealedKeyID(c.ClientSecret)
	if err != nil || keyID == nil {
		return fmt.Errorf("put sso config %s: client secret is not a ciphertext: %v", c.ID, err)
	}
	discovery, err := ssoDiscovery(c.Discovery)
	if err != nil {
		return fmt.Errorf("put sso config %s: %w", c.ID, err)
	}
	return db.tx(ctx, func(conn Conn) error {
		n, err := conn.Exec(ctx, `UPDATE sso_configs SET issuer = $3, client_id = $4, client_secret = $5,
			client_secret_key_id = $6, updated_by = $7, updated_at = $8, provision_role = $9, discovery = $10
			WHERE id = $1 AND org_id = $2`, c.ID, c.OrgID, c.Issuer, c.ClientID, c.ClientSecret, *keyID,
			c.UpdatedBy, c.UpdatedAt, c.ProvisionRole, discovery)
		if err != nil || n > 0 {
			return ssoErr(err, "update", c.ID)
		}
		_, err = conn.Exec(ctx, `INSERT INTO sso_configs (`+ssoColumns+`, client_secret_key_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`, c.ID, c.OrgID, c.Issuer, c.ClientID, c.ClientSecret,
			c.UpdatedBy, c.CreatedAt, c.UpdatedAt, c.ProvisionRole, discovery, *keyID)
		return ssoErr(err, "insert", c.ID)
	})
}

// SSOConfig implements [store.SSOConfigs].
func (db *DB) SSOConfig(ctx context.Context, orgID string) (store.SSOConfig, error) {
	return scanSSOConfig(db.conn.QueryRow(ctx, `SELECT `+ssoColumns+` FROM sso_configs WHERE org_id = $1`, orgID))
}

// DeleteSSOConfig implements [store.SSOConfigs].
func (db *DB) DeleteSSOConfig(ctx context.Context, orgID string) error {
	n, err := db.conn.Exec(ctx, `DELETE FROM sso_configs WHERE org_id = $1`, orgID)
	if err != nil {
		return fmt.Errorf("delete sso config: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("delete sso config: %w", store.ErrNotFound)
	}
	return nil
}

// ssoErr wraps a non-nil err with the action that failed.
func ssoErr(err error, verb, id string) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s sso config %s: %w", verb, id, err)
}
