-- Foundation: data keys, audit log, rate limits, one-time tokens.
-- Times are INTEGER unix microseconds (the store converts).

CREATE TABLE data_keys (
	id          TEXT PRIMARY KEY,
	state       TEXT NOT NULL CHECK (state IN ('primary', 'decrypt-only', 'destroyed')),
	wrapped     BLOB,
	kek_version TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	CHECK ((state = 'destroyed') = (wrapped IS NULL))
) STRICT;
CREATE UNIQUE INDEX data_keys_one_primary ON data_keys (state) WHERE state = 'primary';

CREATE TABLE audit_events (
	seq       INTEGER PRIMARY KEY,
	at        INTEGER NOT NULL,
	actor     TEXT NOT NULL,
	org_id    TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	outcome   TEXT NOT NULL,
	network   TEXT NOT NULL,
	metadata  TEXT NOT NULL,
	prev_hash BLOB NOT NULL,
	hash      BLOB NOT NULL
) STRICT;
CREATE INDEX audit_events_org ON audit_events (org_id, seq);

CREATE TABLE audit_head (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash BLOB NOT NULL
) STRICT;
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE audit_checkpoint (
	id   INTEGER PRIMARY KEY CHECK (id = 1),
	seq  INTEGER NOT NULL,
	hash BLOB NOT NULL,
	at   INTEGER NOT NULL
) STRICT;

-- Append-only: the embedded store has one role, so the triggers are the guard.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TABLE audit_retention_gate (open INTEGER NOT NULL) STRICT;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_retention_gate WHERE open = 1)
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;

CREATE TABLE rate_limits (
	key    TEXT PRIMARY KEY,
	tat    INTEGER NOT NULL,
	denied INTEGER NOT NULL
) STRICT;

CREATE TABLE one_time_tokens (
	hash       BLOB PRIMARY KEY,
	purpose    TEXT NOT NULL,
	subject    TEXT NOT NULL,
	data       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER NOT NULL,
	used_at    INTEGER
) STRICT;
CREATE INDEX one_time_tokens_expiry ON one_time_tokens (expires_at);
