package store

import (
	"context"
	"time"
)

// DeliveryState is where an [EventDelivery] stands.
type DeliveryState string

const (
	// DeliveryPending: not yet accepted by the endpoint; due again at
	// NextAttemptAt.
	DeliveryPending DeliveryState = "pending"
	// DeliveryDelivered: the endpoint answered 2xx.
	DeliveryDelivered DeliveryState = "delivered"
	// DeliveryDead: every attempt failed (or the endpoint is no longer
	// configured); only an operator's redelivery sends it again.
	DeliveryDead DeliveryState = "dead"
)

// EventDelivery is one event (docs/events.md) owed to one webhook endpoint
// of the SaaS, sent as a Standard Webhook whose webhook-id is EventID.
type EventDelivery struct {
	ID            string // "dlv_..."; ids sort in creation order
	EventID       string // the CloudEvents id, also the webhook-id
	EventType     string
	Endpoint      string // the URL it is delivered to
	Body          string // the CloudEvents JSON envelope, sent as is
	State         DeliveryState
	Attempts      int // attempts started, counted when leased
	CreatedAt     time.Time
	NextAttemptAt time.Time // a pending delivery is due from then on
	UpdatedAt     time.Time
	LastStatus    int    // HTTP status of the last attempt, 0 when none came back
	LastError     string // why the last attempt failed, "" after a success
	DeliveredAt   time.Time
}

// DeliveryResult is what one attempt of a leased delivery came to.
type DeliveryResult struct {
	State         DeliveryState // delivered, pending (retry at NextAttemptAt) or dead
	At            time.Time
	NextAttemptAt time.Time // pending only
	Status        int
	Error         string
}

// EventDeliveries stores the webhook deliveries of events.
type EventDeliveries interface {
	// EnqueueEventDelivery inserts d, pending. Call it in the transaction
	// of the change the event announces. Returns ErrConflict if d.ID, or
	// the pair (EventID, Endpoint), exists.
	EnqueueEventDelivery(ctx context.Context, d EventDelivery) error
	// EventDelivery returns one delivery, or ErrNotFound.
	EventDelivery(ctx context.Context, id string) (EventDelivery, error)
	// DueEventDeliveries returns up to limit pending deliveries due at now,
	// oldest due first.
	DueEventDeliveries(ctx context.Context, now time.Time, limit int) ([]EventDelivery, error)
	// LeaseEventDelivery takes a due pending delivery for one attempt: it
	// moves NextAttemptAt to until, counts the attempt and returns the
	// delivery, whose Attempts then identifies the attempt. Of concurrent
	// calls exactly one succeeds; the others, and calls on a delivery that
	// is not pending or not due, get ErrUsed. ErrNotFound for an unknown id.
	LeaseEventDelivery(ctx context.Context, id string, now, until time.Time) (EventDelivery, error)
	// FinishEventDelivery records the result of attempt number attempt,
	// which ends its lease. Returns ErrUsed if the delivery has moved on
	// since that lease (a newer attempt, a redelivery, or a result already
	// recorded),
	// ErrNotFound for an unknown id.
	FinishEventDelivery(ctx context.Context, id string, attempt int, r DeliveryResult) error
	// ListEventDeliveries returns up to limit deliveries in state (every
	// state when ""), with ids greater than after, in id order.
	ListEventDeliveries(ctx context.Context, state DeliveryState, after string, limit int) ([]EventDelivery, error)
	// RedeliverEventDelivery puts a dead or delivered delivery back to
	// pending, due at now, with its attempts reset to zero, and returns
	// it. Returns ErrConflict if it is pending, ErrNotFound if unknown.
	RedeliverEventDelivery(ctx context.Context, id string, now time.Time) (EventDelivery, error)
	// PurgeEventDeliveries deletes delivered and dead deliveries last
	// updated before before.
	PurgeEventDeliveries(ctx context.Context, before time.Time) (int64, error)
}
