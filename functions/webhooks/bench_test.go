package webhooks

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v85/webhook"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
)

// BenchmarkStripeWebhook measures verified-and-applied Stripe events per
// second through the handler (verify, parse, claim, lock and update the
// billing row, audit, outbox, commit, publish to a fake sender) against the
// baseline of raw signature verification plus one INSERT on the same
// PostgreSQL database, interleaved in one loop so both see the same
// conditions. ratio is gatehouse time per event over baseline time.
func BenchmarkStripeWebhook(b *testing.B) {
	db := pgtest.New(b)
	e := newTestEnv(b, db.Store, nil)
	ctx := context.Background()
	t0 := e.Clock.Now().Add(-time.Hour)
	deliverSetup(b, e, stripeEventBody("evt_setup", "checkout.session.completed", t0, checkoutObject("cus_bench", "org_bench", "sub_bench")))
	var baseline, gatehouse time.Duration
	for i := 0; b.Loop(); i++ {
		at := t0.Add(time.Duration(i+1) * time.Millisecond)
		body := stripeEventBody(fmt.Sprintf("evt_base_%d", i), "invoice.paid", at, invoiceObject(fmt.Sprintf("in_b%d", i), "cus_bench", "paid"))
		header := stripeHeader(body, stripeSecret, time.Now()).Get("Stripe-Signature")
		start := time.Now()
		if err := webhook.ValidatePayload(body, header, stripeSecret); err != nil {
			b.Fatal(err)
		}
		if err := db.Store.ClaimWebhookEvent(ctx, store.WebhookEvent{Provider: "baseline", ID: fmt.Sprintf("evt_base_%d", i),
			Type: "invoice.paid", OccurredAt: at, ReceivedAt: at, Status: store.WebhookApplied}); err != nil {
			b.Fatal(err)
		}
		baseline += time.Since(start)

		body = stripeEventBody(fmt.Sprintf("evt_gh_%d", i), "invoice.paid", at, invoiceObject(fmt.Sprintf("in_g%d", i), "cus_bench", "paid"))
		hdr := stripeHeader(body, stripeSecret, e.Clock.Now())
		start = time.Now()
		w := e.post(b, "/stripe", body, hdr)
		gatehouse += time.Since(start)
		if w.Code != http.StatusOK {
			b.Fatalf("delivery answered %d %s", w.Code, w.Body)
		}
	}
	b.ReportMetric(float64(b.N)/baseline.Seconds(), "baseline_events/s")
	b.ReportMetric(float64(b.N)/gatehouse.Seconds(), "gatehouse_events/s")
	b.ReportMetric(gatehouse.Seconds()/baseline.Seconds(), "ratio")
}

func deliverSetup(b *testing.B, e *testEnv, body []byte) {
	if w := e.postStripe(b, body); w.Code != http.StatusOK {
		b.Fatalf("setup delivery answered %d %s", w.Code, w.Body)
	}
}
