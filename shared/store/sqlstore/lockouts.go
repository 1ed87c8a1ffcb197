package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

func scanLockout(r Row) (store.Lockout, error) {
	var l store.Lockout
	var until *time.Time
	if err := r.Scan(&l.Key, &l.Failures, &l.LastFailureAt, &until); err != nil {
		return l, err
	}
	if until != nil {
		l.LockedUntil = *until
	}
	return l, nil
}

// AddLoginFailure implements [store.Users]. One upsert decides, so
// concurrent failures are all counted.
func (db *DB) AddLoginFailure(ctx context.Context, key string, now time.Time, window time.Duration) (store.Lockout, error) {
	l, err := scanLockout(db.conn.QueryRow(ctx, `
		INSERT INTO lockouts AS l (key, failures, last_failure_at) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN l.last_failure_at < $3 THEN 1 ELSE l.failures + 1 END,
			last_failure_at = $2
		RETURNING key, failures, last_failure_at, locked_until`, key, now, now.Add(-window)))
	if err != nil {
		return l, fmt.Errorf("count login failure: %w", err)
	}
	return l, nil
}

// LockAccount implements [store.Users].
func (db *DB) LockAccount(ctx context.Context, key string, until time.Time) error {
	n, err := db.conn.Exec(ctx, `UPDATE lockouts SET locked_until = $2 WHERE key = $1`, key, until)
	if err != nil {
		return fmt.Errorf("lock account: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("lock account: %w", store.ErrNotFound)
	}
	return nil
}

// Lockout implements [store.Users].
func (db *DB) Lockout(ctx context.Context, key string) (store.Lockout, error) {
	l, err := scanLockout(db.conn.QueryRow(ctx,
		`SELECT key, failures, last_failure_at, locked_until FROM lockouts WHERE key = $1`, key))
	if notFound(err) {
		return store.Lockout{Key: key}, nil
	}
	if err != nil {
		return l, fmt.Errorf("read lockout: %w", err)
	}
	return l, nil
}

// ClearLockout implements [store.Users].
func (db *DB) ClearLockout(ctx context.Context, key string) error {
	if _, err := db.conn.Exec(ctx, `DELETE FROM lockouts WHERE key = $1`, key); err != nil {
		return fmt.Errorf("clear lockout: %w", err)
	}
	return nil
}

// PurgeLockouts implements [store.Users].
func (db *DB) PurgeLockouts(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.conn.Exec(ctx, `DELETE FROM lockouts
		WHERE last_failure_at < $1 AND (locked_until IS NULL OR locked_until < $1)`, before)
	if err != nil {
		return 0, fmt.Errorf("purge lockouts: %w", err)
	}
	return n, nil
}
