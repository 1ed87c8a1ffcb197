// Package outbox publishes the messages a transaction wrote to the store's
// outbox ([store.Outbox]) after that transaction commits: the transactional
// outbox pattern. A message exists only if the change it announces
// committed, and is published at least once: right after the commit by the
// request that wrote it and, if that fails, by [Relay.Sweep], which the
// rotate function runs on schedule. Consumers deduplicate on the message id
// (attribute "message_id").
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Sender delivers one message to its topic. [*PubSub] is the production
// Sender. Send returns only when the message is accepted, or with an error.
type Sender interface {
	Send(ctx context.Context, m store.OutboxMessage) error
}

// DefaultLease is how long a message is left to the publisher that holds it
// (the writing request, then each sweep attempt) before a sweep may try again.
const DefaultLease = time.Minute

// Relay publishes outbox messages through a Sender.
type Relay struct {
	store  store.Outbox
	sender Sender // nil: nothing is published (development without a topic)
	logger *slog.Logger
	now    func() time.Time
	lease  time.Duration
}

// Options configure a [Relay]. Zero values take defaults.
type Options struct {
	Now   func() time.Time // default time.Now
	Lease time.Duration    // default DefaultLease
}

// NewRelay returns a Relay over s. A nil sender makes a Relay that keeps
// every message in the outbox unpublished.
func NewRelay(s store.Outbox, sender Sender, logger *slog.Logger, o Options) *Relay {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	return &Relay{store: s, sender: sender, logger: logger, now: o.Now, lease: o.Lease}
}

// Message returns a message ready to enqueue inside a transaction. The
// writing request holds its first attempt: the sweep leaves it alone for
// one lease. The "message_id" attribute is set to id.
func (r *Relay) Message(id, topic, data string, attrs map[string]string) store.OutboxMessage {
	a := make(map[string]string, len(attrs)+1)
	for k, v := range attrs {
		a[k] = v
	}
	a["message_id"] = id
	now := r.now()
	return store.OutboxMessage{ID: id, Topic: topic, Data: data, Attributes: a,
		CreatedAt: now, NextAttemptAt: now.Add(r.lease), Attempts: 1}
}

// Publish sends m, which the caller enqueued in a transaction that has
// committed, and marks it published. A message without a topic, or a Relay
// without a Sender, is left in the outbox. On error the message stays
// unpublished and the sweep retries it after its lease: callers log the
// error and carry on, since the change itself is committed.
func (r *Relay) Publish(ctx context.Context, m store.OutboxMessage) error {
	if r.sender == nil || m.Topic == "" {
		return nil
	}
	if err := r.sender.Send(ctx, m); err != nil {
		return fmt.Errorf("publish outbox message %s: %w", m.ID, err)
	}
	if err := r.store.MarkOutboxPublished(ctx, m.ID, r.now()); err != nil {
		return fmt.Errorf("publish outbox message %s: %w", m.ID, err)
	}
	return nil
}

// SweepReport says what one sweep did.
type SweepReport struct {
	Published int // messages published
	Failed    int // messages whose attempt failed; retried after their lease
	Skipped   int // due messages another sweeper took first
}

// Sweep publishes up to limit due messages, each under a lease so that
// concurrent sweepers never send one message at the same time. A failed
// message is logged and left for the next sweep. The error is non-nil only
// when the outbox could not be read, or ctx ended.
func (r *Relay) Sweep(ctx context.Context, limit int) (SweepReport, error) {
	var rep SweepReport
	if r.sender == nil {
		return rep, nil
	}
	now := r.now()
	due, err := r.store.DueOutbox(ctx, now, limit)
	if err != nil {
		return rep, fmt.Errorf("sweep outbox: %w", err)
	}
	for _, m := range due {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("sweep outbox: %w", err)
		}
		leased, err := r.store.LeaseOutbox(ctx, m.ID, now, now.Add(r.lease))
		if errors.Is(err, store.ErrUsed) {
			rep.Skipped++
			continue
		}
		if err == nil {
			err = r.Publish(ctx, leased)
		}
		if err != nil {
			rep.Failed++
			r.logger.WarnContext(ctx, "outbox message not published", "message_id", m.ID, "error", err.Error())
			continue
		}
		rep.Published++
	}
	return rep, nil
}
