-- Rotate function: the one-run-at-a-time lease, run records (resume and
-- idempotency per message), named state, the function's own sealed
-- secrets, and the signed audit retention path. Times are INTEGER unix
-- microseconds.

CREATE TABLE rotation_leases (
	name       TEXT PRIMARY KEY,
	holder     TEXT NOT NULL,
	run_id     TEXT NOT NULL,
	expires_at INTEGER NOT NULL
) STRICT;

CREATE TABLE rotation_runs (
	id          TEXT PRIMARY KEY,
	started_at  INTEGER NOT NULL,
	finished_at INTEGER,
	report      TEXT NOT NULL
) STRICT;
CREATE INDEX rotation_runs_started ON rotation_runs (started_at);

CREATE TABLE rotation_state (
	name       TEXT PRIMARY KEY,
	value      TEXT NOT NULL,
	updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE rotation_secrets (
	id            TEXT PRIMARY KEY,
	secret        BLOB NOT NULL,
	secret_key_id TEXT NOT NULL,
	created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX rotation_secrets_secret_key ON rotation_secrets (secret_key_id, id);

ALTER TABLE audit_checkpoint ADD COLUMN signature BLOB;

CREATE INDEX audit_events_at ON audit_events (at);

-- Retention deletes webhook events (billing records) by age.
CREATE INDEX webhook_events_received ON webhook_events (received_at);

-- Audit retention goes through a request row; the triggers check it (the
-- same rules as on PostgreSQL, by the database clock), move the checkpoint
-- and delete through the retention gate of migration 0001.
CREATE TABLE audit_retention_runs (
	id            INTEGER PRIMARY KEY,
	cutoff        INTEGER NOT NULL,
	seq           INTEGER NOT NULL,
	hash          BLOB NOT NULL,
	checkpoint_at INTEGER NOT NULL,
	signature     BLOB NOT NULL,
	deleted       INTEGER NOT NULL DEFAULT 0,
	applied_at    INTEGER
) STRICT;

CREATE TRIGGER audit_retention_check BEFORE INSERT ON audit_retention_runs
BEGIN
	SELECT RAISE(ABORT, 'audit retention refused: cutoff is less than 12 months ago')
	WHERE NEW.cutoff > CAST(strftime('%s', 'now', '-12 months') AS INTEGER) * 1000000;
	SELECT RAISE(ABORT, 'audit retention refused: checkpoint does not name a stored event')
	WHERE NOT EXISTS (SELECT 1 FROM audit_events WHERE seq = NEW.seq AND hash = NEW.hash);
	SELECT RAISE(ABORT, 'audit retention refused: an event at or before the checkpoint is newer than the cutoff')
	WHERE EXISTS (SELECT 1 FROM audit_events WHERE seq <= NEW.seq AND at >= NEW.cutoff);
END;

CREATE TRIGGER audit_retention_apply AFTER INSERT ON audit_retention_runs
BEGIN
	UPDATE audit_retention_runs
	SET deleted = (SELECT count(*) FROM audit_events WHERE seq <= NEW.seq),
	    applied_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000000
	WHERE id = NEW.id;
	INSERT OR REPLACE INTO audit_checkpoint (id, seq, hash, at, signature)
	VALUES (1, NEW.seq, NEW.hash, NEW.checkpoint_at, NEW.signature);
	INSERT INTO audit_retention_gate (open) VALUES (1);
	DELETE FROM audit_events WHERE seq <= NEW.seq;
	DELETE FROM audit_retention_gate;
END;

CREATE TRIGGER audit_retention_runs_no_delete BEFORE DELETE ON audit_retention_runs
BEGIN SELECT RAISE(ABORT, 'audit_retention_runs is append-only'); END;
