-- Auth core: users, known devices, lockouts, sessions, refresh tokens,
-- token-signing keys.
-- Times are INTEGER unix microseconds (the store converts); booleans INTEGER 0/1.

CREATE TABLE users (
	id                TEXT PRIMARY KEY,
	email             TEXT NOT NULL UNIQUE,
	name              TEXT NOT NULL,
	password_hash     TEXT NOT NULL,
	email_verified_at INTEGER,
	created_at        INTEGER NOT NULL,
	updated_at        INTEGER NOT NULL
) STRICT;

CREATE TABLE known_devices (
	user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	device_id     TEXT NOT NULL,
	network       TEXT NOT NULL,
	first_seen_at INTEGER NOT NULL,
	last_seen_at  INTEGER NOT NULL,
	PRIMARY KEY (user_id, device_id, network)
) STRICT;

-- Keyed by a hash of the normalized email, known or not.
CREATE TABLE lockouts (
	key             TEXT PRIMARY KEY,
	failures        INTEGER NOT NULL,
	last_failure_at INTEGER NOT NULL,
	locked_until    INTEGER
) STRICT;

CREATE TABLE sessions (
	id                  TEXT PRIMARY KEY,
	user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at          INTEGER NOT NULL,
	last_seen_at        INTEGER NOT NULL,
	idle_expires_at     INTEGER NOT NULL,
	absolute_expires_at INTEGER NOT NULL,
	network             TEXT NOT NULL,
	user_agent          TEXT NOT NULL,
	device_id           TEXT NOT NULL,
	auth_methods        TEXT NOT NULL,
	auth_level          INTEGER NOT NULL,
	auth_time           INTEGER NOT NULL,
	revoked_at          INTEGER,
	revoke_reason       TEXT NOT NULL,
	refresh_key         BLOB NOT NULL,
	refresh_key_key_id  TEXT NOT NULL
) STRICT;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_refresh_key_key_id ON sessions (refresh_key_key_id);

CREATE TABLE refresh_tokens (
	hash       BLOB PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	issued_at  INTEGER NOT NULL,
	rotated_at INTEGER,
	grace_used INTEGER NOT NULL
) STRICT;
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
	id                  TEXT PRIMARY KEY,
	public_key          BLOB NOT NULL,
	private_key         BLOB NOT NULL,
	private_key_key_id  TEXT NOT NULL,
	created_at          INTEGER NOT NULL,
	active_at           INTEGER NOT NULL
) STRICT;
CREATE INDEX signing_keys_private_key_key_id ON signing_keys (private_key_key_id);

-- GET /me/export lists the user's own audit events.
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
