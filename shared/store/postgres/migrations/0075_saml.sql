-- Per-organization SAML 2.0 single sign-on (Gatehouse is the service
-- provider). idp_metadata is the identity provider's metadata as uploaded
-- or fetched (public: entity id, endpoints, signing certificates).
CREATE TABLE saml_configs (
	id                  TEXT PRIMARY KEY,
	org_id              TEXT NOT NULL UNIQUE REFERENCES orgs (id) ON DELETE CASCADE,
	idp_entity_id       TEXT NOT NULL,
	idp_metadata        TEXT NOT NULL,
	metadata_url        TEXT NOT NULL,
	provision_role      TEXT NOT NULL,
	allow_idp_initiated BOOLEAN NOT NULL,
	updated_by          TEXT NOT NULL,
	created_at          TIMESTAMPTZ NOT NULL,
	updated_at          TIMESTAMPTZ NOT NULL
);

-- SHA-256 of (organization, assertion ID) of every accepted SAML
-- assertion, until the assertion expires: an assertion signs in once.
CREATE TABLE saml_assertions (
	hash       BYTEA PRIMARY KEY,
	expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX saml_assertions_expiry ON saml_assertions (expires_at);
