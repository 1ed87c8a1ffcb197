-- Within one second (Stripe's event time resolution) an event's place in
-- its object's lifecycle orders it before the event id does: created (0),
-- other changes (1), deleted (2). Rows written before carry 1.
ALTER TABLE billing_accounts ADD COLUMN subscription_rank SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE billing_accounts ADD COLUMN card_rank SMALLINT NOT NULL DEFAULT 1;
ALTER TABLE billing_accounts ADD COLUMN invoice_rank SMALLINT NOT NULL DEFAULT 1;
