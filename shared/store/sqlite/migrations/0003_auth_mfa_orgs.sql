-- Organizations, memberships and custom roles; second factors (TOTP,
-- recovery codes, WebAuthn). Times are INTEGER unix microseconds.
-- user_id columns name rows of auth-core's users table (0002). They carry no
-- foreign key: account deletion removes them explicitly first (the
-- UserData.BeforeDelete hook), inside the deletion's transaction.

CREATE TABLE orgs (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE org_members (
	org_id     TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	user_id    TEXT NOT NULL,
	role       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	updated_at INTEGER NOT NULL,
	PRIMARY KEY (org_id, user_id)
) STRICT;
CREATE UNIQUE INDEX org_members_one_owner ON org_members (org_id) WHERE role = 'owner';
CREATE INDEX org_members_user ON org_members (user_id);

CREATE TABLE org_roles (
	org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	name        TEXT NOT NULL,
	permissions TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	PRIMARY KEY (org_id, name)
) STRICT;

CREATE TABLE totp_secrets (
	id            TEXT PRIMARY KEY,
	user_id       TEXT NOT NULL UNIQUE,
	secret        BLOB NOT NULL,
	secret_key_id TEXT NOT NULL,
	confirmed_at  INTEGER,
	last_step     INTEGER NOT NULL,
	created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX totp_secrets_secret_key ON totp_secrets (secret_key_id);

CREATE TABLE recovery_codes (
	user_id    TEXT NOT NULL,
	hash       BLOB NOT NULL,
	created_at INTEGER NOT NULL,
	used_at    INTEGER,
	PRIMARY KEY (user_id, hash)
) STRICT;

CREATE TABLE webauthn_users (
	user_id    TEXT PRIMARY KEY,
	handle     BLOB NOT NULL UNIQUE,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE webauthn_credentials (
	id              TEXT PRIMARY KEY,
	user_id         TEXT NOT NULL,
	credential_id   BLOB NOT NULL UNIQUE,
	public_key      BLOB NOT NULL,
	sign_count      INTEGER NOT NULL CHECK (sign_count >= 0),
	transports      TEXT NOT NULL,
	aaguid          BLOB NOT NULL,
	user_verified   INTEGER NOT NULL,
	backup_eligible INTEGER NOT NULL,
	backup_state    INTEGER NOT NULL,
	clone_warning   INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	last_used_at    INTEGER
) STRICT;
CREATE INDEX webauthn_credentials_user ON webauthn_credentials (user_id, created_at);
