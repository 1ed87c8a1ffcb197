-- A user's data export lists the audit events about them (the target names
-- them), not only those they performed.
CREATE INDEX audit_events_target ON audit_events (target, seq);
