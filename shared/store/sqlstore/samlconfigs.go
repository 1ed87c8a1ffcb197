package sqlstore

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const samlColumns = `id, org_id, idp_entity_id, idp_metadata, metadata_url, provision_role, allow_idp_initiated,
	updated_by, created_at, updated_at`

// PutSAMLConfig implements [store.SAMLConfigs].
func (db *DB) PutSAMLConfig(ctx context.Context, c store.SAMLConfig) error {
	return db.tx(ctx, func(conn Conn) error {
		var id string
		if err := conn.QueryRow(ctx, `SELECT id FROM orgs WHERE id = $1`, c.OrgID).Scan(&id); err != nil {
			return fmt.Errorf("put saml config of %s: %w", c.OrgID, err)
		}
		_, err := conn.Exec(ctx, `INSERT INTO saml_configs (`+samlColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
			ON CONFLICT (org_id) DO UPDATE SET idp_entity_id = excluded.idp_entity_id,
				idp_metadata = excluded.idp_metadata, metadata_url = excluded.metadata_url,
				provision_role = excluded.provision_role, allow_idp_initiated = excluded.allow_idp_initiated,
				updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			c.ID, c.OrgID, c.IDPEntityID, c.IDPMetadata, c.MetadataURL, c.ProvisionRole, c.AllowIDPInitiated,
			c.UpdatedBy, c.CreatedAt, c.UpdatedAt)
		if err != nil {
			return fmt.Errorf("put saml config of %s: %w", c.OrgID, err)
		}
		return nil
	})
}

// SAMLConfig implements [store.SAMLConfigs].
func (db *DB) SAMLConfig(ctx context.Context, orgID string) (store.SAMLConfig, error) {
	var c store.SAMLConfig
	err := db.conn.QueryRow(ctx, `SELECT `+samlColumns+` FROM saml_configs WHERE org_id = $1`, orgID).Scan(
		&c.ID, &c.OrgID, &c.IDPEntityID, &c.IDPMetadata, &c.MetadataURL, &c.ProvisionRole, &c.AllowIDPInitiated,
		&c.UpdatedBy, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return store.SAMLConfig{}, fmt.Errorf("read saml config of %s: %w", orgID, err)
	}
	return c, nil
}

// DeleteSAMLConfig implements [store.SAMLConfigs].
func (db *DB) DeleteSAMLConfig(ctx context.Context, orgID string) error {
	n, err := db.conn.Exec(ctx, `DELETE FROM saml_configs WHERE org_id = $1`, orgID)
	if err != nil {
		return fmt.Errorf("delete saml config: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("delete saml config: %w", store.ErrNotFound)
	}
	return nil
}

// UseSAMLAssertion implements [store.SAMLConfigs]. The primary key decides:
// of concurrent inserts of one pair, the database commits exactly one.
func (db *DB) UseSAMLAssertion(ctx context.Context, orgID, assertionID string, expiresAt time.Time) error {
	h := sha256.Sum256([]byte(orgID + "\x00" + assertionID))
	n, err := db.conn.Exec(ctx, `INSERT INTO saml_assertions (hash, expires_at) VALUES ($1, $2)
		ON CONFLICT (hash) DO NOTHING`, h[:], expiresAt)
	if err != nil {
		return fmt.Errorf("record saml assertion: %w", err)
	}
	if n == 0 {
		return store.ErrUsed
	}
	return nil
}

// PurgeSAMLAssertions implements [store.SAMLConfigs].
func (db *DB) PurgeSAMLAssertions(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.conn.Exec(ctx, `DELETE FROM saml_assertions WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge saml assertions: %w", err)
	}
	return n, nil
}
