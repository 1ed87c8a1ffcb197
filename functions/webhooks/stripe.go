package webhooks

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// stripeTolerance is how far a Stripe-Signature timestamp may be from now,
// either way: Stripe's default of 300 s.
const stripeTolerance = webhook.DefaultTolerance

const providerStripe = "stripe"

// errNotConfigured answers deliveries to a receiver that has no secret: it
// rejects everything (fail closed), and the provider retries later.
func errNotConfigured(what string) error {
	return web.Unavailable(errors.New(what + " receiver has no signing secret configured"))
}

// stripe answers POST /stripe.
func (h *handlers) stripe(w http.ResponseWriter, r *http.Request) error {
	if len(h.cfg.StripeSecrets) == 0 {
		return errNotConfigured("Stripe")
	}
	body, err := h.readBody(w, r, providerStripe)
	if err != nil {
		return err
	}
	if reason, err := verifyStripe(body, r.Header.Get("Stripe-Signature"), h.cfg.StripeSecrets, h.d.Now()); err != nil {
		return h.reject(r, providerStripe, reason, errRejected, err)
	}
	ev, err := parseStripeEvent(body)
	if err != nil {
		return h.reject(r, providerStripe, reasonMalformed, errMalformedEvent, err)
	}
	return h.deliver(w, r, delivery{
		event: store.WebhookEvent{Provider: providerStripe, ID: ev.ID, Type: ev.Type, OccurredAt: ev.Created},
		topic: h.cfg.BillingTopic,
		apply: func(ctx context.Context, tx store.Store, e *store.WebhookEvent) (any, error) {
			return h.applyStripe(ctx, tx, ev, e)
		},
	})
}

// applyStripe applies ev and returns its Pub/Sub payload: the customer's
// billing state after the event, or nothing for an event that was not
// applied.
func (h *handlers) applyStripe(ctx context.Context, tx store.Store, ev stripeEvent, e *store.WebhookEvent) (any, error) {
	a, err := applyStripeEvent(ctx, tx, ev, e, h.d.Now())
	if err != nil {
		return nil, err
	}
	e.Data, err = encodeData(ev.Update)
	if err != nil {
		return nil, err
	}
	if err := h.emitSubscription(ctx, tx, ev, e, a); err != nil {
		return nil, err
	}
	switch e.Status {
	case store.WebhookApplied, store.WebhookSuperseded:
		return viewBilling(a), nil
	}
	return nil, nil
}

// emitSubscription emits billing.subscription.updated through tx when the
// event was applied and moved the account's subscription.
func (h *handlers) emitSubscription(ctx context.Context, tx store.Store, ev stripeEvent, e *store.WebhookEvent, a store.BillingAccount) error {
	if e.Status != store.WebhookApplied || a.SubscriptionID == "" || a.SubscriptionVersion.EventID != ev.ID {
		return nil
	}
	return h.d.Events.Emit(ctx, tx, events.Subscription(events.SubscriptionData{OrgID: a.OrgID,
		SubscriptionID: a.SubscriptionID, Plan: a.PriceID, Status: a.Status, PeriodEnd: a.CurrentPeriodEnd}))
}

// verifyStripe checks a Stripe-Signature header against each secret with
// stripe-go's webhook package, and the header's timestamp against now with
// our own clock (the package's check reads the wall clock, and only looks
// one way). It returns the audit reason with any error.
func verifyStripe(payload []byte, header string, secrets []config.Secret, now time.Time) (string, error) {
	if header == "" {
		return reasonNoSignature, webhook.ErrNotSigned
	}
	ts, err := stripeTimestamp(header)
	if err != nil {
		return reasonBadSignature, err
	}
	verified := false
	for _, s := range secrets {
		if webhook.ValidatePayloadIgnoringTolerance(payload, header, s.Reveal()) == nil {
			verified = true
		}
	}
	if !verified {
		return reasonBadSignature, webhook.ErrNoValidSignature
	}
	if d := now.Sub(ts); d > stripeTolerance || d < -stripeTolerance {
		return reasonTimestamp, webhook.ErrTooOld
	}
	return "", nil
}

// stripeTimestamp returns the t= value of a Stripe-Signature header
// ("t=1495999758,v1=ABC,v1=DEF,v0=GHI"). It is stricter than stripe-go's
// parser, which it must agree with whenever both succeed: exactly one t,
// every pair k=v.
func stripeTimestamp(header string) (time.Time, error) {
	var ts time.Time
	seen := false
	for pair := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(pair, "=")
		if !ok || strings.Contains(v, "=") {
			return time.Time{}, webhook.ErrInvalidHeader
		}
		if k != "t" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if seen || err != nil || n <= 0 || n > maxUnixTime {
			return time.Time{}, webhook.ErrInvalidHeader
		}
		ts, seen = time.Unix(n, 0), true
	}
	if !seen {
		return time.Time{}, webhook.ErrInvalidHeader
	}
	return ts, nil
}
