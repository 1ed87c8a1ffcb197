-- The organization whose single sign-on (OIDC or SAML) started a session
-- ('' for any other sign-in), so that a SCIM deprovisioning ends exactly
-- the sessions that organization's SSO started and require_sso keeps
-- exactly the sessions of its own SSO (AUTHZ-5). A session started
-- through some organization's SSO before this column existed (amr "sso")
-- cannot be attributed: '*' makes every organization treat it as
-- possibly its own when deprovisioning, and none as its own SSO.
ALTER TABLE sessions ADD COLUMN sso_org_id TEXT NOT NULL DEFAULT '';
UPDATE sessions SET sso_org_id = '*' WHERE ' ' || auth_methods || ' ' LIKE '% sso %';
