package store

import (
	"context"
	"time"
)

// Webhooks is what the webhook receivers keep: the events they claimed,
// per-customer billing state, and the outbox of messages for other services.
type Webhooks interface {
	WebhookEvents
	BillingAccounts
	Outbox
	EventDeliveries
}

// WebhookStatus is what processing a claimed event did.
type WebhookStatus string

const (
	// WebhookApplied: the event's effect was applied.
	WebhookApplied WebhookStatus = "applied"
	// WebhookSuperseded: the state already reflected a newer event, so this
	// (out-of-order) event changed nothing.
	WebhookSuperseded WebhookStatus = "superseded"
	// WebhookIgnored: recorded and acknowledged, with no effect (an event
	// type Gatehouse does not act on, or an unknown shop).
	WebhookIgnored WebhookStatus = "ignored"
	// WebhookStale: delivered too late to be applied.
	WebhookStale WebhookStatus = "stale"
	// WebhookConflict: applying it would attach one organization's billing
	// to another customer, so it was not applied.
	WebhookConflict WebhookStatus = "conflict"
)

// WebhookEvent is one verified inbound event, keyed by its provider and the
// provider's own event id.
type WebhookEvent struct {
	Provider   string // "stripe", "shopify" or "standard:<source>"
	ID         string // the provider's event id
	Type       string // e.g. "invoice.paid", "app/uninstalled"
	OccurredAt time.Time
	ReceivedAt time.Time
	Status     WebhookStatus
	OrgID      string // "" when no organization is (yet) known
	Subject    string // Stripe customer id, Shopify shop domain, or ""
	Data       string // JSON object: what Gatehouse keeps of the event, "{}" when nothing
}

// WebhookEvents records claimed events. Event rows are never deleted by the
// receivers: the claim is what makes a redelivery a duplicate.
type WebhookEvents interface {
	// ClaimWebhookEvent inserts e. Returns ErrUsed if an event with the same
	// Provider and ID is recorded. Call it first inside the transaction that
	// applies the event: of concurrent claims of one event exactly one
	// succeeds; on PostgreSQL the others wait for its transaction and get
	// ErrUsed if it commits, or succeed if it rolls back.
	ClaimWebhookEvent(ctx context.Context, e WebhookEvent) error
	// UpdateWebhookEvent sets Status, OrgID, Subject and Data of a claimed
	// event. Returns ErrNotFound if it was never claimed.
	UpdateWebhookEvent(ctx context.Context, e WebhookEvent) error
	// WebhookEvent returns one event, or ErrNotFound.
	WebhookEvent(ctx context.Context, provider, id string) (WebhookEvent, error)
	// ListWebhookEvents returns up to limit events of provider, ordered by
	// OccurredAt then ID.
	ListWebhookEvents(ctx context.Context, provider string, limit int) ([]WebhookEvent, error)
}

// EventVersion orders the events that set one piece of state: by the
// provider's event time; within the same time (Stripe's has one-second
// resolution) by the event's place in its object's lifecycle, so a
// "created" is never applied over an "updated" of the same second; then by
// event id. Every replica that sees the same events converges on the same
// state whatever order they arrived in. The zero value is older than every
// event.
type EventVersion struct {
	At      time.Time
	Rank    int // RankCreated, RankChanged or RankDeleted
	EventID string
}

// Lifecycle ranks of an event within one second.
const (
	RankCreated = 0
	RankChanged = 1
	RankDeleted = 2
)

// Before reports whether v is older than o.
func (v EventVersion) Before(o EventVersion) bool {
	switch {
	case v.IsZero() || o.IsZero():
		return v.IsZero() && !o.IsZero()
	case !v.At.Equal(o.At):
		return v.At.Before(o.At)
	case v.Rank != o.Rank:
		return v.Rank < o.Rank
	}
	return v.EventID < o.EventID
}

// IsZero reports whether no event has set the state yet.
func (v EventVersion) IsZero() bool { return v.At.IsZero() && v.EventID == "" }

// BillingAccount is the billing state of one Stripe customer and, once a
// Checkout Session has named it, of the organization it pays for. It holds
// billing metadata only (HOOK-3): ids, plan, status, period end, and the
// card's brand and last four digits, never a card number.
type BillingAccount struct {
	CustomerID string
	OrgID      string // "" until a checkout session maps the customer

	SubscriptionID      string
	PriceID             string
	ProductID           string
	Status              string // Stripe subscription status, "" when none
	CurrentPeriodEnd    time.Time
	CancelAtPeriodEnd   bool
	SubscriptionVersion EventVersion

	CardBrand   string
	CardLast4   string
	CardVersion EventVersion

	InvoiceID      string
	InvoiceStatus  string // "paid" or "payment_failed"
	InvoiceVersion EventVersion

	CreatedAt time.Time
	UpdatedAt time.Time
}

// BillingAccounts stores billing state per Stripe customer. An
// organization has at most one customer.
type BillingAccounts interface {
	// LockBillingAccount returns the account of customerID, creating an
	// empty one (created at now) if there is none, and locks it until the
	// transaction ends, so concurrent events for one customer are applied
	// one after the other. It must be called on a transaction-bound Store.
	LockBillingAccount(ctx context.Context, customerID string, now time.Time) (BillingAccount, error)
	// SaveBillingAccount writes every field of a locked account but
	// CreatedAt. Returns ErrConflict if a.OrgID belongs to another customer
	// (which aborts a PostgreSQL transaction: check with
	// BillingAccountByOrg first), ErrNotFound if the account does not exist.
	SaveBillingAccount(ctx context.Context, a BillingAccount) error
	// BillingAccount returns the account of a customer, or ErrNotFound.
	BillingAccount(ctx context.Context, customerID string) (BillingAccount, error)
	// BillingAccountByOrg returns the account mapped to orgID, or
	// ErrNotFound.
	BillingAccountByOrg(ctx context.Context, orgID string) (BillingAccount, error)
}

// OutboxMessage is a message to publish to Pub/Sub after the transaction
// that wrote it commits (the transactional outbox): it exists if and only
// if the change it announces committed, and it is published at least once.
type OutboxMessage struct {
	ID            string // deterministic, e.g. "stripe/evt_123": consumers deduplicate on it
	Topic         string // full topic name; "" keeps the message unpublished (development)
	Data          string // JSON payload
	Attributes    map[string]string
	CreatedAt     time.Time
	NextAttemptAt time.Time // the message is due for (re)publishing from then on
	Attempts      int
	PublishedAt   time.Time // zero until published
}

// Outbox stores outbound messages.
type Outbox interface {
	// EnqueueOutbox inserts m. Returns ErrConflict if the id exists.
	EnqueueOutbox(ctx context.Context, m OutboxMessage) error
	// OutboxMessage returns one message, or ErrNotFound.
	OutboxMessage(ctx context.Context, id string) (OutboxMessage, error)
	// DueOutbox returns up to limit unpublished messages that have a topic
	// and are due at now, oldest first.
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxMessage, error)
	// LeaseOutbox takes a due message for one publishing attempt: it moves
	// NextAttemptAt to until, counts the attempt and returns the message.
	// Of concurrent calls exactly one succeeds; the others, and calls on a
	// message that is published or not due, get ErrUsed. ErrNotFound for
	// an unknown id.
	LeaseOutbox(ctx context.Context, id string, now, until time.Time) (OutboxMessage, error)
	// MarkOutboxPublished records that the message was published at at.
	MarkOutboxPublished(ctx context.Context, id string, at time.Time) error
	// PurgeOutbox deletes messages published before before.
	PurgeOutbox(ctx context.Context, before time.Time) (int64, error)
}
