-- Events delivered as Standard Webhooks to the SaaS's endpoints
-- (docs/events.md): one row per event and endpoint, written in the
-- transaction of the change the event announces, so a delivery exists
-- exactly when that change committed. The deliverer leases a due pending
-- row by moving next_attempt_at past now, setting leased_until and
-- counting the attempt (the attempt number fences a deliverer whose lease
-- ran out), then records delivered, a later retry, or dead, which clears
-- leased_until. last_error never holds the secret.
-- Times are INTEGER unix microseconds (the store converts).
CREATE TABLE event_deliveries (
	id              TEXT PRIMARY KEY,
	event_id        TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	endpoint        TEXT NOT NULL,
	body            TEXT NOT NULL,
	state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
	attempts        INTEGER NOT NULL,
	created_at      INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	updated_at      INTEGER NOT NULL,
	last_status     INTEGER NOT NULL,
	last_error      TEXT NOT NULL,
	delivered_at    INTEGER,
	leased_until    INTEGER,
	UNIQUE (event_id, endpoint)
) STRICT;
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX event_deliveries_list ON event_deliveries (state, id);
