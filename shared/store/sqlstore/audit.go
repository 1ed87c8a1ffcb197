package sqlstore

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const auditColumns = `seq, at, actor, org_id, action, target, outcome, network, metadata, prev_hash, hash`

func scanAuditEvent(r Row) (store.AuditEvent, error) {
	var e store.AuditEvent
	var outcome string
	var prev, hash []byte
	if err := r.Scan(&e.Seq, &e.Time, &e.Actor, &e.OrgID, &e.Action, &e.Target, &outcome,
		&e.Network, &e.Metadata, &prev, &hash); err != nil {
		return e, err
	}
	e.Outcome = store.Outcome(outcome)
	var err error
	if e.PrevHash, err = hash32(prev); err != nil {
		return e, fmt.Errorf("audit event %d: %w", e.Seq, err)
	}
	if e.Hash, err = hash32(hash); err != nil {
		return e, fmt.Errorf("audit event %d: %w", e.Seq, err)
	}
	return e, nil
}

// AppendAuditEvent implements [store.AuditLog]. The chain head is one row,
// locked for the length of the transaction, so concurrent appends queue up
// behind each other instead of forking the chain.
func (db *DB) AppendAuditEvent(ctx context.Context, e store.AuditEvent) (store.AuditEvent, error) {
	if e.Metadata == "" {
		e.Metadata = "{}"
	}
	e.Time = e.Time.UTC().Truncate(1000) // microseconds: what every store keeps
	err := db.tx(ctx, func(c Conn) error {
		var prev []byte
		err := c.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`+db.dialect.ForUpdate).Scan(&e.Seq, &prev)
		if err != nil {
			return fmt.Errorf("read audit head: %w", err)
		}
		if e.PrevHash, err = hash32(prev); err != nil {
			return fmt.Errorf("read audit head: %w", err)
		}
		e.Seq++
		e.Hash = e.Digest()
		_, err = c.Exec(ctx, `INSERT INTO audit_events (`+auditColumns+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			e.Seq, e.Time, e.Actor, e.OrgID, e.Action, e.Target, string(e.Outcome), e.Network, e.Metadata,
			e.PrevHash[:], e.Hash[:])
		if err != nil {
			return fmt.Errorf("insert audit event %d: %w", e.Seq, err)
		}
		_, err = c.Exec(ctx, `UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1`, e.Seq, e.Hash[:])
		if err != nil {
			return fmt.Errorf("advance audit head: %w", err)
		}
		return nil
	})
	return e, err
}

// AuditEvents implements [store.AuditLog].
func (db *DB) AuditEvents(ctx context.Context, after int64, limit int) ([]store.AuditEvent, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE seq > $1 ORDER BY seq LIMIT $2`, after, limit)
	return collect(rows, err, func(r Rows) (store.AuditEvent, error) { return scanAuditEvent(r) })
}

// OrgAuditEvents implements [store.AuditLog].
func (db *DB) OrgAuditEvents(ctx context.Context, orgID string, before int64, limit int) ([]store.AuditEvent, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.conn.Query(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE org_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3`, orgID, before, limit)
	return collect(rows, err, func(r Rows) (store.AuditEvent, error) { return scanAuditEvent(r) })
}

// AuditCheckpoint implements [store.AuditLog].
func (db *DB) AuditCheckpoint(ctx context.Context) (store.AuditCheckpoint, error) {
	var cp store.AuditCheckpoint
	var hash []byte
	err := db.conn.QueryRow(ctx, `SELECT seq, hash, at FROM audit_checkpoint WHERE id = 1`).Scan(&cp.Seq, &hash, &cp.Time)
	if notFound(err) {
		return store.AuditCheckpoint{}, nil
	}
	if err != nil {
		return cp, fmt.Errorf("read audit checkpoint: %w", err)
	}
	cp.Hash, err = hash32(hash)
	return cp, err
}

// AuditHead implements [store.AuditLog].
func (db *DB) AuditHead(ctx context.Context) (int64, [32]byte, error) {
	var seq int64
	var hash []byte
	if err := db.conn.QueryRow(ctx, `SELECT seq, hash FROM audit_head WHERE id = 1`).Scan(&seq, &hash); err != nil {
		return 0, [32]byte{}, fmt.Errorf("read audit head: %w", err)
	}
	h, err := hash32(hash)
	return seq, h, err
}
