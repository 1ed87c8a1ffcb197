package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// auditColumns are an event's columns (aliased e) followed by its leaf's
// seq, 0 when it is not integrated (the query joins audit_leaves as l).
const auditColumns = `e.id, e.version, e.at, e.actor, e.org_id, e.action, e.target, e.outcome, e.network,
	e.metadata, e.prev_hash, e.hash, e.xid, COALESCE(l.seq, 0)`

// auditFrom joins every event to its leaf, if it has one.
const auditFrom = ` FROM audit_events e LEFT JOIN audit_leaves l ON l.event_id = e.id `

// auditIntegrated joins integrated events to their leaves.
const auditIntegrated = ` FROM audit_leaves l JOIN audit_events e ON e.id = l.event_id `

func scanAuditEvent(r Row) (store.AuditEvent, error) {
	var e store.AuditEvent
	var outcome string
	var prev, hash []byte
	if err := r.Scan(&e.ID, &e.Version, &e.Time, &e.Actor, &e.OrgID, &e.Action, &e.Target, &outcome,
		&e.Network, &e.Metadata, &prev, &hash, &e.XID, &e.Seq); err != nil {
		return e, err
	}
	e.Outcome = store.Outcome(outcome)
	stored, err := hash32(hash)
	if err != nil {
		return e, fmt.Errorf("audit event %d: %w", e.ID, err)
	}
	if e.Version != 1 {
		e.LeafHash = stored
		return e, nil
	}
	// A hash-chain event: its chain place and link are part of what its
	// leaf commits to; its stored hash is the chain's.
	e.ChainSeq = e.ID
	if e.PrevHash, err = hash32(prev); err != nil {
		return e, fmt.Errorf("audit event %d: %w", e.ID, err)
	}
	if e.Proof().ChainHash() != stored {
		// Leave the leaf hash zero: it matches nothing, so the sequencer
		// refuses the event and Verify names it.
		return e, nil
	}
	e.LeafHash = e.ComputeLeafHash()
	return e, nil
}

// AppendAuditEvent implements [store.AuditLog]: one INSERT, no lock that
// another append waits on.
func (db *DB) AppendAuditEvent(ctx context.Context, e store.AuditEvent) (store.AuditEvent, error) {
	if e.Metadata == "" {
		e.Metadata = "{}"
	}
	e.Time = e.Time.UTC().Truncate(time.Microsecond) // what every store keeps
	e.Version, e.Seq, e.ChainSeq, e.PrevHash = 2, 0, 0, [32]byte{}
	e.LeafHash = e.ComputeLeafHash()
	err := db.conn.QueryRow(ctx, `INSERT INTO audit_events
		(version, at, actor, org_id, action, target, outcome, network, metadata, prev_hash, hash)
		VALUES (2, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id`,
		e.Time, e.Actor, e.OrgID, e.Action, e.Target, string(e.Outcome), e.Network, e.Metadata,
		[]byte{}, e.LeafHash[:]).Scan(&e.ID)
	if err != nil {
		return e, fmt.Errorf("insert audit event: %w", err)
	}
	return e, nil
}

// AuditEvents implements [store.AuditLog].
func (db *DB) AuditEvents(ctx context.Context, afterID int64, limit int) ([]store.AuditEvent, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+auditColumns+auditFrom+`
		WHERE e.id > $1 ORDER BY e.id LIMIT $2`, afterID, limit)
	return collect(rows, err, func(r Rows) (store.AuditEvent, error) { return scanAuditEvent(r) })
}

// IntegratedAuditEvents implements [store.AuditLog].
func (db *DB) IntegratedAuditEvents(ctx context.Context, afterSeq int64, limit int) ([]store.AuditEvent, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+auditColumns+auditIntegrated+`
		WHERE l.seq > $1 ORDER BY l.seq LIMIT $2`, afterSeq, limit)
	return collect(rows, err, func(r Rows) (store.AuditEvent, error) { return scanAuditEvent(r) })
}

// OrgAuditEvents implements [store.AuditLog].
func (db *DB) OrgAuditEvents(ctx context.Context, orgID string, before int64, limit int) ([]store.AuditEvent, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := db.conn.Query(ctx, `SELECT `+auditColumns+auditIntegrated+`
		WHERE l.org_id = $1 AND l.seq < $2 ORDER BY l.seq DESC LIMIT $3`, orgID, before, limit)
	return collect(rows, err, func(r Rows) (store.AuditEvent, error) { return scanAuditEvent(r) })
}

// AuditEventBySeq implements [store.AuditLog].
func (db *DB) AuditEventBySeq(ctx context.Context, seq int64) (store.AuditEvent, error) {
	e, err := scanAuditEvent(db.conn.QueryRow(ctx, `SELECT `+auditColumns+auditIntegrated+` WHERE l.seq = $1`, seq))
	if err != nil {
		return e, fmt.Errorf("read audit event %d: %w", seq, err)
	}
	return e, nil
}

// PendingAuditEvents implements [store.AuditLog]. On PostgreSQL an event
// is final once its transaction id is below the xmin of the statement's
// snapshot: every transaction that could still commit an event before it
// has ended, so reading in (xid, id) order never skips one that commits
// late. (Sequence values, and so ids, are taken in one order and committed
// in another; xids are too, but xmin tells which are settled.)
func (db *DB) PendingAuditEvents(ctx context.Context, cur store.AuditCursor, limit int) ([]store.AuditEvent, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+auditColumns+auditFrom+`
		WHERE (e.xid > $1 OR e.xid = $1 AND e.id > $2) AND e.xid < `+db.dialect.SettledXID+`
		ORDER BY e.xid, e.id LIMIT $3`, cur.XID, cur.ID, limit)
	return collect(rows, err, func(r Rows) (store.AuditEvent, error) {
		e, err := scanAuditEvent(r)
		if err == nil && e.Seq != 0 {
			err = fmt.Errorf("audit event %d is integrated at %d but lies past the sequencer's cursor", e.ID, e.Seq)
		}
		return e, err
	})
}

// AuditLeaves implements [store.AuditLog].
func (db *DB) AuditLeaves(ctx context.Context, afterSeq int64, limit int) ([]store.AuditLeaf, error) {
	rows, err := db.conn.Query(ctx, `SELECT seq, event_id, xid, org_id, hash FROM audit_leaves
		WHERE seq > $1 ORDER BY seq LIMIT $2`, afterSeq, limit)
	return collect(rows, err, func(r Rows) (store.AuditLeaf, error) {
		var l store.AuditLeaf
		var h []byte
		if err := r.Scan(&l.Seq, &l.EventID, &l.XID, &l.OrgID, &h); err != nil {
			return l, err
		}
		var err error
		l.Hash, err = hash32(h)
		return l, err
	})
}

// AuditNodes implements [store.AuditLog].
func (db *DB) AuditNodes(ctx context.Context, ids []store.AuditNodeID) ([][32]byte, error) {
	out := make([][32]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	var q strings.Builder
	args := make([]any, 0, 2*len(ids))
	for i, id := range ids {
		if i > 0 {
			q.WriteString(" UNION ALL ")
		}
		if id.Level == 0 {
			fmt.Fprintf(&q, `SELECT %d, hash FROM audit_leaves WHERE seq = $%d`, i, len(args)+1)
			args = append(args, int64(id.Index)+1)
			continue
		}
		fmt.Fprintf(&q, `SELECT %d, hash FROM audit_nodes WHERE level = $%d AND idx = $%d`, i, len(args)+1, len(args)+2)
		args = append(args, int64(id.Level), int64(id.Index))
	}
	// sqltext: constant fragments and placeholders; every value is a parameter.
	rows, err := db.conn.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, fmt.Errorf("read audit tree nodes: %w", err)
	}
	defer rows.Close()
	found := make([]bool, len(ids))
	for rows.Next() {
		var i int
		var h []byte
		if err := rows.Scan(&i, &h); err != nil {
			return nil, fmt.Errorf("read audit tree nodes: %w", err)
		}
		if out[i], err = hash32(h); err != nil {
			return nil, fmt.Errorf("audit tree node %v: %w", ids[i], err)
		}
		found[i] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit tree nodes: %w", err)
	}
	for i, ok := range found {
		if !ok {
			return nil, fmt.Errorf("audit tree node level %d index %d: %w", ids[i].Level, ids[i].Index, store.ErrNotFound)
		}
	}
	return out, nil
}

// AppendAuditBatch implements [store.AuditLog]: leaves, nodes and the
// checkpoint in one transaction, each table's primary key refusing a
// second batch for the same place.
func (db *DB) AppendAuditBatch(ctx context.Context, b store.AuditBatch) error {
	return db.tx(ctx, func(c Conn) error {
		leaves := make([][]any, len(b.Leaves))
		for i, l := range b.Leaves {
			leaves[i] = []any{l.Seq, l.EventID, l.XID, l.OrgID, l.Hash[:]}
		}
		if err := insertRows(ctx, c, `INSERT INTO audit_leaves (seq, event_id, xid, org_id, hash) VALUES `, leaves); err != nil {
			return fmt.Errorf("insert audit leaves: %w", err)
		}
		nodes := make([][]any, len(b.Nodes))
		for i, n := range b.Nodes {
			nodes[i] = []any{int64(n.Level), int64(n.Index), n.Hash[:]}
		}
		if err := insertRows(ctx, c, `INSERT INTO audit_nodes (level, idx, hash) VALUES `, nodes); err != nil {
			return fmt.Errorf("insert audit nodes: %w", err)
		}
		if _, err := c.Exec(ctx, `INSERT INTO audit_tree_heads (size, root, note, at) VALUES ($1, $2, $3, $4)`,
			b.Head.Size, b.Head.Root[:], b.Head.Note, b.Head.Time); err != nil {
			return fmt.Errorf("insert audit checkpoint %d: %w", b.Head.Size, err)
		}
		return nil
	})
}

const headColumns = `size, root, note, at`

func scanHead(r Row) (store.AuditTreeHead, error) {
	var h store.AuditTreeHead
	var root []byte
	if err := r.Scan(&h.Size, &root, &h.Note, &h.Time); err != nil {
		return h, err
	}
	var err error
	h.Root, err = hash32(root)
	return h, err
}

// AuditTreeHead implements [store.AuditLog].
func (db *DB) AuditTreeHead(ctx context.Context) (store.AuditTreeHead, error) {
	h, err := scanHead(db.conn.QueryRow(ctx, `SELECT `+headColumns+` FROM audit_tree_heads ORDER BY size DESC LIMIT 1`))
	if notFound(err) {
		return store.AuditTreeHead{}, nil
	}
	if err != nil {
		return h, fmt.Errorf("read audit checkpoint: %w", err)
	}
	return h, nil
}

// AuditTreeHeadAt implements [store.AuditLog].
func (db *DB) AuditTreeHeadAt(ctx context.Context, size int64) (store.AuditTreeHead, error) {
	h, err := scanHead(db.conn.QueryRow(ctx, `SELECT `+headColumns+` FROM audit_tree_heads WHERE size = $1`, size))
	if err != nil {
		return h, fmt.Errorf("read audit checkpoint %d: %w", size, err)
	}
	return h, nil
}

// AuditTreeHeads implements [store.AuditLog].
func (db *DB) AuditTreeHeads(ctx context.Context, afterSize int64, limit int) ([]store.AuditTreeHead, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+headColumns+` FROM audit_tree_heads WHERE size > $1 ORDER BY size LIMIT $2`, afterSize, limit)
	return collect(rows, err, func(r Rows) (store.AuditTreeHead, error) { return scanHead(r) })
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

// AuditSigningKey implements [store.AuditLog].
func (db *DB) AuditSigningKey(ctx context.Context, id string) (store.AuditSigningKey, error) {
	k := store.AuditSigningKey{ID: id}
	err := db.conn.QueryRow(ctx, `SELECT private_key, private_key_key_id, public_key, created_at
		FROM audit_signing_keys WHERE id = $1`, id).Scan(&k.Sealed, &k.KeyID, &k.PublicKey, &k.CreatedAt)
	return k, err
}

// CreateAuditSigningKey implements [store.AuditLog].
func (db *DB) CreateAuditSigningKey(ctx context.Context, k store.AuditSigningKey) error {
	_, err := db.conn.Exec(ctx, `INSERT INTO audit_signing_keys (id, private_key, private_key_key_id, public_key, created_at)
		VALUES ($1, $2, $3, $4, $5)`, k.ID, k.Sealed, k.KeyID, k.PublicKey, k.CreatedAt)
	if err != nil {
		return fmt.Errorf("insert audit signing key: %w", err)
	}
	return nil
}

// insertRows runs insert (ending in "VALUES ") over rows, many rows a
// statement, every value a placeholder.
func insertRows(ctx context.Context, c Conn, insert string, rows [][]any) error {
	const perStatement = 500
	for len(rows) > 0 {
		chunk := rows[:min(perStatement, len(rows))]
		rows = rows[len(chunk):]
		var q strings.Builder
		q.WriteString(insert)
		var args []any
		for i, r := range chunk {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString("(")
			for j, v := range r {
				if j > 0 {
					q.WriteString(", ")
				}
				args = append(args, v)
				fmt.Fprintf(&q, "$%d", len(args))
			}
			q.WriteString(")")
		}
		// sqltext: constant fragments and placeholders only.
		if _, err := c.Exec(ctx, q.String(), args...); err != nil {
			return err
		}
	}
	return nil
}
