-- What an organization's issuer published when its SSO configuration was
-- saved (JSON: endpoints, JWKS URI, algorithms, time). Sign-in reads it
-- instead of fetching discovery on an anonymous request; '' means saved
-- before discovery moved to save time: the owner must save it again.
ALTER TABLE sso_configs ADD COLUMN discovery TEXT NOT NULL DEFAULT '';
