package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const tokenColumns = `hash, purpose, subject, scope, data, created_at, expires_at, used_at`

func scanToken(r Row) (store.OneTimeToken, error) {
	var t store.OneTimeToken
	var hash []byte
	var used *time.Time
	if err := r.Scan(&hash, &t.Purpose, &t.Subject, &t.Scope, &t.Data, &t.CreatedAt, &t.ExpiresAt, &used); err != nil {
		return t, err
	}
	if used != nil {
		t.UsedAt = *used
	}
	var err error
	t.Hash, err = hash32(hash)
	return t, err
}

// CreateOneTimeToken implements [store.OneTimeTokens].
func (db *DB) CreateOneTimeToken(ctx context.Context, t store.OneTimeToken) error {
	return insertToken(ctx, db.conn, t)
}

func insertToken(ctx context.Context, c Conn, t store.OneTimeToken) error {
	if t.Data == "" {
		t.Data = "{}"
	}
	_, err := c.Exec(ctx, `INSERT INTO one_time_tokens (hash, purpose, subject, scope, data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, t.Hash[:], t.Purpose, t.Subject, t.Scope, t.Data, t.CreatedAt, t.ExpiresAt)
	if err != nil {
		return fmt.Errorf("insert %s token: %w", t.Purpose, err)
	}
	return nil
}

// SupersedeOneTimeTokens implements [store.OneTimeTokens].
func (db *DB) SupersedeOneTimeTokens(ctx context.Context, t store.OneTimeToken) error {
	return db.tx(ctx, func(c Conn) error {
		if _, err := c.Exec(ctx, `DELETE FROM one_time_tokens
			WHERE purpose = $1 AND subject = $2 AND used_at IS NULL`, t.Purpose, t.Subject); err != nil {
			return fmt.Errorf("supersede %s tokens: %w", t.Purpose, err)
		}
		return insertToken(ctx, c, t)
	})
}

// OneTimeToken implements [store.OneTimeTokens].
func (db *DB) OneTimeToken(ctx context.Context, purpose string, hash [32]byte, now time.Time) (store.OneTimeToken, error) {
	t, err := scanToken(db.conn.QueryRow(ctx, `SELECT `+tokenColumns+` FROM one_time_tokens
		WHERE hash = $1 AND purpose = $2`, hash[:], purpose))
	switch {
	case err != nil:
		return store.OneTimeToken{}, fmt.Errorf("read %s token: %w", purpose, err)
	case !t.UsedAt.IsZero():
		return store.OneTimeToken{}, store.ErrUsed
	case !now.Before(t.ExpiresAt):
		return store.OneTimeToken{}, store.ErrExpired
	}
	return t, nil
}

// ConsumeOneTimeToken implements [store.OneTimeTokens]. The conditional
// UPDATE is the whole decision: of concurrent callers, the database lets
// exactly one see used_at IS NULL.
func (db *DB) ConsumeOneTimeToken(ctx context.Context, purpose string, hash [32]byte, now time.Time) (store.OneTimeToken, error) {
	t, err := scanToken(db.conn.QueryRow(ctx, `UPDATE one_time_tokens SET used_at = $3
		WHERE hash = $1 AND purpose = $2 AND used_at IS NULL AND expires_at > $3
		RETURNING `+tokenColumns, hash[:], purpose, now))
	if err == nil || !notFound(err) {
		return t, err
	}
	// Nothing consumed: say why.
	t, err = scanToken(db.conn.QueryRow(ctx, `SELECT `+tokenColumns+` FROM one_time_tokens
		WHERE hash = $1 AND purpose = $2`, hash[:], purpose))
	switch {
	case err != nil:
		return store.OneTimeToken{}, err
	case !t.UsedAt.IsZero():
		return store.OneTimeToken{}, store.ErrUsed
	default:
		return store.OneTimeToken{}, store.ErrExpired
	}
}

// PendingOneTimeTokens implements [store.OneTimeTokens].
func (db *DB) PendingOneTimeTokens(ctx context.Context, purpose, scope string, now time.Time) ([]store.OneTimeToken, error) {
	if scope == "" {
		return nil, fmt.Errorf("list %s tokens: no scope", purpose)
	}
	rows, err := db.conn.Query(ctx, `SELECT `+tokenColumns+` FROM one_time_tokens
		WHERE purpose = $1 AND scope = $2 AND used_at IS NULL AND expires_at > $3
		ORDER BY created_at, hash`, purpose, scope, now)
	out, err := collect(rows, err, func(r Rows) (store.OneTimeToken, error) { return scanToken(r) })
	if err != nil {
		return nil, fmt.Errorf("list %s tokens of %s: %w", purpose, scope, err)
	}
	return out, nil
}

// RevokeOneTimeToken implements [store.OneTimeTokens].
func (db *DB) RevokeOneTimeToken(ctx context.Context, purpose, scope string, hash [32]byte) error {
	n, err := db.conn.Exec(ctx, `DELETE FROM one_time_tokens
		WHERE hash = $1 AND purpose = $2 AND scope = $3 AND scope <> '' AND used_at IS NULL`, hash[:], purpose, scope)
	if err != nil {
		return fmt.Errorf("revoke %s token: %w", purpose, err)
	}
	if n == 0 {
		return fmt.Errorf("revoke %s token: %w", purpose, store.ErrNotFound)
	}
	return nil
}

// PurgeOneTimeTokens implements [store.OneTimeTokens].
func (db *DB) PurgeOneTimeTokens(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.conn.Exec(ctx, `DELETE FROM one_time_tokens WHERE expires_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge one-time tokens: %w", err)
	}
	return n, nil
}
