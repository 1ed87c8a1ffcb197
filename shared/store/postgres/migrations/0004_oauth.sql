-- OAuth: third-party connections with sealed tokens, used state nonces,
-- per-organization OIDC single sign-on.

CREATE TABLE connections (
	id                   TEXT PRIMARY KEY,
	org_id               TEXT NOT NULL,
	platform             TEXT NOT NULL,
	account              TEXT NOT NULL,
	scopes               TEXT NOT NULL,
	status               TEXT NOT NULL CHECK (status IN ('active', 'invalid', 'revoked')),
	status_reason        TEXT NOT NULL,
	access_token         BYTEA,
	access_token_key_id  TEXT,
	refresh_token        BYTEA,
	refresh_token_key_id TEXT,
	token_type           TEXT NOT NULL,
	expires_at           TIMESTAMPTZ,
	created_by           TEXT NOT NULL,
	created_at           TIMESTAMPTZ NOT NULL,
	updated_at           TIMESTAMPTZ NOT NULL,
	refreshed_at         TIMESTAMPTZ,
	status_at            TIMESTAMPTZ NOT NULL,
	CHECK ((access_token IS NULL) = (access_token_key_id IS NULL)),
	CHECK ((refresh_token IS NULL) = (refresh_token_key_id IS NULL)),
	CHECK (status <> 'active' OR access_token IS NOT NULL)
);
CREATE INDEX connections_org ON connections (org_id, created_at);
-- One live connection per organization, platform and account.
CREATE UNIQUE INDEX connections_live_account ON connections (org_id, platform, account) WHERE status <> 'revoked';
-- A Shopify shop is active in one organization at a time.
CREATE UNIQUE INDEX connections_active_shop ON connections (account) WHERE platform = 'shopify' AND status = 'active';
CREATE INDEX connections_access_token_key ON connections (access_token_key_id);
CREATE INDEX connections_refresh_token_key ON connections (refresh_token_key_id);
CREATE INDEX connections_purge ON connections (status_at) WHERE status <> 'active';

-- SHA-256 of every state nonce that reached a callback: a state is single use.
CREATE TABLE oauth_nonces (
	hash       BYTEA PRIMARY KEY,
	expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX oauth_nonces_expiry ON oauth_nonces (expires_at);

-- Per-organization OIDC single sign-on; the client secret is sealed.
CREATE TABLE sso_configs (
	id                   TEXT PRIMARY KEY,
	org_id               TEXT NOT NULL UNIQUE,
	issuer               TEXT NOT NULL,
	client_id            TEXT NOT NULL,
	client_secret        BYTEA NOT NULL,
	client_secret_key_id TEXT NOT NULL,
	allowed_domains      TEXT NOT NULL,
	updated_by           TEXT NOT NULL,
	created_at           TIMESTAMPTZ NOT NULL,
	updated_at           TIMESTAMPTZ NOT NULL
);
CREATE INDEX sso_configs_client_secret_key ON sso_configs (client_secret_key_id);

-- Sign-in with Google, GitHub and OIDC: only the provider's name and its
-- opaque subject are kept, linked to the user.
CREATE TABLE user_identities (
	provider   TEXT NOT NULL,
	subject    TEXT NOT NULL,
	user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	created_at TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (provider, subject)
);
CREATE INDEX user_identities_user ON user_identities (user_id);
