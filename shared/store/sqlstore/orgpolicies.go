package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// OrgPolicy implements [store.OrgPolicies].
func (db *DB) OrgPolicy(ctx context.Context, orgID string) (store.OrgPolicy, error) {
	p := store.OrgPolicy{OrgID: orgID}
	var secs, idle int64
	err := db.conn.QueryRow(ctx, `SELECT require_sso, require_mfa, max_session_seconds, idle_session_seconds, updated_by, updated_at
		FROM org_policies WHERE org_id = $1`, orgID).Scan(&p.RequireSSO, &p.RequireMFA, &secs, &idle, &p.UpdatedBy, &p.UpdatedAt)
	if err != nil {
		return store.OrgPolicy{OrgID: orgID}, fmt.Errorf("read policy of %s: %w", orgID, err)
	}
	p.MaxSessionAge = time.Duration(secs) * time.Second
	p.IdleTimeout = time.Duration(idle) * time.Second
	return p, nil
}

// PutOrgPolicy implements [store.OrgPolicies].
func (db *DB) PutOrgPolicy(ctx context.Context, p store.OrgPolicy) error {
	return db.tx(ctx, func(c Conn) error {
		var id string
		if err := c.QueryRow(ctx, `SELECT id FROM orgs WHERE id = $1`, p.OrgID).Scan(&id); err != nil {
			return fmt.Errorf("set policy of %s: %w", p.OrgID, err)
		}
		_, err := c.Exec(ctx, `INSERT INTO org_policies (org_id, require_sso, require_mfa, max_session_seconds, updated_by, updated_at,
				idle_session_seconds)
			VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (org_id) DO UPDATE SET require_sso = excluded.require_sso, require_mfa = excluded.require_mfa,
				max_session_seconds = excluded.max_session_seconds, updated_by = excluded.updated_by, updated_at = excluded.updated_at,
				idle_session_seconds = excluded.idle_session_seconds`,
			p.OrgID, p.RequireSSO, p.RequireMFA, int64(p.MaxSessionAge/time.Second), p.UpdatedBy, p.UpdatedAt,
			int64(p.IdleTimeout/time.Second))
		if err != nil {
			return fmt.Errorf("set policy of %s: %w", p.OrgID, err)
		}
		return nil
	})
}
