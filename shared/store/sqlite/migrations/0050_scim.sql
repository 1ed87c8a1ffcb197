-- SCIM provisioning (AUTHZ-5): one bearer token per organization, stored by
-- its SHA-256, and the users the organization's identity provider
-- provisioned, kept after deactivation so single sign-on does not re-add
-- them.
CREATE TABLE scim_tokens (
	org_id     TEXT PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
	hash       BLOB NOT NULL UNIQUE,
	created_by TEXT NOT NULL,
	created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE scim_users (
	org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	external_id TEXT NOT NULL,
	active      INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	updated_at  INTEGER NOT NULL,
	PRIMARY KEY (org_id, user_id)
) STRICT;
