-- What an organization requires of its members' sign-ins (AUTHZ-5).
CREATE TABLE org_policies (
	org_id              TEXT PRIMARY KEY REFERENCES orgs (id) ON DELETE CASCADE,
	require_sso         BOOLEAN NOT NULL,
	require_mfa         BOOLEAN NOT NULL,
	max_session_seconds BIGINT NOT NULL,
	updated_by          TEXT NOT NULL,
	updated_at          TIMESTAMPTZ NOT NULL
);
