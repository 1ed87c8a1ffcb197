-- Just-in-time membership through an organization's SSO: the role given to
-- a user who signs in through it and is not yet a member ('' = none).
ALTER TABLE sso_configs ADD COLUMN provision_role TEXT NOT NULL DEFAULT '';
