-- The audit log becomes a Merkle tree (RFC 6962) with signed checkpoints:
-- see the PostgreSQL migration of the same name. SQLite serializes its
-- writers, so ids are assigned in commit order and xid is always 0.
-- Retention never deletes the newest event row: its id must never be
-- handed out again (ids are the rowid, which reuses a deleted maximum).

DROP TABLE audit_head;
DROP TRIGGER audit_retention_check;
DROP TRIGGER audit_retention_apply;

ALTER TABLE audit_events RENAME COLUMN seq TO id;
ALTER TABLE audit_events ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE audit_events ADD COLUMN xid INTEGER NOT NULL DEFAULT 0;
CREATE INDEX audit_events_pending ON audit_events (xid, id);

CREATE TABLE audit_leaves (
	seq      INTEGER PRIMARY KEY CHECK (seq > 0),
	event_id INTEGER NOT NULL UNIQUE,
	xid      INTEGER NOT NULL,
	org_id   TEXT NOT NULL,
	hash     BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;
CREATE INDEX audit_leaves_org ON audit_leaves (org_id, seq);

CREATE TABLE audit_nodes (
	level INTEGER NOT NULL CHECK (level > 0),
	idx   INTEGER NOT NULL CHECK (idx >= 0),
	hash  BLOB NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (level, idx)
) STRICT;

CREATE TABLE audit_tree_heads (
	size INTEGER PRIMARY KEY CHECK (size > 0),
	root BLOB NOT NULL CHECK (length(root) = 32),
	note TEXT NOT NULL,
	at   INTEGER NOT NULL
) STRICT;

CREATE TABLE audit_signing_keys (
	id                 TEXT PRIMARY KEY,
	private_key        BLOB NOT NULL,
	private_key_key_id TEXT NOT NULL,
	public_key         TEXT NOT NULL,
	created_at         INTEGER NOT NULL
) STRICT;
CREATE INDEX audit_signing_keys_private_key_key ON audit_signing_keys (private_key_key_id, id);

CREATE TRIGGER audit_leaves_no_update BEFORE UPDATE ON audit_leaves
BEGIN SELECT RAISE(ABORT, 'audit_leaves is append-only'); END;
CREATE TRIGGER audit_leaves_no_delete BEFORE DELETE ON audit_leaves
BEGIN SELECT RAISE(ABORT, 'audit_leaves is append-only'); END;
CREATE TRIGGER audit_nodes_no_update BEFORE UPDATE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END;
CREATE TRIGGER audit_nodes_no_delete BEFORE DELETE ON audit_nodes
BEGIN SELECT RAISE(ABORT, 'audit_nodes is append-only'); END;
CREATE TRIGGER audit_tree_heads_no_update BEFORE UPDATE ON audit_tree_heads
BEGIN SELECT RAISE(ABORT, 'audit_tree_heads is append-only'); END;
CREATE TRIGGER audit_tree_heads_no_delete BEFORE DELETE ON audit_tree_heads
BEGIN SELECT RAISE(ABORT, 'audit_tree_heads is append-only'); END;

CREATE TRIGGER audit_retention_check BEFORE INSERT ON audit_retention_runs
BEGIN
	SELECT RAISE(ABORT, 'audit retention refused: cutoff is less than 12 months ago')
	WHERE NEW.cutoff > CAST(strftime('%s', 'now', '-12 months') AS INTEGER) * 1000000;
	SELECT RAISE(ABORT, 'audit retention refused: checkpoint does not name an integrated event')
	WHERE NOT EXISTS (SELECT 1 FROM audit_leaves WHERE seq = NEW.seq AND hash = NEW.hash);
	SELECT RAISE(ABORT, 'audit retention refused: an event at or before the checkpoint is newer than the cutoff')
	WHERE EXISTS (SELECT 1 FROM audit_leaves l JOIN audit_events e ON e.id = l.event_id
		WHERE l.seq > COALESCE((SELECT seq FROM audit_checkpoint WHERE id = 1), 0) AND l.seq <= NEW.seq AND e.at >= NEW.cutoff);
END;

CREATE TRIGGER audit_retention_apply AFTER INSERT ON audit_retention_runs
BEGIN
	INSERT INTO audit_retention_gate (open) VALUES (1);
	DELETE FROM audit_events WHERE id IN (SELECT l.event_id FROM audit_leaves l
		WHERE l.seq > COALESCE((SELECT seq FROM audit_checkpoint WHERE id = 1), 0) AND l.seq <= NEW.seq)
		AND id < (SELECT max(id) FROM audit_events);
	UPDATE audit_retention_runs
	SET deleted = changes(),
	    applied_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000000
	WHERE id = NEW.id;
	DELETE FROM audit_retention_gate;
	INSERT OR REPLACE INTO audit_checkpoint (id, seq, hash, at, signature)
	VALUES (1, NEW.seq, NEW.hash, NEW.checkpoint_at, NEW.signature);
END;
