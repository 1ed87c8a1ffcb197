package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Sealed columns are named by [store.SealedColumn]s, which come from code
// (the registry, or a test), never from input, and are checked to be plain
// identifiers before they are written into SQL text (APP-2: values are
// still only ever bound as parameters).

func checkColumn(c store.SealedColumn) error {
	if !c.Valid() {
		return fmt.Errorf("sealed column %q.%q (purpose %q, org column %q) is not a valid registry entry",
			c.Table, c.Column, c.Purpose, c.OrgColumn)
	}
	return nil
}

// SealedValues implements [store.SealedValues].
func (db *DB) SealedValues(ctx context.Context, c store.SealedColumn, keyID, after string, limit int) ([]store.SealedValue, error) {
	if err := checkColumn(c); err != nil {
		return nil, err
	}
	org := `''`
	if c.OrgColumn != "" {
		org = `COALESCE(` + c.OrgColumn + `, '')`
	}
	kc := c.Column + `_key_id`
	q := `SELECT id, ` + org + `, ` + kc + `, ` + c.Column + ` FROM ` + c.Table + ` WHERE `
	args := []any{after, limit}
	if keyID != "" {
		q += kc + ` = $3 AND `
		args = append(args, keyID)
	}
	q += c.Column + ` IS NOT NULL AND id > $1 ORDER BY id LIMIT $2`
	// sqltext: identifiers of a registry entry checked by checkColumn; values are parameters
	rows, err := db.conn.Query(ctx, q, args...)
	out, err := collect(rows, err, func(r Rows) (store.SealedValue, error) {
		var v store.SealedValue
		var kid *string
		err := r.Scan(&v.ID, &v.Org, &kid, &v.Ciphertext)
		if kid != nil {
			v.KeyID = *kid
		}
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("list sealed values of %s: %w", c.Field(), err)
	}
	return out, nil
}

// ReplaceSealed implements [store.SealedValues].
func (db *DB) ReplaceSealed(ctx context.Context, c store.SealedColumn, rs []store.SealedReplacement) (int, error) {
	if err := checkColumn(c); err != nil {
		return 0, err
	}
	q := `UPDATE ` + c.Table + ` SET ` + c.Column + ` = $1, ` + c.Column + `_key_id = $2
		WHERE id = $3 AND ` + c.Column + ` = $4`
	applied := 0
	err := db.tx(ctx, func(conn Conn) error {
		applied = 0 // the transaction may be retried
		for _, r := range rs {
			// sqltext: identifiers of a registry entry checked by checkColumn; values are parameters
			n, err := conn.Exec(ctx, q, r.New, r.NewKeyID, r.ID, r.Old)
			if err != nil {
				return fmt.Errorf("replace sealed %s of %s: %w", c.Field(), r.ID, err)
			}
			applied += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return applied, nil
}

// SealedKeyCounts implements [store.SealedValues].
func (db *DB) SealedKeyCounts(ctx context.Context, cols []store.SealedColumn) (map[string]int64, error) {
	counts := map[string]int64{}
	for _, c := range cols {
		if err := checkColumn(c); err != nil {
			return nil, err
		}
		kc := c.Column + `_key_id`
		// sqltext: identifiers of a registry entry checked by checkColumn; values are parameters
		rows, err := db.conn.Query(ctx, `SELECT `+kc+`, count(*) FROM `+c.Table+`
			WHERE `+c.Column+` IS NOT NULL GROUP BY `+kc)
		type pair struct {
			id *string
			n  int64
		}
		ps, err := collect(rows, err, func(r Rows) (pair, error) {
			var p pair
			return p, r.Scan(&p.id, &p.n)
		})
		if err != nil {
			return nil, fmt.Errorf("count sealed values of %s: %w", c.Field(), err)
		}
		for _, p := range ps {
			id := ""
			if p.id != nil {
				id = *p.id
			}
			counts[id] += p.n
		}
	}
	return counts, nil
}
