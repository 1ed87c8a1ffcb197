-- Events delivered as Standard Webhooks to the SaaS's endpoints
-- (docs/events.md): one row per event and endpoint, written in the
-- transaction of the change the event announces, so a delivery exists
-- exactly when that change committed. The deliverer leases a due pending
-- row by moving next_attempt_at past now, setting leased_until and
-- counting the attempt (the attempt number fences a deliverer whose lease
-- ran out), then records delivered, a later retry, or dead, which clears
-- leased_until. last_error never holds the secret.
CREATE TABLE event_deliveries (
	id              TEXT PRIMARY KEY,
	event_id        TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	endpoint        TEXT NOT NULL,
	body            TEXT NOT NULL,
	state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
	attempts        INT NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL,
	next_attempt_at TIMESTAMPTZ NOT NULL,
	updated_at      TIMESTAMPTZ NOT NULL,
	last_status     INT NOT NULL,
	last_error      TEXT NOT NULL,
	delivered_at    TIMESTAMPTZ,
	leased_until    TIMESTAMPTZ,
	UNIQUE (event_id, endpoint)
);
CREATE INDEX event_deliveries_due ON event_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX event_deliveries_list ON event_deliveries (state, id);
