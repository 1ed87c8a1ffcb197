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

// Defaults of a sweep's patience: one publish waits at most
// DefaultSendTimeout, and DefaultGiveUpAfter failures in a row stop the
// sweep (Pub/Sub or the topic is down: the rest waits for the next sweep
// instead of each message waiting out its timeout, which would hold the
// rotate function for its whole timeout every minute).
const (
	DefaultSendTimeout = 10 * time.Second
	DefaultGiveUpAfter = 3
)

// Relay publishes outbox messages through a Sender.
type Relay struct {
	store  store.Outbox
	sender Sender // nil: nothing is published (development without a topic)
	logger *slog.Logger
	now    func() time.Time
	lease  time.Duration
	// sendTimeout and giveUpAfter: see [Options].
	sendTimeout time.Duration
	giveUpAfter int
}

// Options configure a [Relay]. Zero values take defaults.
type Options struct {
	Now   func() time.Time // default time.Now
	Lease time.Duration    // default DefaultLease
	// SendTimeout bounds each publish of a sweep (default
	// DefaultSendTimeout); GiveUpAfter failures in a row end the sweep
	// (default DefaultGiveUpAfter).
	SendTimeout time.Duration
	GiveUpAfter int
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
	if o.SendTimeout <= 0 {
		o.SendTimeout = DefaultSendTimeout
	}
	if o.GiveUpAfter <= 0 {
		o.GiveUpAfter = DefaultGiveUpAfter
	}
	return &Relay{store: s, sender: sender, logger: logger, now: o.Now, lease: o.Lease,
		sendTimeout: o.SendTimeout, giveUpAfter: o.GiveUpAfter}
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
	Deferred  int // due messages not tried: the sweep stopped after failures in a row
}

// Sweep publishes up to limit due messages, each under a lease so that
// concurrent sweepers never send one message at the same time. A failed
// message is logged and left for the next sweep; after giveUpAfter
// failures in a row the sweep stops and leaves the rest too (Deferred).
// The error is non-nil only when the outbox could not be read, or ctx
// ended.
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
	failedInARow := 0
	for i, m := range due {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("sweep outbox: %w", err)
		}
		if failedInARow >= r.giveUpAfter {
			rep.Deferred = len(due) - i
			r.logger.WarnContext(ctx, "outbox sweep stopped after failures in a row", "failures", failedInARow,
				"deferred", rep.Deferred)
			break
		}
		leased, err := r.store.LeaseOutbox(ctx, m.ID, now, now.Add(r.lease))
		if errors.Is(err, store.ErrUsed) {
			rep.Skipped++
			continue
		}
		if err == nil {
			err = r.publishWithin(ctx, leased)
		}
		if err != nil {
			rep.Failed++
			failedInARow++
			r.logger.WarnContext(ctx, "outbox message not published", "message_id", m.ID, "error", err.Error())
			continue
		}
		failedInARow = 0
		rep.Published++
	}
	return rep, nil
}

// publishWithin is Publish bounded by the sweep's send timeout.
func (r *Relay) publishWithin(ctx context.Context, m store.OutboxMessage) error {
	ctx, cancel := context.WithTimeout(ctx, r.sendTimeout)
	defer cancel()
	return r.Publish(ctx, m)
}
