package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// AcquireLease implements [store.Rotation]. The upsert's condition is the
// whole decision, so of concurrent callers for a free lease one wins.
func (db *DB) AcquireLease(ctx context.Context, l store.Lease, now time.Time) (store.Lease, error) {
	var holder string
	err := db.conn.QueryRow(ctx, `INSERT INTO rotation_leases AS l (name, holder, run_id, expires_at)
		VALUES ($1, $2, $3, $4)
		ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, run_id = excluded.run_id, expires_at = excluded.expires_at
		WHERE l.expires_at <= $5 OR l.holder = excluded.holder
		RETURNING holder`, l.Name, l.Holder, l.RunID, l.Expires, now).Scan(&holder)
	if err == nil {
		return l, nil
	}
	if !notFound(err) {
		return store.Lease{}, fmt.Errorf("acquire lease %s: %w", l.Name, err)
	}
	cur := store.Lease{Name: l.Name}
	err = db.conn.QueryRow(ctx, `SELECT holder, run_id, expires_at FROM rotation_leases WHERE name = $1`, l.Name).
		Scan(&cur.Holder, &cur.RunID, &cur.Expires)
	if err != nil {
		return store.Lease{}, fmt.Errorf("read lease %s: %w", l.Name, err)
	}
	return cur, fmt.Errorf("lease %s is held until %s: %w", l.Name, cur.Expires.UTC().Format(time.RFC3339), store.ErrConflict)
}

// RenewLease implements [store.Rotation].
func (db *DB) RenewLease(ctx context.Context, name, holder string, expires, now time.Time) error {
	n, err := db.conn.Exec(ctx, `UPDATE rotation_leases SET expires_at = $3
		WHERE name = $1 AND holder = $2 AND expires_at > $4`, name, holder, expires, now)
	if err != nil {
		return fmt.Errorf("renew lease %s: %w", name, err)
	}
	if n == 0 {
		return fmt.Errorf("renew lease %s: lost: %w", name, store.ErrConflict)
	}
	return nil
}

// ReleaseLease implements [store.Rotation].
func (db *DB) ReleaseLease(ctx context.Context, name, holder string) error {
	if _, err := db.conn.Exec(ctx, `DELETE FROM rotation_leases WHERE name = $1 AND holder = $2`, name, holder); err != nil {
		return fmt.Errorf("release lease %s: %w", name, err)
	}
	return nil
}

const runColumns = `id, started_at, finished_at, report`

func scanRun(r Row) (store.RotationRun, error) {
	var run store.RotationRun
	var finished *time.Time
	err := r.Scan(&run.ID, &run.StartedAt, &finished, &run.Report)
	if finished != nil {
		run.FinishedAt = *finished
	}
	return run, err
}

// BeginRotationRun implements [store.Rotation].
func (db *DB) BeginRotationRun(ctx context.Context, r store.RotationRun) (store.RotationRun, error) {
	_, err := db.conn.Exec(ctx, `INSERT INTO rotation_runs (id, started_at, report) VALUES ($1, $2, $3)
		ON CONFLICT (id) DO NOTHING`, r.ID, r.StartedAt, r.Report)
	if err != nil {
		return store.RotationRun{}, fmt.Errorf("begin rotation run %s: %w", r.ID, err)
	}
	run, err := scanRun(db.conn.QueryRow(ctx, `SELECT `+runColumns+` FROM rotation_runs WHERE id = $1`, r.ID))
	if err != nil {
		return store.RotationRun{}, fmt.Errorf("read rotation run %s: %w", r.ID, err)
	}
	return run, nil
}

// SaveRotationRun implements [store.Rotation].
func (db *DB) SaveRotationRun(ctx context.Context, id, report string, finished time.Time) error {
	var fin *time.Time
	if !finished.IsZero() {
		fin = &finished
	}
	n, err := db.conn.Exec(ctx, `UPDATE rotation_runs SET report = $2, finished_at = COALESCE($3, finished_at)
		WHERE id = $1`, id, report, fin)
	if err != nil {
		return fmt.Errorf("save rotation run %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("save rotation run %s: %w", id, store.ErrNotFound)
	}
	return nil
}

// RotationRuns implements [store.Rotation].
func (db *DB) RotationRuns(ctx context.Context, limit int) ([]store.RotationRun, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+runColumns+` FROM rotation_runs ORDER BY started_at DESC, id LIMIT $1`, limit)
	return collect(rows, err, func(r Rows) (store.RotationRun, error) { return scanRun(r) })
}

// RotationState implements [store.Rotation].
func (db *DB) RotationState(ctx context.Context, name string) (string, time.Time, error) {
	var v string
	var at time.Time
	err := db.conn.QueryRow(ctx, `SELECT value, updated_at FROM rotation_state WHERE name = $1`, name).Scan(&v, &at)
	return v, at, err
}

// SetRotationState implements [store.Rotation].
func (db *DB) SetRotationState(ctx context.Context, name, value string, now time.Time) error {
	_, err := db.conn.Exec(ctx, `INSERT INTO rotation_state (name, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, now)
	if err != nil {
		return fmt.Errorf("set rotation state %s: %w", name, err)
	}
	return nil
}

// RotationSecret implements [store.Rotation].
func (db *DB) RotationSecret(ctx context.Context, id string) (store.RotationSecret, error) {
	s := store.RotationSecret{ID: id}
	err := db.conn.QueryRow(ctx, `SELECT secret, secret_key_id, created_at FROM rotation_secrets WHERE id = $1`, id).
		Scan(&s.Sealed, &s.KeyID, &s.CreatedAt)
	return s, err
}

// CreateRotationSecret implements [store.Rotation].
func (db *DB) CreateRotationSecret(ctx context.Context, s store.RotationSecret) error {
	_, err := db.conn.Exec(ctx, `INSERT INTO rotation_secrets (id, secret, secret_key_id, created_at)
		VALUES ($1, $2, $3, $4)`, s.ID, s.Sealed, s.KeyID, s.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert rotation secret %s: %w", s.ID, err)
	}
	return nil
}

// AuditRetentionPoint implements [store.Rotation]: the newest integrated
// event, at most limit past the retention mark, such that it and every
// integrated event before it are older than cutoff.
func (db *DB) AuditRetentionPoint(ctx context.Context, cutoff time.Time, limit int) (int64, [32]byte, error) {
	var seq int64
	var hash []byte
	err := db.conn.QueryRow(ctx, `WITH mark AS (SELECT COALESCE((SELECT seq FROM audit_checkpoint WHERE id = 1), 0) AS seq)
		SELECT l.seq, l.hash FROM audit_leaves l JOIN audit_events e ON e.id = l.event_id
		WHERE l.seq > (SELECT seq FROM mark) AND l.seq <= (SELECT seq FROM mark) + $3 AND e.at < $1
		  AND l.seq < COALESCE((SELECT min(l2.seq) FROM audit_leaves l2 JOIN audit_events e2 ON e2.id = l2.event_id
			WHERE l2.seq > (SELECT seq FROM mark) AND e2.at >= $1), $2)
		ORDER BY l.seq DESC LIMIT 1`, cutoff, int64(1<<63-1), int64(limit)).Scan(&seq, &hash)
	if err != nil {
		return 0, [32]byte{}, err
	}
	h, err := hash32(hash)
	return seq, h, err
}

// ApplyAuditRetention implements [store.Rotation] through the retention
// request table, whose trigger (migration 0020) makes every check and
// deletes with the rights the application role lacks.
func (db *DB) ApplyAuditRetention(ctx context.Context, r store.AuditRetention) (int64, error) {
	var deleted int64
	err := db.tx(ctx, func(c Conn) error {
		err := c.QueryRow(ctx, `INSERT INTO audit_retention_runs (cutoff, seq, hash, checkpoint_at, signature)
			VALUES ($1, $2, $3, $4, $5) RETURNING id`, r.Cutoff, r.Seq, r.Hash[:], r.At, r.Signature).Scan(&deleted)
		if err != nil {
			return fmt.Errorf("apply audit retention up to event %d: %w", r.Seq, err)
		}
		if err := c.QueryRow(ctx, `SELECT deleted FROM audit_retention_runs WHERE id = $1`, deleted).Scan(&deleted); err != nil {
			return fmt.Errorf("read audit retention run: %w", err)
		}
		return nil
	})
	return deleted, err
}

// SignedAuditCheckpoint implements [store.Rotation].
func (db *DB) SignedAuditCheckpoint(ctx context.Context) (store.SignedAuditCheckpoint, error) {
	var cp store.SignedAuditCheckpoint
	var hash []byte
	err := db.conn.QueryRow(ctx, `SELECT seq, hash, at, signature FROM audit_checkpoint WHERE id = 1`).
		Scan(&cp.Seq, &hash, &cp.Time, &cp.Signature)
	if notFound(err) {
		return store.SignedAuditCheckpoint{}, nil
	}
	if err != nil {
		return cp, fmt.Errorf("read audit checkpoint: %w", err)
	}
	cp.Hash, err = hash32(hash)
	return cp, err
}

// RevokeSessionsBefore implements [store.Rotation].
func (db *DB) RevokeSessionsBefore(ctx context.Context, orgID string, before, now time.Time, reason string) (int64, error) {
	var n int64
	err := db.changeSessions(ctx, func(c Conn) ([]store.SessionChange, error) {
		var err error
		n, err = c.Exec(ctx, `UPDATE sessions SET revoked_at = $3, revoke_reason = $4
			WHERE revoked_at IS NULL AND created_at < $2
			  AND ($1 = '' OR user_id IN (SELECT user_id FROM org_members WHERE org_id = $1))`, orgID, before, now, reason)
		if err != nil {
			return nil, fmt.Errorf("revoke sessions: %w", err)
		}
		return []store.SessionChange{{}}, nil // every session: cheaper to drop than to list
	})
	return n, err
}

// PurgeWebhookEventsBefore implements [store.Rotation].
func (db *DB) PurgeWebhookEventsBefore(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.conn.Exec(ctx, `DELETE FROM webhook_events WHERE received_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge webhook events: %w", err)
	}
	return n, nil
}

// PurgeBillingAccountsBefore implements [store.Rotation].
func (db *DB) PurgeBillingAccountsBefore(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.conn.Exec(ctx, `DELETE FROM billing_accounts WHERE updated_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge billing accounts: %w", err)
	}
	return n, nil
}
