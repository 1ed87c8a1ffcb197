-- Webhooks: claimed events, billing state per Stripe customer, outbox.

-- One row per verified event. The primary key is the idempotency claim:
-- a redelivery finds its row and has no second effect.
CREATE TABLE webhook_events (
	provider    TEXT NOT NULL,
	event_id    TEXT NOT NULL,
	event_type  TEXT NOT NULL,
	occurred_at TIMESTAMPTZ NOT NULL,
	received_at TIMESTAMPTZ NOT NULL,
	status      TEXT NOT NULL CHECK (status IN ('applied', 'superseded', 'ignored', 'stale', 'conflict')),
	org_id      TEXT NOT NULL,
	subject     TEXT NOT NULL,
	data        TEXT NOT NULL,
	PRIMARY KEY (provider, event_id)
);
CREATE INDEX webhook_events_occurred ON webhook_events (provider, occurred_at, event_id);
CREATE INDEX webhook_events_subject ON webhook_events (provider, subject) WHERE subject <> '';

-- Billing metadata only (HOOK-3): no card number, nothing else from the
-- payment method but its brand and last four digits. Each group of fields
-- carries the version (event time, event id) of the event that set it.
CREATE TABLE billing_accounts (
	customer_id          TEXT PRIMARY KEY,
	org_id               TEXT NOT NULL,
	subscription_id      TEXT NOT NULL,
	price_id             TEXT NOT NULL,
	product_id           TEXT NOT NULL,
	status               TEXT NOT NULL,
	current_period_end   TIMESTAMPTZ,
	cancel_at_period_end BOOLEAN NOT NULL,
	subscription_at      TIMESTAMPTZ,
	subscription_event   TEXT NOT NULL,
	card_brand           TEXT NOT NULL,
	card_last4           TEXT NOT NULL CHECK (card_last4 = '' OR card_last4 ~ '^[0-9]{4}$'),
	card_at              TIMESTAMPTZ,
	card_event           TEXT NOT NULL,
	invoice_id           TEXT NOT NULL,
	invoice_status       TEXT NOT NULL,
	invoice_at           TIMESTAMPTZ,
	invoice_event        TEXT NOT NULL,
	created_at           TIMESTAMPTZ NOT NULL,
	updated_at           TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX billing_accounts_org ON billing_accounts (org_id) WHERE org_id <> '';

-- Transactional outbox: written with the change it announces, published
-- after commit, republished by the sweep while unpublished.
CREATE TABLE outbox (
	id              TEXT PRIMARY KEY,
	topic           TEXT NOT NULL,
	data            TEXT NOT NULL,
	attributes      TEXT NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL,
	next_attempt_at TIMESTAMPTZ NOT NULL,
	attempts        INT NOT NULL,
	published_at    TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE published_at IS NULL AND topic <> '';
CREATE INDEX outbox_published ON outbox (published_at) WHERE published_at IS NOT NULL;
