package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

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
	_, err := db.conn.Exec(ctx, `INSERT INTO user_identities (provider, subject, user_id, created_at)
		VALUES ($1, $2, $3, $4)`, id.Provider, id.Subject, id.UserID, id.CreatedAt)
	if err != nil {
		return fmt.Errorf("link %s identity: %w", id.Provider, err)
	}
	return nil
}

// UserIdentities implements [store.Identities].
func (db *DB) UserIdentities(ctx context.Context, userID string) ([]store.Identity, error) {
	rows, err := db.conn.Query(ctx, `SELECT provider, subject, user_id, created_at FROM user_identities
		WHERE user_id = $1 ORDER BY created_at, provider`, userID)
	return collect(rows, err, func(r Rows) (store.Identity, error) {
		var id store.Identity
		err := r.Scan(&id.Provider, &id.Subject, &id.UserID, &id.CreatedAt)
		return id, err
	})
}
