-- What a one-time token belongs to, so an owner can list and revoke them:
-- an invitation's organization ('' for tokens nobody lists).
ALTER TABLE one_time_tokens ADD COLUMN scope TEXT NOT NULL DEFAULT '';
CREATE INDEX one_time_tokens_scope ON one_time_tokens (purpose, scope, created_at) WHERE scope <> '';
