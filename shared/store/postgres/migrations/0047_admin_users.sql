-- An operator can disable an account (admin API): a disabled user cannot
-- start a session until enabled again. NULL means enabled.
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;
