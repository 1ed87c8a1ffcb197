package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const identityColumns = `id, provider, subject, user_id, created_at`

func scanIdentity(r Row) (store.Identity, error) {
	var id store.Identity
	err := r.Scan(&id.ID, &id.Provider, &id.Subject, &id.UserID, &id.CreatedAt)
	return id, err
}

// IdentityUser implements [store.Identities].
func (db *DB) IdentityUser(ctx context.Context, provider, subject string) (string, error) {
	var userID string
	err := db.conn.QueryRow(ctx, `SELECT user_id FROM user_identities WHERE provider = $1 AND subject = $2`,
		provider, subject).Scan(&userID)
	if err != nil {
		return "", fmt.Errorf("find %s identity: %w", provider, err)
	}
	return userID, nil
}

// LinkIdentity implements [store.Identities].
func (db *DB) LinkIdentity(ctx context.Context, id store.Identity) error {
	if id.ID == "" {
		return fmt.Errorf("link %s identity: no id", id.Provider)
	}
	_, err := db.conn.Exec(ctx, `INSERT INTO user_identities (`+identityColumns+`)
		VALUES ($1, $2, $3, $4, $5)`, id.ID, id.Provider, id.Subject, id.UserID, id.CreatedAt)
	if err != nil {
		return fmt.Errorf("link %s identity: %w", id.Provider, err)
	}
	return nil
}

// UserIdentities implements [store.Identities].
func (db *DB) UserIdentities(ctx context.Context, userID string) ([]store.Identity, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+identityColumns+` FROM user_identities
		WHERE user_id = $1 ORDER BY created_at, provider, subject`, userID)
	return collect(rows, err, func(r Rows) (store.Identity, error) { return scanIdentity(r) })
}

// DeleteIdentity implements [store.Identities].
func (db *DB) DeleteIdentity(ctx context.Context, userID, id string) (store.Identity, error) {
	got, err := scanIdentity(db.conn.QueryRow(ctx, `DELETE FROM user_identities WHERE user_id = $1 AND id = $2
		RETURNING `+identityColumns, userID, id))
	if err != nil {
		return got, fmt.Errorf("unlink identity %s of user %s: %w", id, userID, err)
	}
	return got, nil
}

// ProveEmail implements [store.Identities].
func (db *DB) ProveEmail(ctx context.Context, userID string, at time.Time) ([]store.Identity, error) {
	var removed []store.Identity
	err := db.tx(ctx, func(c Conn) error {
		var proven *time.Time
		err := c.QueryRow(ctx, `SELECT email_verified_at FROM users WHERE id = $1`+db.dialect.ForUpdate,
			userID).Scan(&proven)
		if err != nil {
			return fmt.Errorf("prove address of user %s: %w", userID, err)
		}
		// An address proven now for the first time: every link predates
		// the proof, whatever its timestamp says.
		var rows Rows
		if proven == nil {
			if _, err := c.Exec(ctx, `UPDATE users SET email_verified_at = $2 WHERE id = $1`, userID, at); err != nil {
				return fmt.Errorf("prove address of user %s: %w", userID, err)
			}
			rows, err = c.Query(ctx, `DELETE FROM user_identities WHERE user_id = $1 RETURNING `+identityColumns, userID)
		} else {
			rows, err = c.Query(ctx, `DELETE FROM user_identities WHERE user_id = $1 AND created_at < $2
				RETURNING `+identityColumns, userID, *proven)
		}
		removed, err = collect(rows, err, func(r Rows) (store.Identity, error) { return scanIdentity(r) })
		if err != nil {
			return fmt.Errorf("remove identities of user %s: %w", userID, err)
		}
		return nil
	})
	return removed, err
}
