package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const signingKeyColumns = `id, public_key, private_key, created_at, active_at`

// CreateSigningKey implements [store.SigningKeys].
func (db *DB) CreateSigningKey(ctx context.Context, k store.SigningKey) error {
	keyID, err := envelope.KeyID(k.PrivateKey)
	if err != nil {
		return fmt.Errorf("insert signing key %s: private key: %w", k.ID, err)
	}
	_, err = db.conn.Exec(ctx, `INSERT INTO signing_keys (`+signingKeyColumns+`, private_key_key_id)
		VALUES ($1, $2, $3, $4, $5, $6)`, k.ID, k.PublicKey, k.PrivateKey, k.CreatedAt, k.ActiveAt, keyID)
	if err != nil {
		return fmt.Errorf("insert signing key %s: %w", k.ID, err)
	}
	return nil
}

// SigningKeys implements [store.SigningKeys].
func (db *DB) SigningKeys(ctx context.Context) ([]store.SigningKey, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+signingKeyColumns+` FROM signing_keys ORDER BY active_at, id`)
	return collect(rows, err, func(r Rows) (store.SigningKey, error) {
		var k store.SigningKey
		err := r.Scan(&k.ID, &k.PublicKey, &k.PrivateKey, &k.CreatedAt, &k.ActiveAt)
		return k, err
	})
}

// DeleteSigningKey implements [store.SigningKeys].
func (db *DB) DeleteSigningKey(ctx context.Context, id string) error {
	n, err := db.conn.Exec(ctx, `DELETE FROM signing_keys WHERE id = $1`, id)
	if err != nil {
		return fmt.Errorf("delete signing key %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("delete signing key %s: %w", id, store.ErrNotFound)
	}
	return nil
}
