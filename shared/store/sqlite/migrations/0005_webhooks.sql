-- Webhooks: claimed events, billing state per Stripe customer, outbox.
-- Times are INTEGER unix microseconds (the store converts).

CREATE TABLE webhook_events (
	provider    TEXT NOT NULL,
	event_id    TEXT NOT NULL,
	event_type  TEXT NOT NULL,
	occurred_at INTEGER NOT NULL,
	received_at INTEGER NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('applied', 'superseded', 'ignored', 'stale', 'conflict')),
	org_id      TEXT NOT NULL,
	subject     TEXT NOT NULL,
	data        TEXT NOT NULL,
	PRIMARY KEY (provider, event_id)
) STRICT;
CREATE INDEX webhook_events_occurred ON webhook_events (provider, occurred_at, event_id);
CREATE INDEX webhook_events_subject ON webhook_events (provider, subject) WHERE subject <> '';

CREATE TABLE billing_accounts (
	customer_id          TEXT PRIMARY KEY,
	org_id               TEXT NOT NULL,
	subscription_id      TEXT NOT NULL,
	price_id             TEXT NOT NULL,
	product_id           TEXT NOT NULL,
	status               TEXT NOT NULL,
	current_period_end   INTEGER,
	cancel_at_period_end INTEGER NOT NULL,
	subscription_at      INTEGER,
	subscription_event   TEXT NOT NULL,
	card_brand           TEXT NOT NULL,
	card_last4           TEXT NOT NULL CHECK (card_last4 = '' OR (length(card_last4) = 4 AND card_last4 NOT GLOB '*[^0-9]*')),
	card_at              INTEGER,
	card_event           TEXT NOT NULL,
	invoice_id           TEXT NOT NULL,
	invoice_status       TEXT NOT NULL,
	invoice_at           INTEGER,
	invoice_event        TEXT NOT NULL,
	created_at           INTEGER NOT NULL,
	updated_at           INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX billing_accounts_org ON billing_accounts (org_id) WHERE org_id <> '';

CREATE TABLE outbox (
	id              TEXT PRIMARY KEY,
	topic           TEXT NOT NULL,
	data            TEXT NOT NULL,
	attributes      TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	next_attempt_at INTEGER NOT NULL,
	attempts        INTEGER NOT NULL,
	published_at    INTEGER
) STRICT;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE published_at IS NULL AND topic <> '';
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
