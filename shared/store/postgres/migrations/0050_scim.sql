-- SCIM provisioning (AUTHZ-5): one bearer token per organization, stored by
-- its SHA-256, and the users the organization's identity provider
-- provisioned, kept after deactivation so single sign-on does not re-add
-- them.
CREATE TABLE scim_tokens (
	org_id     TEXT PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
	hash       BYTEA NOT NULL UNIQUE,
	created_by TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE scim_users (
	org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	external_id TEXT NOT NULL,
	active      BOOLEAN NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	updated_at  TIMESTAMPTZ NOT NULL,
	PRIMARY KEY (org_id, user_id)
);
