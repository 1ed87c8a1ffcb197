-- The audit log becomes a Merkle tree (RFC 6962) with signed checkpoints.
--
-- An append inserts its event, with its leaf hash, and takes no lock that
-- another append waits on: no head row any more. Events get an id from a
-- sequence and the id of their transaction (xid); the sequencer integrates
-- committed events in (xid, id) order, reading only events whose xid is
-- below its snapshot's xmin, so an event whose transaction commits after a
-- later-numbered one is never skipped. Integration inserts the leaves, the
-- perfect subtrees they complete and a signed checkpoint, in one
-- transaction; all three are append-only like the events.
--
-- Events of the hash chain that came before keep their id (their old seq),
-- their chain link and chain hash; they are version 1 and are integrated
-- first (xid 0), their leaf hash computed from their version 1 encoding.

DROP TABLE audit_head;

ALTER TABLE audit_events RENAME COLUMN seq TO id;
ALTER TABLE audit_events ADD COLUMN version SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE audit_events ALTER COLUMN version SET DEFAULT 2;
ALTER TABLE audit_events ADD COLUMN xid BIGINT NOT NULL DEFAULT 0;
ALTER TABLE audit_events ALTER COLUMN xid SET DEFAULT (pg_current_xact_id()::text::bigint);
CREATE SEQUENCE audit_events_id_seq OWNED BY audit_events.id;
SELECT setval('audit_events_id_seq', COALESCE((SELECT max(id) FROM audit_events), 0) + 1, false);
ALTER TABLE audit_events ALTER COLUMN id SET DEFAULT nextval('audit_events_id_seq');
-- Version 2 events keep their leaf hash in hash; prev_hash is empty.
CREATE INDEX audit_events_pending ON audit_events (xid, id);

-- Leaf seq (1-based: leaf index + 1) holds event event_id. org_id is copied
-- so an organization's trail is read in log order from one index.
CREATE TABLE audit_leaves (
	seq      BIGINT PRIMARY KEY CHECK (seq > 0),
	event_id BIGINT NOT NULL UNIQUE,
	xid      BIGINT NOT NULL,
	org_id   TEXT NOT NULL,
	hash     BYTEA NOT NULL CHECK (length(hash) = 32)
);
CREATE INDEX audit_leaves_org ON audit_leaves (org_id, seq);

-- Roots of the perfect subtrees (level >= 1; the leaves are level 0), the
-- nodes inclusion and consistency proofs are made of.
CREATE TABLE audit_nodes (
	level SMALLINT NOT NULL CHECK (level > 0),
	idx   BIGINT NOT NULL CHECK (idx >= 0),
	hash  BYTEA NOT NULL CHECK (length(hash) = 32),
	PRIMARY KEY (level, idx)
);

-- Signed checkpoints (C2SP tlog-checkpoint notes), one per batch.
CREATE TABLE audit_tree_heads (
	size BIGINT PRIMARY KEY CHECK (size > 0),
	root BYTEA NOT NULL CHECK (length(root) = 32),
	note TEXT NOT NULL,
	at   TIMESTAMPTZ NOT NULL
);

-- The checkpoint-signing key, sealed (store.SealedColumns).
CREATE TABLE audit_signing_keys (
	id                 TEXT PRIMARY KEY,
	private_key        BYTEA NOT NULL,
	private_key_key_id TEXT NOT NULL,
	public_key         TEXT NOT NULL,
	created_at         TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_signing_keys_private_key_key ON audit_signing_keys (private_key_key_id, id);

-- The tree is append-only for every role (the application role also lacks
-- UPDATE, DELETE and TRUNCATE on it: see Migrate).
CREATE FUNCTION audit_tree_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION '% is append-only (% refused)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_leaves_append_only BEFORE UPDATE OR DELETE ON audit_leaves
	FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_leaves_no_truncate BEFORE TRUNCATE ON audit_leaves
	FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_nodes_append_only BEFORE UPDATE OR DELETE ON audit_nodes
	FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_nodes_no_truncate BEFORE TRUNCATE ON audit_nodes
	FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_tree_heads_append_only BEFORE UPDATE OR DELETE ON audit_tree_heads
	FOR EACH ROW EXECUTE FUNCTION audit_tree_append_only();
CREATE TRIGGER audit_tree_heads_no_truncate BEFORE TRUNCATE ON audit_tree_heads
	FOR EACH STATEMENT EXECUTE FUNCTION audit_tree_append_only();

-- Retention (AUDIT-3) now deletes the contents of integrated events: the
-- request names a leaf (seq and leaf hash); every event up to it must be
-- older than the cutoff; the leaves, nodes and checkpoints stay, so proofs
-- and verification of every later event keep working.
CREATE OR REPLACE FUNCTION audit_retention_apply() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
DECLARE
	stored BYTEA;
	since BIGINT;
	n BIGINT;
BEGIN
	PERFORM pg_advisory_xact_lock(7243062);
	IF NEW.cutoff > now() - interval '12 months' THEN
		RAISE EXCEPTION 'audit retention refused: cutoff is less than 12 months ago' USING ERRCODE = 'insufficient_privilege';
	END IF;
	SELECT l.hash INTO stored FROM audit_leaves l WHERE l.seq = NEW.seq;
	IF stored IS NULL OR stored <> NEW.hash THEN
		RAISE EXCEPTION 'audit retention refused: checkpoint does not name an integrated event' USING ERRCODE = 'insufficient_privilege';
	END IF;
	since := COALESCE((SELECT c.seq FROM audit_checkpoint c WHERE c.id = 1), 0);
	IF EXISTS (SELECT 1 FROM audit_leaves l JOIN audit_events e ON e.id = l.event_id
		WHERE l.seq > since AND l.seq <= NEW.seq AND e.at >= NEW.cutoff) THEN
		RAISE EXCEPTION 'audit retention refused: an event at or before the checkpoint is newer than the cutoff' USING ERRCODE = 'insufficient_privilege';
	END IF;
	INSERT INTO audit_checkpoint (id, seq, hash, at, signature) VALUES (1, NEW.seq, NEW.hash, NEW.checkpoint_at, NEW.signature)
		ON CONFLICT (id) DO UPDATE SET seq = EXCLUDED.seq, hash = EXCLUDED.hash, at = EXCLUDED.at, signature = EXCLUDED.signature;
	PERFORM set_config('gatehouse.audit_retention', 'on', true);
	DELETE FROM audit_events e USING audit_leaves l WHERE l.event_id = e.id AND l.seq > since AND l.seq <= NEW.seq;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM set_config('gatehouse.audit_retention', 'off', true);
	NEW.deleted := n;
	NEW.applied_at := now();
	RETURN NEW;
END;
$$;

DO $$
BEGIN
	EXECUTE format('ALTER FUNCTION audit_retention_apply() SET search_path = %I, pg_temp', current_schema());
END;
$$;
