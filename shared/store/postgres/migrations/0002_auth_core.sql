-- Auth core: users, known devices, lockouts, sessions, refresh tokens,
-- token-signing keys.

CREATE TABLE users (
	id                TEXT PRIMARY KEY,
	email             TEXT NOT NULL UNIQUE,
	name              TEXT NOT NULL,
	password_hash     TEXT NOT NULL,
	email_verified_at TIMESTAMPTZ,
	created_at        TIMESTAMPTZ NOT NULL,
	updated_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE known_devices (
	user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	device_id     TEXT NOT NULL,
	network       TEXT NOT NULL,
	first_seen_at TIMESTAMPTZ NOT NULL,
	last_seen_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (user_id, device_id, network)
);

-- Keyed by a hash of the normalized email, known or not.
CREATE TABLE lockouts (
	key             TEXT PRIMARY KEY,
	failures        INTEGER NOT NULL,
	last_failure_at TIMESTAMPTZ NOT NULL,
	locked_until    TIMESTAMPTZ
);

CREATE TABLE sessions (
	id                  TEXT PRIMARY KEY,
	user_id             TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at          TIMESTAMPTZ NOT NULL,
	last_seen_at        TIMESTAMPTZ NOT NULL,
	idle_expires_at     TIMESTAMPTZ NOT NULL,
	absolute_expires_at TIMESTAMPTZ NOT NULL,
	network             TEXT NOT NULL,
	user_agent          TEXT NOT NULL,
	device_id           TEXT NOT NULL,
	auth_methods        TEXT NOT NULL,
	auth_level          INTEGER NOT NULL,
	auth_time           TIMESTAMPTZ NOT NULL,
	revoked_at          TIMESTAMPTZ,
	revoke_reason       TEXT NOT NULL,
	refresh_key         BYTEA NOT NULL,
	refresh_key_key_id  TEXT NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_refresh_key_key_id ON sessions (refresh_key_key_id);

CREATE TABLE refresh_tokens (
	hash       BYTEA PRIMARY KEY,
	session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	issued_at  TIMESTAMPTZ NOT NULL,
	rotated_at TIMESTAMPTZ,
	grace_used BOOLEAN NOT NULL
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

CREATE TABLE signing_keys (
	id                  TEXT PRIMARY KEY,
	public_key          BYTEA NOT NULL,
	private_key         BYTEA NOT NULL,
	private_key_key_id  TEXT NOT NULL,
	created_at          TIMESTAMPTZ NOT NULL,
	active_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX signing_keys_private_key_key_id ON signing_keys (private_key_key_id);

-- GET /me/export lists the user's own audit events.
CREATE INDEX audit_events_actor ON audit_events (actor, seq);
