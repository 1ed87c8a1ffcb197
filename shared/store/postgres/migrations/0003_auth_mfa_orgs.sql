-- Organizations, memberships and custom roles; second factors (TOTP,
-- recovery codes, WebAuthn).
-- user_id columns name rows of auth-core's users table (0002). They carry no
-- foreign key: account deletion removes them explicitly first (the
-- UserData.BeforeDelete hook), inside the deletion's transaction.

CREATE TABLE orgs (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE org_members (
	org_id     TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL,
	role       TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	updated_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (org_id, user_id)
);
-- At most one owner per organization; the store's transactions keep at least one.
CREATE UNIQUE INDEX org_members_one_owner ON org_members (org_id) WHERE role = 'owner';
CREATE INDEX org_members_user ON org_members (user_id);

-- Custom roles: named permission sets (space-separated permission names).
CREATE TABLE org_roles (
	org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	permissions TEXT NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (org_id, name)
);

-- TOTP secrets, sealed (purpose totp, binding {"", id, "totp_secrets.secret"}).
CREATE TABLE totp_secrets (
	id            TEXT PRIMARY KEY,
	user_id       TEXT NOT NULL UNIQUE,
	secret        BYTEA NOT NULL,
	secret_key_id TEXT NOT NULL,
	confirmed_at  TIMESTAMPTZ,
	last_step     BIGINT NOT NULL,
	created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX totp_secrets_secret_key ON totp_secrets (secret_key_id);

-- Recovery codes: only SHA-256 digests of high-entropy codes.
CREATE TABLE recovery_codes (
	user_id    TEXT NOT NULL,
	hash       BYTEA NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	used_at    TIMESTAMPTZ,
	PRIMARY KEY (user_id, hash)
);

-- One random WebAuthn user handle per user (what authenticators return).
CREATE TABLE webauthn_users (
	user_id    TEXT PRIMARY KEY,
	handle     BYTEA NOT NULL UNIQUE,
	created_at TIMESTAMPTZ NOT NULL
);

-- WebAuthn credentials: public data only.
CREATE TABLE webauthn_credentials (
	id              TEXT PRIMARY KEY,
	user_id         TEXT NOT NULL,
	credential_id   BYTEA NOT NULL UNIQUE,
	public_key      BYTEA NOT NULL,
	sign_count      BIGINT NOT NULL CHECK (sign_count >= 0),
	transports      TEXT NOT NULL,
	aaguid          BYTEA NOT NULL,
	user_verified   BOOLEAN NOT NULL,
	backup_eligible BOOLEAN NOT NULL,
	backup_state    BOOLEAN NOT NULL,
	clone_warning   BOOLEAN NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL,
	last_used_at    TIMESTAMPTZ
);
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id, created_at);
