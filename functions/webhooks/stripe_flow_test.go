package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"cloud.google.com/go/pubsub/v2/pstest"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/events/eventstest"
	"github.com/gatehouse-dev/gatehouse/shared/outbox"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// ack decodes an accepted delivery's answer.
func ack(t *testing.T, w interface {
	Result() *http.Response
}, body string) ackBody {
	t.Helper()
	if w.Result().StatusCode != http.StatusOK {
		t.Fatalf("status %d %s, want 200", w.Result().StatusCode, body)
	}
	var a ackBody
	decodeJSON(t, []byte(body), &a)
	return a
}

func deliverStripe(t *testing.T, e *testEnv, body []byte) ackBody {
	t.Helper()
	w := e.postStripe(t, body)
	return ack(t, w, w.Body.String())
}

func billingOf(t *testing.T, s store.Store, org string) store.BillingAccount {
	t.Helper()
	a, err := s.BillingAccountByOrg(context.Background(), org)
	if err != nil {
		t.Fatalf("billing state of %s: %v", org, err)
	}
	return a
}

// A subscription's life as Stripe reports it: each event applied, audited
// and published once, and only billing metadata kept.
//
// Controls: HOOK-2, HOOK-3, AUDIT-1, AUDIT-2
func TestStripeBillingFlow(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		e := newTestEnv(t, s, nil)
		for _, v := range []string{cardNumber, "1 Secret Street", "Xt5EWLLDS7FJjR1c"} {
			e.Logs.Plant(v)
		}
		t0 := e.Clock.Now()
		end := t0.Add(30 * 24 * time.Hour).Truncate(time.Second)
		events := [][]byte{
			stripeEventBody("evt_1", "checkout.session.completed", t0, checkoutObject("cus_A", "org_acme", "sub_A")),
			stripeEventBody("evt_2", "customer.subscription.created", t0.Add(time.Second), subscriptionObject("sub_A", "cus_A", "active", "price_pro", end, false)),
			stripeEventBody("evt_3", "invoice.paid", t0.Add(2*time.Second), invoiceObject("in_1", "cus_A", "paid")),
			stripeEventBody("evt_4", "payment_method.attached", t0.Add(3*time.Second), paymentMethodObject("pm_1", "cus_A", "visa", "4242")),
			stripeEventBody("evt_5", "customer.subscription.updated", t0.Add(4*time.Second), subscriptionObject("sub_A", "cus_A", "active", "price_pro", end, true)),
		}
		for i, b := range events {
			if a := deliverStripe(t, e, b); a.Duplicate || a.Status != "applied" {
				t.Fatalf("event %d: %+v, want applied", i+1, a)
			}
		}
		a := billingOf(t, s, "org_acme")
		if a.CustomerID != "cus_A" || a.SubscriptionID != "sub_A" || a.PriceID != "price_pro" || a.ProductID != "prod_gatehouse" ||
			a.Status != "active" || !a.CurrentPeriodEnd.Equal(end) || !a.CancelAtPeriodEnd ||
			a.CardBrand != "visa" || a.CardLast4 != "4242" || a.InvoiceID != "in_1" || a.InvoiceStatus != "paid" {
			t.Fatalf("billing state = %+v", a)
		}
		if got := auditActions(t, s); got["webhook.event"] != len(events) {
			t.Fatalf("audit actions = %v, want %d webhook.event", got, len(events))
		}
		sent := e.sender.messages()
		if len(sent) != len(events) {
			t.Fatalf("published %d messages, want %d", len(sent), len(events))
		}
		for _, m := range sent {
			stored, err := s.OutboxMessage(context.Background(), m.ID)
			if err != nil || stored.PublishedAt.IsZero() || m.Topic != billingTopic || m.Attributes["org_id"] != "org_acme" {
				t.Fatalf("message %s: stored %+v, %v; sent %+v", m.ID, stored, err, m)
			}
		}
		var last eventMessage
		decodeJSON(t, []byte(sent[len(sent)-1].Data), &last)
		if last.EventID != "evt_5" || last.OrgID != "org_acme" || !strings.Contains(sent[len(sent)-1].Data, `"last4":"4242"`) {
			t.Fatalf("last message = %s", sent[len(sent)-1].Data)
		}
		assertNoCardData(t, s, sent)
	})
}

// assertNoCardData checks every place a payment method's payload could
// have been copied to: event data, outbox, audit metadata.
func assertNoCardData(t *testing.T, s store.Store, sent []store.OutboxMessage) {
	t.Helper()
	ctx := context.Background()
	var blobs []string
	evs, _ := s.ListWebhookEvents(ctx, providerStripe, 1000)
	for _, e := range evs {
		blobs = append(blobs, e.Data)
	}
	for _, m := range sent {
		blobs = append(blobs, m.Data)
	}
	audits, _ := s.AuditEvents(ctx, 0, 1000)
	for _, a := range audits {
		blobs = append(blobs, a.Metadata)
	}
	for _, b := range blobs {
		for _, bad := range []string{cardNumber, "exp_", "fingerprint", "Secret Street", "payer@example.com", "cvc"} {
			if strings.Contains(b, bad) {
				t.Fatalf("stored %q, which holds %q", b, bad)
			}
		}
	}
}

// Redelivery and concurrent duplicates have exactly one effect.
//
// Controls: HOOK-2
func TestStripeDuplicateDelivery(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		e := newTestEnv(t, s, nil)
		body := stripeEventBody("evt_dup", "invoice.paid", e.Clock.Now(), invoiceObject("in_1", "cus_1", "paid"))
		if a := deliverStripe(t, e, body); a.Duplicate {
			t.Fatalf("first delivery: %+v", a)
		}
		for range 3 {
			if a := deliverStripe(t, e, body); !a.Duplicate {
				t.Fatalf("redelivery: %+v, want duplicate", a)
			}
		}
		if n := auditActions(t, s)["webhook.event"]; n != 1 || len(e.sender.messages()) != 1 {
			t.Fatalf("%d audit events, %d messages; want 1 and 1", n, len(e.sender.messages()))
		}
	})
}

// Events applied in any order give the state of the newest: the object's
// own event time decides, then, within one second, the lifecycle (created,
// changed, deleted), then the event id.
//
// Controls: HOOK-5
func TestStripeOutOfOrder(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		e := newTestEnv(t, s, nil)
		t0 := e.Clock.Now()
		end := t0.Add(720 * time.Hour)
		sub := func(id, status string, at time.Time) []byte {
			return stripeEventBody(id, "customer.subscription.updated", at, subscriptionObject("sub_A", "cus_A", status, "price_pro", end, false))
		}
		deliverStripe(t, e, stripeEventBody("evt_map", "checkout.session.completed", t0, checkoutObject("cus_A", "org_a", "sub_A")))
		for _, tc := range []struct {
			name string
			body []byte
			want string
		}{
			{"newest first", sub("evt_3", "canceled", t0.Add(3*time.Second)), "applied"},
			{"older after newer", sub("evt_1", "active", t0.Add(1*time.Second)), "superseded"},
			{"middle after newest", sub("evt_2", "past_due", t0.Add(2*time.Second)), "superseded"},
			{"same second, smaller id", sub("evt_2z", "active", t0.Add(3*time.Second)), "superseded"},
			{"newer invoice", stripeEventBody("evt_i2", "invoice.paid", t0.Add(5*time.Second), invoiceObject("in_2", "cus_A", "paid")), "applied"},
			{"older invoice failure after it", stripeEventBody("evt_i1", "invoice.payment_failed", t0.Add(4*time.Second), invoiceObject("in_1", "cus_A", "open")), "superseded"},
		} {
			if a := deliverStripe(t, e, tc.body); a.Status != tc.want {
				t.Fatalf("%s: %+v, want %s", tc.name, a, tc.want)
			}
		}
		a := billingOf(t, s, "org_a")
		if a.Status != "canceled" || a.SubscriptionVersion.EventID != "evt_3" || a.InvoiceStatus != "paid" || a.InvoiceID != "in_2" {
			t.Fatalf("state moved backwards: %+v", a)
		}
		if a := deliverStripe(t, e, sub("evt_4", "active", t0.Add(3*time.Second))); a.Status != "applied" {
			t.Fatalf("same second, larger id: %+v, want applied", a)
		}
		// Only the events that moved the subscription announce it.
		if got := strings.Join(subscriptionEvents(t, s), "\n"); got != `{"org_id":"org_a","subscription_id":"sub_A","plan":"price_pro","status":"active","period_end":"`+end.UTC().Format(time.RFC3339)+`"}`+"\n"+
			`{"org_id":"org_a","subscription_id":"sub_A","plan":"price_pro","status":"canceled","period_end":"`+end.UTC().Format(time.RFC3339)+`"}` {
			t.Fatalf("billing.subscription.updated events:\n%s", got)
		}
		eventstest.Require(t, s, events.BillingSubscriptionUpdated, "subscription/sub_A", map[string]string{"org_id": "org_a",
			"subscription_id": "sub_A", "plan": "price_pro", "status": "canceled", "period_end": end.UTC().Format(time.RFC3339)})
	})
}

// subscriptionEvents returns the data of the billing.subscription.updated
// events in s's outbox, sorted.
func subscriptionEvents(t *testing.T, s store.Store) []string {
	t.Helper()
	due, err := s.DueOutbox(context.Background(), time.Now().Add(100*365*24*time.Hour), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range due {
		if m.Attributes["ce-type"] != "com.gatehouse.billing.subscription.updated.v1" {
			continue
		}
		var ce struct {
			Data json.RawMessage `json:"data"`
		}
		decodeJSON(t, []byte(m.Data), &ce)
		out = append(out, string(ce.Data))
	}
	slices.Sort(out)
	return out
}

// Within one second the lifecycle orders events whatever their random ids:
// a "created" delivered after an "updated" of the same second does not undo
// it, and a "deleted" wins over both.
//
// Controls: HOOK-5
func TestStripeSameSecondLifecycle(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		e := newTestEnv(t, s, nil)
		t0 := e.Clock.Now()
		at, end := t0.Add(time.Second), t0.Add(720*time.Hour)
		ev := func(id, typ, status string) []byte {
			return stripeEventBody(id, typ, at, subscriptionObject("sub_L", "cus_L", status, "price_pro", end, false))
		}
		deliverStripe(t, e, stripeEventBody("evt_map", "checkout.session.completed", t0, checkoutObject("cus_L", "org_l", "sub_L")))
		for _, tc := range []struct {
			name string
			body []byte
			want string
		}{
			{"updated first", ev("evt_a", "customer.subscription.updated", "active"), "applied"},
			{"created after it, larger id", ev("evt_z", "customer.subscription.created", "incomplete"), "superseded"},
			{"deleted, smaller id", ev("evt_0", "customer.subscription.deleted", "canceled"), "applied"},
			{"updated after deleted, larger id", ev("evt_y", "customer.subscription.updated", "active"), "superseded"},
		} {
			if a := deliverStripe(t, e, tc.body); a.Status != tc.want {
				t.Fatalf("%s: %+v, want %s", tc.name, a, tc.want)
			}
		}
		if a := billingOf(t, s, "org_l"); a.Status != "canceled" || a.SubscriptionVersion.EventID != "evt_0" ||
			a.SubscriptionVersion.Rank != store.RankDeleted {
			t.Fatalf("state: %+v", a)
		}
	})
}

// Events for a customer nobody has mapped yet are applied to the customer
// and show up under the organization once a checkout maps it. Unknown types
// are recorded and acknowledged.
//
// Controls: HOOK-2, APP-6
func TestStripeUnmappedCustomerAndUnknownTypes(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		e := newTestEnv(t, s, nil)
		t0, ctx := e.Clock.Now(), context.Background()
		deliverStripe(t, e, stripeEventBody("evt_s", "customer.subscription.created", t0.Add(time.Second),
			subscriptionObject("sub_B", "cus_B", "trialing", "price_basic", t0.Add(time.Hour), false)))
		if _, err := s.BillingAccountByOrg(ctx, "org_b"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unmapped customer visible under an org: %v", err)
		}
		if ev, err := s.WebhookEvent(ctx, providerStripe, "evt_s"); err != nil || ev.Subject != "cus_B" || ev.OrgID != "" {
			t.Fatalf("event of an unmapped customer: %+v, %v", ev, err)
		}
		deliverStripe(t, e, stripeEventBody("evt_c", "checkout.session.completed", t0, checkoutObject("cus_B", "org_b", "sub_B")))
		if a := billingOf(t, s, "org_b"); a.Status != "trialing" || a.PriceID != "price_basic" {
			t.Fatalf("state after mapping = %+v", a)
		}
		for _, typ := range []string{"customer.updated", "charge.refunded"} {
			body := stripeEventBody("evt_"+strings.ReplaceAll(typ, ".", "_"), typ, t0, map[string]any{"object": "customer", "id": "cus_B", "email": "x@example.com"})
			if a := deliverStripe(t, e, body); a.Status != "ignored" {
				t.Fatalf("%s: %+v, want ignored", typ, a)
			}
		}
		if n := len(e.sender.messages()); n != 2 {
			t.Fatalf("published %d messages, want 2 (ignored events are not published)", n)
		}
	})
}

// A checkout may not move a customer to another organization, nor give an
// organization a second customer: the event is recorded as a conflict.
//
// Controls: AUTHZ-3, AUDIT-1
func TestStripeOrgConflict(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		e := newTestEnv(t, s, nil)
		t0 := e.Clock.Now()
		deliverStripe(t, e, stripeEventBody("evt_1", "checkout.session.completed", t0, checkoutObject("cus_A", "org_1", "")))
		for _, tc := range []struct {
			name string
			body []byte
		}{
			{"second customer for org_1", stripeEventBody("evt_2", "checkout.session.completed", t0, checkoutObject("cus_B", "org_1", ""))},
			{"cus_A to org_2", stripeEventBody("evt_3", "checkout.session.completed", t0, checkoutObject("cus_A", "org_2", ""))},
		} {
			if a := deliverStripe(t, e, tc.body); a.Status != "conflict" {
				t.Fatalf("%s: %+v, want conflict", tc.name, a)
			}
		}
		if a := billingOf(t, s, "org_1"); a.CustomerID != "cus_A" {
			t.Fatalf("org_1 now pays with %s", a.CustomerID)
		}
		if b, _ := s.BillingAccount(context.Background(), "cus_B"); b.OrgID != "" {
			t.Fatalf("cus_B mapped to %q", b.OrgID)
		}
		evs, _ := s.AuditEvents(context.Background(), 0, 100)
		failures := 0
		for _, ev := range evs {
			if ev.Outcome == store.OutcomeFailure {
				failures++
			}
		}
		if failures != 2 {
			t.Fatalf("%d failure audit events, want 2", failures)
		}
	})
}

// failingStore fails SaveBillingAccount while fail is set, inside any
// transaction.
type failingStore struct {
	store.Store
	fail *atomic.Bool
}

func (f failingStore) Tx(ctx context.Context, fn func(store.Store) error) error {
	return f.Store.Tx(ctx, func(tx store.Store) error { return fn(failingStore{tx, f.fail}) })
}

func (f failingStore) SaveBillingAccount(ctx context.Context, a store.BillingAccount) error {
	if f.fail.Load() {
		return errors.New("injected failure")
	}
	return f.Store.SaveBillingAccount(ctx, a)
}

// A failure inside the transaction rolls back the claim with the effect,
// so Stripe's retry succeeds.
//
// Controls: HOOK-2, APP-6
func TestStripeFailureRollsBackClaim(t *testing.T) {
	eachBackend(t, func(t *testing.T, s store.Store) {
		fail := &atomic.Bool{}
		fail.Store(true)
		e := newTestEnv(t, failingStore{s, fail}, nil)
		body := stripeEventBody("evt_retry", "invoice.paid", e.Clock.Now(), invoiceObject("in_1", "cus_1", "paid"))
		if w := e.postStripe(t, body); w.Code != http.StatusInternalServerError {
			t.Fatalf("failed transaction answered %d %s", w.Code, w.Body)
		}
		if _, err := s.WebhookEvent(context.Background(), providerStripe, "evt_retry"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("claim survived the rollback: %v", err)
		}
		if n := auditActions(t, s)["webhook.event"]; n != 0 {
			t.Fatalf("audit event survived the rollback")
		}
		fail.Store(false)
		if a := deliverStripe(t, e, body); a.Status != "applied" || a.Duplicate {
			t.Fatalf("retry: %+v", a)
		}
	})
}

// A failed publish leaves the committed message for the sweep.
//
// Controls: APP-6
func TestStripePublishFailureLeavesOutbox(t *testing.T) {
	e := newTestEnv(t, bootstraptest.SQLite(t), nil)
	e.sender.fail = func(store.OutboxMessage) error { return errors.New("pubsub down") }
	deliverStripe(t, e, stripeEventBody("evt_p", "invoice.paid", e.Clock.Now(), invoiceObject("in_1", "cus_1", "paid")))
	m, err := e.Store.OutboxMessage(context.Background(), "stripe/evt_p")
	if err != nil || !m.PublishedAt.IsZero() || m.Topic != billingTopic {
		t.Fatalf("outbox message = %+v, %v", m, err)
	}
	var msg eventMessage
	if err := json.Unmarshal([]byte(m.Data), &msg); err != nil || msg.EventID != "evt_p" {
		t.Fatalf("outbox payload %s: %v", m.Data, err)
	}
}

// The event reaches Pub/Sub (a pstest server) with its attributes.
func TestStripePublishesToPubSub(t *testing.T) {
	srv := pstest.NewServer()
	t.Cleanup(func() { _ = srv.Close() })
	if _, err := srv.GServer.CreateTopic(context.Background(), &pubsubpb.Topic{Name: billingTopic}); err != nil {
		t.Fatal(err)
	}
	conn, err := grpc.NewClient(srv.Addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	p, err := outbox.NewPubSub(context.Background(), "gatehouse-test", option.WithGRPCConn(conn))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.Close() })
	e := newTestEnv(t, bootstraptest.SQLite(t), func(c *Config) { c.Sender = p })
	deliverStripe(t, e, stripeEventBody("evt_ps", "checkout.session.completed", e.Clock.Now(), checkoutObject("cus_A", "org_a", "")))
	msgs := srv.Messages()
	if len(msgs) != 1 || msgs[0].Attributes["message_id"] != "stripe/evt_ps" || msgs[0].Attributes["org_id"] != "org_a" ||
		msgs[0].Attributes["event_type"] != "checkout.session.completed" || !strings.Contains(string(msgs[0].Data), `"customer_id":"cus_A"`) {
		t.Fatalf("published %+v", msgs)
	}
	if m, err := e.Store.OutboxMessage(context.Background(), "stripe/evt_ps"); err != nil || m.PublishedAt.IsZero() {
		t.Fatalf("outbox row %+v, %v; want published", m, err)
	}
}
