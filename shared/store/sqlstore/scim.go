package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const scimUserColumns = `org_id, user_id, external_id, active, created_at, updated_at`

func scanSCIMToken(r Row) (store.SCIMToken, error) {
	var t store.SCIMToken
	var h []byte
	err := r.Scan(&t.OrgID, &h, &t.CreatedBy, &t.CreatedAt)
	copy(t.Hash[:], h)
	return t, err
}

func scanSCIMUser(r Row) (store.SCIMUser, error) {
	var u store.SCIMUser
	err := r.Scan(&u.OrgID, &u.UserID, &u.ExternalID, &u.Active, &u.CreatedAt, &u.UpdatedAt)
	return u, err
}

// SetSCIMToken implements [store.SCIM].
func (db *DB) SetSCIMToken(ctx context.Context, t store.SCIMToken) error {
	return db.tx(ctx, func(c Conn) error {
		var id string
		if err := c.QueryRow(ctx, `SELECT id FROM orgs WHERE id = $1`, t.OrgID).Scan(&id); err != nil {
			return fmt.Errorf("set scim token of %s: %w", t.OrgID, err)
		}
		_, err := c.Exec(ctx, `INSERT INTO scim_tokens (org_id, hash, created_by, created_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (org_id) DO UPDATE SET hash = excluded.hash, created_by = excluded.created_by, created_at = excluded.created_at`,
			t.OrgID, t.Hash[:], t.CreatedBy, t.CreatedAt)
		if err != nil {
			return fmt.Errorf("set scim token of %s: %w", t.OrgID, err)
		}
		return nil
	})
}

// SCIMTokenByHash implements [store.SCIM].
func (db *DB) SCIMTokenByHash(ctx context.Context, hash [32]byte) (store.SCIMToken, error) {
	t, err := scanSCIMToken(db.conn.QueryRow(ctx, `SELECT org_id, hash, created_by, created_at FROM scim_tokens WHERE hash = $1`, hash[:]))
	if err != nil {
		return t, fmt.Errorf("find scim token: %w", err)
	}
	return t, nil
}

// SCIMTokenOf implements [store.SCIM].
func (db *DB) SCIMTokenOf(ctx context.Context, orgID string) (store.SCIMToken, error) {
	t, err := scanSCIMToken(db.conn.QueryRow(ctx, `SELECT org_id, hash, created_by, created_at FROM scim_tokens WHERE org_id = $1`, orgID))
	if err != nil {
		return t, fmt.Errorf("read scim token of %s: %w", orgID, err)
	}
	return t, nil
}

// DeleteSCIMToken implements [store.SCIM].
func (db *DB) DeleteSCIMToken(ctx context.Context, orgID string) error {
	n, err := db.conn.Exec(ctx, `DELETE FROM scim_tokens WHERE org_id = $1`, orgID)
	return changedOne(n, err, "delete scim token of "+orgID)
}

// PutSCIMUser implements [store.SCIM].
func (db *DB) PutSCIMUser(ctx context.Context, u store.SCIMUser) error {
	_, err := db.conn.Exec(ctx, `INSERT INTO scim_users (`+scimUserColumns+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (org_id, user_id) DO UPDATE SET external_id = excluded.external_id, active = excluded.active,
			updated_at = excluded.updated_at`,
		u.OrgID, u.UserID, u.ExternalID, u.Active, u.CreatedAt, u.UpdatedAt)
	if err != nil {
		return fmt.Errorf("put scim user %s of %s: %w", u.UserID, u.OrgID, err)
	}
	return nil
}

// SCIMUser implements [store.SCIM].
func (db *DB) SCIMUser(ctx context.Context, orgID, userID string) (store.SCIMUser, error) {
	u, err := scanSCIMUser(db.conn.QueryRow(ctx, `SELECT `+scimUserColumns+` FROM scim_users WHERE org_id = $1 AND user_id = $2`,
		orgID, userID))
	if err != nil {
		return u, fmt.Errorf("read scim user %s of %s: %w", userID, orgID, err)
	}
	return u, nil
}

// SCIMUsers implements [store.SCIM].
func (db *DB) SCIMUsers(ctx context.Context, orgID string, offset, limit int) ([]store.SCIMUser, int, error) {
	var total int
	if err := db.conn.QueryRow(ctx, `SELECT count(*) FROM scim_users WHERE org_id = $1`, orgID).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count scim users of %s: %w", orgID, err)
	}
	rows, err := db.conn.Query(ctx, `SELECT `+scimUserColumns+` FROM scim_users WHERE org_id = $1
		ORDER BY user_id LIMIT $2 OFFSET $3`, orgID, limit, offset)
	list, err := collect(rows, err, func(r Rows) (store.SCIMUser, error) { return scanSCIMUser(r) })
	if err != nil {
		return nil, 0, fmt.Errorf("list scim users of %s: %w", orgID, err)
	}
	return list, total, nil
}

// DeleteSCIMUser implements [store.SCIM].
func (db *DB) DeleteSCIMUser(ctx context.Context, orgID, userID string) error {
	n, err := db.conn.Exec(ctx, `DELETE FROM scim_users WHERE org_id = $1 AND user_id = $2`, orgID, userID)
	return changedOne(n, err, "delete scim user "+userID)
}
