-- Foundation: data keys, audit log, rate limits, one-time tokens.

CREATE TABLE data_keys (
	id          TEXT PRIMARY KEY,
	state       TEXT NOT NULL CHECK (state IN ('primary', 'decrypt-only', 'destroyed')),
	wrapped     BYTEA,
	kek_version TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	CHECK ((state = 'destroyed') = (wrapped IS NULL))
);
CREATE UNIQUE INDEX data_keys_one_primary ON data_keys (state) WHERE state = 'primary';

CREATE TABLE audit_events (
	seq       BIGINT PRIMARY KEY,
	at        TIMESTAMPTZ NOT NULL,
	actor     TEXT NOT NULL,
	org_id    TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	outcome   TEXT NOT NULL,
	network   TEXT NOT NULL,
	metadata  TEXT NOT NULL,
	prev_hash BYTEA NOT NULL,
	hash      BYTEA NOT NULL
);
CREATE INDEX audit_events_org ON audit_events (org_id, seq);

-- The chain head: one row, locked by every append so the chain never forks.
CREATE TABLE audit_head (
	id   INT PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL,
	hash BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Where the retained chain starts once retention has deleted older events.
CREATE TABLE audit_checkpoint (
	id   INT PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL,
	hash BYTEA NOT NULL,
	at   TIMESTAMPTZ NOT NULL
);

-- Audit rows are append-only. Besides the grants (the application role gets
-- SELECT and INSERT only), this trigger stops every UPDATE, and every DELETE
-- not made by the retention function below, whoever the role.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'DELETE' AND current_setting('gatehouse.audit_retention', true) = 'on' THEN
		RETURN OLD;
	END IF;
	RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
	FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
	FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TABLE rate_limits (
	key    TEXT PRIMARY KEY,
	tat    BIGINT NOT NULL, -- GCRA theoretical arrival time, unix microseconds
	denied BOOLEAN NOT NULL
);

CREATE TABLE one_time_tokens (
	hash       BYTEA PRIMARY KEY,
	purpose    TEXT NOT NULL,
	subject    TEXT NOT NULL,
	data       TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ NOT NULL,
	used_at    TIMESTAMPTZ
);
CREATE INDEX one_time_tokens_expiry ON one_time_tokens (expires_at);
