package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const dataKeyColumns = `id, state, wrapped, kek_version, created_at, updated_at`

func scanDataKey(r Row) (store.DataKey, error) {
	var k store.DataKey
	var state string
	err := r.Scan(&k.ID, &state, &k.Wrapped, &k.KEKVersion, &k.CreatedAt, &k.UpdatedAt)
	k.State = store.DataKeyState(state)
	return k, err
}

// CreateDataKey implements [store.DataKeys].
func (db *DB) CreateDataKey(ctx context.Context, k store.DataKey) error {
	return db.tx(ctx, func(c Conn) error {
		if k.State == store.DataKeyPrimary {
			if err := demotePrimary(ctx, c, k.CreatedAt); err != nil {
				return err
			}
		}
		_, err := c.Exec(ctx, `INSERT INTO data_keys (`+dataKeyColumns+`) VALUES ($1, $2, $3, $4, $5, $5)`,
			k.ID, string(k.State), k.Wrapped, k.KEKVersion, k.CreatedAt)
		if err != nil {
			return fmt.Errorf("insert data key %s: %w", k.ID, err)
		}
		return nil
	})
}

func demotePrimary(ctx context.Context, c Conn, now time.Time) error {
	_, err := c.Exec(ctx, `UPDATE data_keys SET state = $1, updated_at = $2 WHERE state = $3`,
		string(store.DataKeyDecryptOnly), now, string(store.DataKeyPrimary))
	if err != nil {
		return fmt.Errorf("demote primary data key: %w", err)
	}
	return nil
}

// DataKey implements [store.DataKeys].
func (db *DB) DataKey(ctx context.Context, id string) (store.DataKey, error) {
	return scanDataKey(db.conn.QueryRow(ctx, `SELECT `+dataKeyColumns+` FROM data_keys WHERE id = $1`, id))
}

// PrimaryDataKey implements [store.DataKeys].
func (db *DB) PrimaryDataKey(ctx context.Context) (store.DataKey, error) {
	return scanDataKey(db.conn.QueryRow(ctx, `SELECT `+dataKeyColumns+` FROM data_keys WHERE state = $1`,
		string(store.DataKeyPrimary)))
}

// ListDataKeys implements [store.DataKeys].
func (db *DB) ListDataKeys(ctx context.Context) ([]store.DataKey, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+dataKeyColumns+` FROM data_keys ORDER BY created_at, id`)
	return collect(rows, err, func(r Rows) (store.DataKey, error) { return scanDataKey(r) })
}

// SetDataKeyState implements [store.DataKeys].
func (db *DB) SetDataKeyState(ctx context.Context, id string, state store.DataKeyState, now time.Time) error {
	switch state {
	case store.DataKeyPrimary, store.DataKeyDecryptOnly, store.DataKeyDestroyed:
	default:
		return fmt.Errorf("set data key %s: unknown state %q", id, state)
	}
	return db.tx(ctx, func(c Conn) error {
		if state == store.DataKeyPrimary {
			if err := demotePrimary(ctx, c, now); err != nil {
				return err
			}
		}
		// Destroying erases the wrapped material: nothing can unwrap it again.
		n, err := c.Exec(ctx, `UPDATE data_keys
			SET state = $2, updated_at = $3,
			    wrapped = CASE WHEN $2 = 'destroyed' THEN NULL ELSE wrapped END
			WHERE id = $1`, id, string(state), now)
		if err != nil {
			return fmt.Errorf("set data key %s to %s: %w", id, state, err)
		}
		if n == 0 {
			return fmt.Errorf("set data key %s: %w", id, store.ErrNotFound)
		}
		return nil
	})
}

// RewrapDataKey implements [store.DataKeys].
func (db *DB) RewrapDataKey(ctx context.Context, id string, wrapped []byte, kekVersion string, now time.Time) error {
	n, err := db.conn.Exec(ctx, `UPDATE data_keys SET wrapped = $2, kek_version = $3, updated_at = $4
		WHERE id = $1 AND state <> 'destroyed'`, id, wrapped, kekVersion, now)
	if err != nil {
		return fmt.Errorf("rewrap data key %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("rewrap data key %s: %w", id, store.ErrNotFound)
	}
	return nil
}
