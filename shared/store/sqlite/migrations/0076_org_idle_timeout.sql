-- An organization's idle session timeout (AUTHZ-5): its routes refuse a
-- session not refreshed for this many seconds; 0 means the global one.
ALTER TABLE org_policies ADD COLUMN idle_session_seconds INTEGER NOT NULL DEFAULT 0;

-- The longest time a session went unrefreshed, in seconds, recorded at
-- the refresh that ended the gap (gaps under 15 minutes are not
-- recorded): an organization's idle timeout refuses a session that was
-- ever left idle longer than it allows, even once refreshed again.
ALTER TABLE sessions ADD COLUMN longest_idle_seconds INTEGER NOT NULL DEFAULT 0;
