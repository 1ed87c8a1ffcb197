package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const domainColumns = `id, org_id, domain, token, status, created_by, created_at, verified_at, checked_at`

func scanDomain(r Row) (store.SSODomain, error) {
	var d store.SSODomain
	var verified, checked *time.Time
	err := r.Scan(&d.ID, &d.OrgID, &d.Domain, &d.Token, &d.Status, &d.CreatedBy, &d.CreatedAt, &verified, &checked)
	if verified != nil {
		d.VerifiedAt = *verified
	}
	if checked != nil {
		d.CheckedAt = *checked
	}
	return d, err
}

// CreateSSODomain implements [store.SSODomains].
func (db *DB) CreateSSODomain(ctx context.Context, d store.SSODomain) error {
	return db.tx(ctx, func(c Conn) error {
		var n int64
		if err := c.QueryRow(ctx, `SELECT count(*) FROM sso_domains WHERE domain = $1 AND status = $2 AND org_id <> $3`,
			d.Domain, store.DomainVerified, d.OrgID).Scan(&n); err != nil {
			return fmt.Errorf("claim domain %s: %w", d.Domain, err)
		}
		if n > 0 {
			return fmt.Errorf("claim domain %s: verified by another organization: %w", d.Domain, store.ErrConflict)
		}
		_, err := c.Exec(ctx, `INSERT INTO sso_domains (`+domainColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL)`,
			d.ID, d.OrgID, d.Domain, d.Token, store.DomainPending, d.CreatedBy, d.CreatedAt)
		if err != nil {
			return fmt.Errorf("claim domain %s: %w", d.Domain, err)
		}
		return nil
	})
}

// SSODomains implements [store.SSODomains].
func (db *DB) SSODomains(ctx context.Context, orgID string) ([]store.SSODomain, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+domainColumns+` FROM sso_domains WHERE org_id = $1 ORDER BY domain`, orgID)
	return collect(rows, err, func(r Rows) (store.SSODomain, error) { return scanDomain(r) })
}

// SSODomain implements [store.SSODomains].
func (db *DB) SSODomain(ctx context.Context, orgID, id string) (store.SSODomain, error) {
	d, err := scanDomain(db.conn.QueryRow(ctx, `SELECT `+domainColumns+` FROM sso_domains WHERE org_id = $1 AND id = $2`, orgID, id))
	if err != nil {
		return d, fmt.Errorf("read domain %s: %w", id, err)
	}
	return d, nil
}

// VerifySSODomain implements [store.SSODomains]. The partial unique index
// on verified domains decides between concurrent verifications.
func (db *DB) VerifySSODomain(ctx context.Context, orgID, id string, at time.Time) error {
	n, err := db.conn.Exec(ctx, `UPDATE sso_domains SET status = $3, verified_at = $4, checked_at = $4
		WHERE org_id = $1 AND id = $2`, orgID, id, store.DomainVerified, at)
	return changedOne(n, err, "verify domain "+id)
}

// VerifiedSSODomain implements [store.SSODomains].
func (db *DB) VerifiedSSODomain(ctx context.Context, domain string) (store.SSODomain, error) {
	d, err := scanDomain(db.conn.QueryRow(ctx, `SELECT `+domainColumns+` FROM sso_domains WHERE domain = $1 AND status = $2`,
		domain, store.DomainVerified))
	if err != nil {
		return d, fmt.Errorf("find verified domain %s: %w", domain, err)
	}
	return d, nil
}

// SSODomainsDue implements [store.SSODomains].
func (db *DB) SSODomainsDue(ctx context.Context, before time.Time, limit int) ([]store.SSODomain, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+domainColumns+` FROM sso_domains
		WHERE status = $1 AND checked_at < $2 ORDER BY checked_at, id LIMIT $3`, store.DomainVerified, before, limit)
	return collect(rows, err, func(r Rows) (store.SSODomain, error) { return scanDomain(r) })
}

// CheckedSSODomain implements [store.SSODomains].
func (db *DB) CheckedSSODomain(ctx context.Context, id string, at time.Time) error {
	n, err := db.conn.Exec(ctx, `UPDATE sso_domains SET checked_at = $3 WHERE id = $1 AND status = $2`,
		id, store.DomainVerified, at)
	return changedOne(n, err, "record check of domain "+id)
}

// DisableSSODomain implements [store.SSODomains].
func (db *DB) DisableSSODomain(ctx context.Context, id string) error {
	n, err := db.conn.Exec(ctx, `UPDATE sso_domains SET status = $3 WHERE id = $1 AND status = $2`,
		id, store.DomainVerified, store.DomainDisabled)
	return changedOne(n, err, "disable domain "+id)
}

// changedOne wraps err with what, or returns ErrNotFound when a statement
// changed no row.
func changedOne(n int64, err error, what string) error {
	switch {
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case n == 0:
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// DeleteSSODomain implements [store.SSODomains].
func (db *DB) DeleteSSODomain(ctx context.Context, orgID, id string) (store.SSODomain, error) {
	d, err := scanDomain(db.conn.QueryRow(ctx, `DELETE FROM sso_domains WHERE org_id = $1 AND id = $2
		RETURNING `+domainColumns, orgID, id))
	if err != nil {
		return d, fmt.Errorf("delete domain %s: %w", id, err)
	}
	return d, nil
}
