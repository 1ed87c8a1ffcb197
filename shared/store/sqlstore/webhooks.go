package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const webhookColumns = `provider, event_id, event_type, occurred_at, received_at, status, org_id, subject, data`

func scanWebhookEvent(r Row) (store.WebhookEvent, error) {
	var e store.WebhookEvent
	var status string
	err := r.Scan(&e.Provider, &e.ID, &e.Type, &e.OccurredAt, &e.ReceivedAt, &status, &e.OrgID, &e.Subject, &e.Data)
	e.Status = store.WebhookStatus(status)
	return e, err
}

// ClaimWebhookEvent implements [store.WebhookEvents]. The insert is the
// whole decision: ON CONFLICT DO NOTHING makes a concurrent claim of the
// same key wait for the first transaction (PostgreSQL) or for the write lock
// (SQLite), then insert nothing if that transaction committed.
func (db *DB) ClaimWebhookEvent(ctx context.Context, e store.WebhookEvent) error {
	if e.Data == "" {
		e.Data = "{}"
	}
	n, err := db.conn.Exec(ctx, `INSERT INTO webhook_events (`+webhookColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (provider, event_id) DO NOTHING`,
		e.Provider, e.ID, e.Type, e.OccurredAt, e.ReceivedAt, string(e.Status), e.OrgID, e.Subject, e.Data)
	if err != nil {
		return fmt.Errorf("claim %s event %s: %w", e.Provider, e.ID, err)
	}
	if n == 0 {
		return store.ErrUsed
	}
	return nil
}

// UpdateWebhookEvent implements [store.WebhookEvents].
func (db *DB) UpdateWebhookEvent(ctx context.Context, e store.WebhookEvent) error {
	if e.Data == "" {
		e.Data = "{}"
	}
	n, err := db.conn.Exec(ctx, `UPDATE webhook_events SET status = $3, org_id = $4, subject = $5, data = $6
		WHERE provider = $1 AND event_id = $2`, e.Provider, e.ID, string(e.Status), e.OrgID, e.Subject, e.Data)
	if err != nil {
		return fmt.Errorf("update %s event %s: %w", e.Provider, e.ID, err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// WebhookEvent implements [store.WebhookEvents].
func (db *DB) WebhookEvent(ctx context.Context, provider, id string) (store.WebhookEvent, error) {
	return scanWebhookEvent(db.conn.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhook_events
		WHERE provider = $1 AND event_id = $2`, provider, id))
}

// ListWebhookEvents implements [store.WebhookEvents].
func (db *DB) ListWebhookEvents(ctx context.Context, provider string, limit int) ([]store.WebhookEvent, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+webhookColumns+` FROM webhook_events
		WHERE provider = $1 ORDER BY occurred_at, event_id LIMIT $2`, provider, limit)
	return collect(rows, err, func(r Rows) (store.WebhookEvent, error) { return scanWebhookEvent(r) })
}

const billingColumns = `customer_id, org_id, subscription_id, price_id, product_id, status,
	current_period_end, cancel_at_period_end, subscription_at, subscription_event,
	card_brand, card_last4, card_at, card_event, invoice_id, invoice_status, invoice_at, invoice_event,
	created_at, updated_at, subscription_rank, card_rank, invoice_rank`

func scanBillingAccount(r Row) (store.BillingAccount, error) {
	var a store.BillingAccount
	var periodEnd, subAt, cardAt, invAt *time.Time
	err := r.Scan(&a.CustomerID, &a.OrgID, &a.SubscriptionID, &a.PriceID, &a.ProductID, &a.Status,
		&periodEnd, &a.CancelAtPeriodEnd, &subAt, &a.SubscriptionVersion.EventID,
		&a.CardBrand, &a.CardLast4, &cardAt, &a.CardVersion.EventID,
		&a.InvoiceID, &a.InvoiceStatus, &invAt, &a.InvoiceVersion.EventID,
		&a.CreatedAt, &a.UpdatedAt, &a.SubscriptionVersion.Rank, &a.CardVersion.Rank, &a.InvoiceVersion.Rank)
	a.CurrentPeriodEnd = derefTime(periodEnd)
	a.SubscriptionVersion.At = derefTime(subAt)
	a.CardVersion.At = derefTime(cardAt)
	a.InvoiceVersion.At = derefTime(invAt)
	return a, err
}

// derefTime returns *t, or the zero time for a NULL column.
func derefTime(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

// nullTime returns nil for the zero time, so it is stored as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// LockBillingAccount implements [store.BillingAccounts]. The insert makes
// the row exist (or waits for the transaction inserting it); the SELECT then
// locks it on PostgreSQL. SQLite serializes write transactions anyway.
func (db *DB) LockBillingAccount(ctx context.Context, customerID string, now time.Time) (store.BillingAccount, error) {
	var a store.BillingAccount
	err := db.tx(ctx, func(c Conn) error {
		_, err := c.Exec(ctx, `INSERT INTO billing_accounts (customer_id, org_id, subscription_id, price_id,
			product_id, status, cancel_at_period_end, subscription_event, card_brand, card_last4, card_event,
			invoice_id, invoice_status, invoice_event, created_at, updated_at)
			VALUES ($1, '', '', '', '', '', false, '', '', '', '', '', '', '', $2, $2)
			ON CONFLICT (customer_id) DO NOTHING`, customerID, now)
		if err != nil {
			return fmt.Errorf("create billing account %s: %w", customerID, err)
		}
		a, err = scanBillingAccount(c.QueryRow(ctx, `SELECT `+billingColumns+` FROM billing_accounts
			WHERE customer_id = $1`+db.dialect.ForUpdate, customerID))
		if err != nil {
			return fmt.Errorf("lock billing account %s: %w", customerID, err)
		}
		return nil
	})
	return a, err
}

// SaveBillingAccount implements [store.BillingAccounts].
func (db *DB) SaveBillingAccount(ctx context.Context, a store.BillingAccount) error {
	n, err := db.conn.Exec(ctx, `UPDATE billing_accounts SET org_id = $2, subscription_id = $3, price_id = $4,
		product_id = $5, status = $6, current_period_end = $7, cancel_at_period_end = $8, subscription_at = $9,
		subscription_event = $10, card_brand = $11, card_last4 = $12, card_at = $13, card_event = $14,
		invoice_id = $15, invoice_status = $16, invoice_at = $17, invoice_event = $18, updated_at = $19,
		subscription_rank = $20, card_rank = $21, invoice_rank = $22
		WHERE customer_id = $1`,
		a.CustomerID, a.OrgID, a.SubscriptionID, a.PriceID, a.ProductID, a.Status,
		nullTime(a.CurrentPeriodEnd), a.CancelAtPeriodEnd, nullTime(a.SubscriptionVersion.At), a.SubscriptionVersion.EventID,
		a.CardBrand, a.CardLast4, nullTime(a.CardVersion.At), a.CardVersion.EventID,
		a.InvoiceID, a.InvoiceStatus, nullTime(a.InvoiceVersion.At), a.InvoiceVersion.EventID, a.UpdatedAt,
		a.SubscriptionVersion.Rank, a.CardVersion.Rank, a.InvoiceVersion.Rank)
	if err != nil {
		return fmt.Errorf("save billing account %s: %w", a.CustomerID, err)
	}
	if n == 0 {
		return fmt.Errorf("save billing account %s: %w", a.CustomerID, store.ErrNotFound)
	}
	return nil
}

// BillingAccount implements [store.BillingAccounts].
func (db *DB) BillingAccount(ctx context.Context, customerID string) (store.BillingAccount, error) {
	return scanBillingAccount(db.conn.QueryRow(ctx, `SELECT `+billingColumns+` FROM billing_accounts
		WHERE customer_id = $1`, customerID))
}

// BillingAccountByOrg implements [store.BillingAccounts].
func (db *DB) BillingAccountByOrg(ctx context.Context, orgID string) (store.BillingAccount, error) {
	if orgID == "" {
		return store.BillingAccount{}, errors.Join(store.ErrNotFound, errors.New("empty organization id"))
	}
	return scanBillingAccount(db.conn.QueryRow(ctx, `SELECT `+billingColumns+` FROM billing_accounts
		WHERE org_id = $1`, orgID))
}
