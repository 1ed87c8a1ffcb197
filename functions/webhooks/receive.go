package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Why a delivery was rejected, as audited (never sent to the client).
const (
	reasonTooLarge     = "too_large"
	reasonUnreadable   = "unreadable_body"
	reasonNoSignature  = "missing_signature"
	reasonBadSignature = "bad_signature"
	reasonTimestamp    = "timestamp_out_of_tolerance"
	reasonMalformed    = "malformed_event"
)

// errRejected is the one response to every verification failure: the
// client learns nothing about which check failed.
var errRejected = &web.Error{Status: http.StatusBadRequest, Code: "invalid_signature",
	Message: "The webhook could not be verified."}

// errMalformedEvent answers a verified body that is not an acceptable event.
var errMalformedEvent = &web.Error{Status: http.StatusBadRequest, Code: "invalid_event",
	Message: "The webhook payload is not a valid event."}

// errDuplicate aborts the transaction of an event already claimed.
var errDuplicate = errors.New("event already processed")

// publishTimeout bounds the after-commit publish; the sweep retries later.
const publishTimeout = 5 * time.Second

// readBody reads the whole body, at most cfg.MaxBody bytes.
func (h *handlers) readBody(w http.ResponseWriter, r *http.Request, provider string) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return nil, h.reject(r, provider, reasonTooLarge, web.TooLarge(), err)
	case err != nil:
		return nil, h.reject(r, provider, reasonUnreadable, errRejected, err)
	}
	return body, nil
}

// reject audits a refused delivery and returns the error to answer with.
// Nothing but the audit event is written (fail closed). If the audit log
// cannot be written the delivery is refused all the same. Every rejection
// is audited unless the operator turned on sampling
// (GATEHOUSE_WEBHOOK_REJECTION_AUDIT_PER_MINUTE), which bounds what a flood
// of junk from one network writes to the audit log and its chain.
func (h *handlers) reject(r *http.Request, provider, reason string, resp *web.Error, cause error) error {
	h.d.Telemetry.Metrics.WebhookEvent(r.Context(), provider, "rejected")
	network := h.network(r)
	ok, suppressed := true, int64(0)
	if h.rejections != nil {
		ok, suppressed = h.rejections.Admit(provider + "|" + network + "|" + reason)
	}
	if ok {
		meta := map[string]any{"reason": reason}
		if suppressed > 0 {
			meta["suppressed"] = suppressed
		}
		_, err := h.d.Audit.Record(r.Context(), audit.Event{Actor: "unverified", Action: "webhook.rejected",
			Target: provider, Outcome: store.OutcomeDenied, Network: network, Metadata: meta})
		if err != nil {
			h.d.Logger.ErrorContext(r.Context(), "audit of rejected webhook failed", "error", err.Error())
		}
	}
	return resp.WithCause(fmt.Errorf("%s webhook rejected (%s): %w", provider, reason, cause))
}

// network is the client's network prefix for audit events.
func (h *handlers) network(r *http.Request) string {
	addr := web.ClientIP(r, h.d.Config.TrustedProxyHops)
	if !addr.IsValid() {
		return ""
	}
	return web.Network(addr).String()
}

// delivery is one verified event, ready to be claimed and applied.
type delivery struct {
	event store.WebhookEvent // Provider, ID, Type and OccurredAt set
	// apply makes the event's effect inside tx. It sets the event's Status
	// (and OrgID, Subject, Data as it knows them) and returns the Pub/Sub
	// payload, or nil to publish nothing.
	apply func(ctx context.Context, tx store.Store, e *store.WebhookEvent) (message any, err error)
	topic string
}

// ackBody is the answer to every accepted delivery.
type ackBody struct {
	Received  bool   `json:"received"`
	Duplicate bool   `json:"duplicate"`
	Status    string `json:"status,omitempty"`
}

// deliver claims the event and applies it in one transaction with its
// audit event and outbox message (HOOK-2): a duplicate, or a concurrent
// redelivery that loses the claim, is acknowledged with no second effect;
// any failure rolls the claim back too, so the provider's retry can
// succeed. The outbox message is published after the commit.
func (h *handlers) deliver(w http.ResponseWriter, r *http.Request, dl delivery) error {
	ctx := r.Context()
	var msg *store.OutboxMessage
	var e store.WebhookEvent
	err := h.d.Store.Tx(ctx, func(tx store.Store) error {
		msg, e = nil, dl.event
		e.ReceivedAt, e.Status = h.d.Now(), store.WebhookIgnored
		if err := tx.ClaimWebhookEvent(ctx, e); err != nil {
			if errors.Is(err, store.ErrUsed) {
				return errDuplicate
			}
			return err
		}
		payload, err := dl.apply(ctx, tx, &e)
		if err != nil {
			return err
		}
		if err := tx.UpdateWebhookEvent(ctx, e); err != nil {
			return err
		}
		if err := h.auditEvent(ctx, tx, r, e); err != nil {
			return err
		}
		msg, err = h.enqueue(ctx, tx, dl.topic, e, payload)
		return err
	})
	metrics := h.d.Telemetry.Metrics
	if errors.Is(err, errDuplicate) {
		metrics.WebhookEvent(ctx, dl.event.Provider, "duplicate")
		return web.WriteJSON(w, http.StatusOK, ackBody{Received: true, Duplicate: true})
	}
	if err != nil {
		metrics.WebhookEvent(ctx, dl.event.Provider, "error")
		return fmt.Errorf("process %s event %s: %w", dl.event.Provider, dl.event.ID, err)
	}
	metrics.WebhookEvent(ctx, dl.event.Provider, string(e.Status))
	h.publish(ctx, msg)
	return web.WriteJSON(w, http.StatusOK, ackBody{Received: true, Status: string(e.Status)})
}

func (h *handlers) auditEvent(ctx context.Context, tx store.Store, r *http.Request, e store.WebhookEvent) error {
	outcome := store.OutcomeSuccess
	if e.Status == store.WebhookConflict {
		outcome = store.OutcomeFailure
	}
	meta := map[string]any{"type": e.Type, "status": string(e.Status)}
	if e.Subject != "" {
		meta["subject"] = e.Subject
	}
	_, err := h.d.Audit.RecordTx(ctx, tx, audit.Event{Actor: e.Provider, OrgID: e.OrgID, Action: "webhook.event",
		Target: e.Provider + "/" + e.ID, Outcome: outcome, Network: h.network(r), Metadata: meta})
	return err
}

// eventMessage is the Pub/Sub payload of every published event.
type eventMessage struct {
	Provider   string    `json:"provider"`
	EventID    string    `json:"event_id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	Status     string    `json:"status"`
	OrgID      string    `json:"org_id,omitempty"`
	Subject    string    `json:"subject,omitempty"`
	Data       any       `json:"data"`
}

// enqueue writes the event's outbox message in tx, unless payload is nil.
func (h *handlers) enqueue(ctx context.Context, tx store.Store, topic string, e store.WebhookEvent, payload any) (*store.OutboxMessage, error) {
	if payload == nil {
		return nil, nil
	}
	data, err := json.Marshal(eventMessage{Provider: e.Provider, EventID: e.ID, Type: e.Type,
		OccurredAt: e.OccurredAt.UTC(), Status: string(e.Status), OrgID: e.OrgID, Subject: e.Subject, Data: payload})
	if err != nil {
		return nil, fmt.Errorf("encode event message: %w", err)
	}
	m := h.relay.Message(e.Provider+"/"+e.ID, topic, string(data),
		map[string]string{"provider": e.Provider, "event_type": e.Type, "org_id": e.OrgID})
	if err := tx.EnqueueOutbox(ctx, m); err != nil {
		return nil, err
	}
	return &m, nil
}

// publish sends a committed outbox message; a failure is logged and left
// to the sweep.
func (h *handlers) publish(ctx context.Context, m *store.OutboxMessage) {
	if m == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), publishTimeout)
	defer cancel()
	if err := h.relay.Publish(ctx, *m); err != nil {
		h.d.Logger.WarnContext(ctx, "event committed, publishing deferred to the outbox sweep",
			"message_id", m.ID, "error", err.Error())
	}
}
