-- Identity management and domain-verified single sign-on (AUTH-13).

-- Identities get an opaque id, so a user can list and unlink them.
ALTER TABLE user_identities ADD COLUMN id TEXT NOT NULL DEFAULT '';
UPDATE user_identities SET id = 'idn_' || lower(hex(randomblob(16)));
CREATE UNIQUE INDEX user_identities_id ON user_identities (id);

-- An account a provider sign-in created (its first identity has the
-- account's own creation time) was marked verified on the provider's word
-- alone: its address was never proven to Gatehouse. It becomes unproven,
-- so the first password reset or confirmation removes identities linked
-- before the holder of the address proved it.
UPDATE users SET email_verified_at = NULL
WHERE EXISTS (SELECT 1 FROM user_identities i WHERE i.user_id = users.id AND i.created_at = users.created_at);

-- Domains an organization claims for its single sign-on, proven by a DNS
-- TXT record. At most one organization has a domain verified.
CREATE TABLE sso_domains (
	id          TEXT PRIMARY KEY,
	org_id      TEXT NOT NULL REFERENCES orgs (id) ON DELETE CASCADE,
	domain      TEXT NOT NULL,
	token       TEXT NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('pending', 'verified', 'disabled')),
	created_by  TEXT NOT NULL,
	created_at  INTEGER NOT NULL,
	verified_at INTEGER,
	checked_at  INTEGER,
	UNIQUE (org_id, domain)
) STRICT;
CREATE UNIQUE INDEX sso_domains_verified ON sso_domains (domain) WHERE status = 'verified';
CREATE INDEX sso_domains_due ON sso_domains (checked_at) WHERE status = 'verified';

-- Free-text allowed domains are replaced by verified domains.
ALTER TABLE sso_configs DROP COLUMN allowed_domains;
