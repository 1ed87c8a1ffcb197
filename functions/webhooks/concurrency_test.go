package webhooks

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
)

// stripeScenario returns n events about a few customers, in the order
// Stripe created them (one second apart): for each customer a checkout
// first, then subscription changes, invoices and card changes.
func stripeScenario(t0 time.Time, n int) (bodies [][]byte, customers []string) {
	const nCustomers = 5
	for c := range nCustomers {
		customers = append(customers, fmt.Sprintf("cus_%d", c))
	}
	statuses := []string{"trialing", "active", "past_due", "active", "canceled"}
	brands := []string{"visa", "mastercard", "amex"}
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Second)
		c := customers[i%nCustomers]
		id := fmt.Sprintf("evt_%03d", i)
		var b []byte
		switch k := i / nCustomers; {
		case k == 0:
			b = stripeEventBody(id, "checkout.session.completed", at, checkoutObject(c, "org_"+c, "sub_"+c))
		case k%4 == 1:
			b = stripeEventBody(id, "customer.subscription.updated", at, subscriptionObject("sub_"+c, c,
				statuses[k%len(statuses)], fmt.Sprintf("price_%d", k%3), at.Add(720*time.Hour), k%2 == 0))
		case k%4 == 2:
			typ, status := "invoice.paid", "paid"
			if k%3 == 0 {
				typ, status = "invoice.payment_failed", "open"
			}
			b = stripeEventBody(id, typ, at, invoiceObject(fmt.Sprintf("in_%03d", i), c, status))
		default:
			b = stripeEventBody(id, "payment_method.attached", at, paymentMethodObject(fmt.Sprintf("pm_%03d", i), c,
				brands[k%len(brands)], fmt.Sprintf("%04d", i)))
		}
		bodies = append(bodies, b)
	}
	return bodies, customers
}

// 1,000 deliveries of 100 distinct events, each sent 10 times from 50
// goroutines in shuffled order, on real PostgreSQL: exactly 100 effects,
// 100 audit events, 100 outbox rows, and the billing state of applying the
// events one by one in order.
//
// Controls: HOOK-2, HOOK-5, AUDIT-1
func TestStripeConcurrentRedeliveries(t *testing.T) {
	const distinct, copies, workers = 100, 10, 50
	e := newTestEnv(t, pgtest.New(t).Store, nil)
	bodies, customers := stripeScenario(e.Clock.Now().Add(-time.Hour), distinct)
	var deliveries [][]byte
	for range copies {
		deliveries = append(deliveries, bodies...)
	}
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(deliveries), func(i, j int) { deliveries[i], deliveries[j] = deliveries[j], deliveries[i] })

	work := make(chan []byte)
	var duplicates, failures atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for b := range work {
				w := e.postStripe(t, b)
				switch {
				case w.Code != http.StatusOK:
					failures.Add(1)
					t.Errorf("delivery answered %d %s", w.Code, w.Body)
				case ackDuplicate(w.Body.Bytes()):
					duplicates.Add(1)
				}
			}
		})
	}
	for _, b := range deliveries {
		work <- b
	}
	close(work)
	wg.Wait()
	if failures.Load() > 0 {
		t.FailNow()
	}
	if d := duplicates.Load(); d != distinct*(copies-1) {
		t.Fatalf("%d deliveries acknowledged as duplicates, want %d", d, distinct*(copies-1))
	}
	assertOnePerEvent(t, e, distinct)

	inOrder := newTestEnv(t, pgtest.New(t).Store, nil)
	for _, b := range bodies {
		deliverStripe(t, inOrder, b)
	}
	for _, c := range customers {
		got, err1 := e.Store.BillingAccount(context.Background(), c)
		want, err2 := inOrder.Store.BillingAccount(context.Background(), c)
		if err1 != nil || err2 != nil || !sameBilling(got, want) {
			t.Fatalf("customer %s: concurrent state %+v (%v)\nin-order state %+v (%v)", c, got, err1, want, err2)
		}
	}
}

func ackDuplicate(body []byte) bool {
	var a ackBody
	return jsonUnmarshal(body, &a) == nil && a.Duplicate
}

// assertOnePerEvent checks that each distinct event had exactly one effect:
// one event row, one audit event, one outbox message, one publication.
func assertOnePerEvent(t *testing.T, e *testEnv, distinct int) {
	t.Helper()
	ctx := context.Background()
	evs, err := e.Store.ListWebhookEvents(ctx, providerStripe, 10*distinct)
	if err != nil || len(evs) != distinct {
		t.Fatalf("%d events recorded (%v), want %d", len(evs), err, distinct)
	}
	for _, ev := range evs {
		if ev.Status != store.WebhookApplied && ev.Status != store.WebhookSuperseded {
			t.Fatalf("event %s: status %s", ev.ID, ev.Status)
		}
		if _, err := e.Store.OutboxMessage(ctx, "stripe/"+ev.ID); err != nil {
			t.Fatalf("event %s has no outbox message: %v", ev.ID, err)
		}
	}
	if n := auditActions(t, e.Store)["webhook.event"]; n != distinct {
		t.Fatalf("%d audit events, want %d", n, distinct)
	}
	seen := map[string]bool{}
	for _, m := range e.sender.messages() {
		if seen[m.ID] {
			t.Fatalf("message %s published twice", m.ID)
		}
		seen[m.ID] = true
	}
	if len(seen) != distinct {
		t.Fatalf("%d messages published, want %d", len(seen), distinct)
	}
}

// sameBilling compares the billing fields of two accounts.
func sameBilling(a, b store.BillingAccount) bool {
	a.CreatedAt, a.UpdatedAt, b.CreatedAt, b.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a.OrgID == b.OrgID && a.SubscriptionID == b.SubscriptionID && a.PriceID == b.PriceID &&
		a.ProductID == b.ProductID && a.Status == b.Status && a.CurrentPeriodEnd.Equal(b.CurrentPeriodEnd) &&
		a.CancelAtPeriodEnd == b.CancelAtPeriodEnd && sameVersion(a.SubscriptionVersion, b.SubscriptionVersion) &&
		a.CardBrand == b.CardBrand && a.CardLast4 == b.CardLast4 && sameVersion(a.CardVersion, b.CardVersion) &&
		a.InvoiceID == b.InvoiceID && a.InvoiceStatus == b.InvoiceStatus && sameVersion(a.InvoiceVersion, b.InvoiceVersion)
}

func sameVersion(a, b store.EventVersion) bool {
	return a.At.Equal(b.At) && a.Rank == b.Rank && a.EventID == b.EventID
}
