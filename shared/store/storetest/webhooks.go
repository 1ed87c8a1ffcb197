package storetest

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

func testWebhooks(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		run  func(*testing.T, Opener)
	}{
		{"Claim", testWebhookClaim},
		{"ClaimRace", testWebhookClaimRace},
		{"ClaimRollback", testWebhookClaimRollback},
		{"BillingAccounts", testBillingAccounts},
		{"Outbox", testOutbox},
		{"OutboxLeaseRace", testOutboxLeaseRace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open)
		})
	}
}

func stripeEvent(id string, at time.Time) store.WebhookEvent {
	return store.WebhookEvent{Provider: "stripe", ID: id, Type: "invoice.paid", OccurredAt: at,
		ReceivedAt: epoch, Status: store.WebhookApplied, Subject: "cus_1"}
}

func testWebhookClaim(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	e := stripeEvent("evt_1", epoch.Add(-time.Minute))
	if err := s.ClaimWebhookEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	if err := s.ClaimWebhookEvent(ctx, e); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("second claim: err = %v, want ErrUsed", err)
	}
	other := e
	other.Provider = "shopify"
	if err := s.ClaimWebhookEvent(ctx, other); err != nil {
		t.Fatalf("same id, other provider: %v", err)
	}
	e.Status, e.OrgID, e.Data = store.WebhookSuperseded, "org-1", `{"a":1}`
	if err := s.UpdateWebhookEvent(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := s.WebhookEvent(ctx, "stripe", "evt_1")
	if err != nil || got.Status != store.WebhookSuperseded || got.OrgID != "org-1" || got.Data != `{"a":1}` ||
		!got.OccurredAt.Equal(e.OccurredAt) || got.Subject != "cus_1" {
		t.Fatalf("WebhookEvent = %+v, %v", got, err)
	}
	if err := s.UpdateWebhookEvent(ctx, stripeEvent("evt_nope", epoch)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update unclaimed: err = %v, want ErrNotFound", err)
	}
	if _, err := s.WebhookEvent(ctx, "stripe", "evt_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unknown event: err = %v, want ErrNotFound", err)
	}
	if err := s.ClaimWebhookEvent(ctx, stripeEvent("evt_0", epoch.Add(-time.Hour))); err != nil {
		t.Fatal(err)
	}
	list, err := s.ListWebhookEvents(ctx, "stripe", 10)
	if err != nil || len(list) != 2 || list[0].ID != "evt_0" || list[1].ID != "evt_1" || list[0].Data != "{}" {
		t.Fatalf("ListWebhookEvents = %+v, %v; want evt_0, evt_1", list, err)
	}
}

// 50 transactions claim one event id at once: exactly one claim commits.
//
// Controls: HOOK-2
func testWebhookClaimRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	errs := race(50, func(int) error {
		return s.Tx(ctx, func(tx store.Store) error {
			return tx.ClaimWebhookEvent(ctx, stripeEvent("evt_race", epoch))
		})
	})
	exactlyOne(t, errs, store.ErrUsed)
}

// A claim rolled back with its transaction leaves the event claimable.
//
// Controls: HOOK-2
func testWebhookClaimRollback(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	boom := errors.New("effect failed")
	err := s.Tx(ctx, func(tx store.Store) error {
		if err := tx.ClaimWebhookEvent(ctx, stripeEvent("evt_rb", epoch)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Tx = %v, want boom", err)
	}
	if err := s.ClaimWebhookEvent(ctx, stripeEvent("evt_rb", epoch)); err != nil {
		t.Fatalf("claim after rollback: %v", err)
	}
}

func testBillingAccounts(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	var a store.BillingAccount
	err := s.Tx(ctx, func(tx store.Store) error {
		var err error
		a, err = tx.LockBillingAccount(ctx, "cus_1", epoch)
		return err
	})
	if err != nil || a.CustomerID != "cus_1" || a.OrgID != "" || !a.CreatedAt.Equal(epoch) || !a.SubscriptionVersion.IsZero() {
		t.Fatalf("new account = %+v, %v", a, err)
	}
	a.OrgID, a.SubscriptionID, a.PriceID, a.ProductID, a.Status = "org-1", "sub_1", "price_1", "prod_1", "active"
	a.CurrentPeriodEnd, a.CancelAtPeriodEnd = epoch.Add(30*24*time.Hour), true
	a.SubscriptionVersion = store.EventVersion{At: epoch, Rank: store.RankDeleted, EventID: "evt_2"}
	a.CardBrand, a.CardLast4, a.CardVersion = "visa", "4242", store.EventVersion{At: epoch, Rank: store.RankCreated, EventID: "evt_3"}
	a.InvoiceID, a.InvoiceStatus = "in_1", "paid"
	a.InvoiceVersion = store.EventVersion{At: epoch.Add(time.Second), EventID: "evt_4"}
	a.UpdatedAt = epoch.Add(time.Minute)
	if err := s.SaveBillingAccount(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.BillingAccountByOrg(ctx, "org-1")
	if err != nil || !sameAccount(got, a) {
		t.Fatalf("BillingAccountByOrg = %+v, %v\nwant %+v", got, err, a)
	}
	if again, err := s.BillingAccount(ctx, "cus_1"); err != nil || !sameAccount(again, a) {
		t.Fatalf("BillingAccount = %+v, %v", again, err)
	}
	if _, err := s.LockBillingAccount(ctx, "cus_1", epoch.Add(time.Hour)); err != nil {
		t.Fatalf("relock: %v", err)
	}
	if got, _ := s.BillingAccount(ctx, "cus_1"); !sameAccount(got, a) {
		t.Fatalf("locking an existing account changed it: %+v", got)
	}
	if _, err := s.LockBillingAccount(ctx, "cus_2", epoch); err != nil {
		t.Fatal(err)
	}
	taken := store.BillingAccount{CustomerID: "cus_2", OrgID: "org-1", UpdatedAt: epoch}
	if err := s.SaveBillingAccount(ctx, taken); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("second customer for one org: err = %v, want ErrConflict", err)
	}
	if err := s.SaveBillingAccount(ctx, store.BillingAccount{CustomerID: "cus_none"}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("save unknown account: err = %v, want ErrNotFound", err)
	}
	for _, org := range []string{"org-2", ""} {
		if _, err := s.BillingAccountByOrg(ctx, org); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("BillingAccountByOrg(%q): err = %v, want ErrNotFound", org, err)
		}
	}
}

// sameAccount compares accounts field by field with time.Equal.
func sameAccount(a, b store.BillingAccount) bool {
	times := func(x store.BillingAccount) []time.Time {
		return []time.Time{x.CurrentPeriodEnd, x.SubscriptionVersion.At, x.CardVersion.At, x.InvoiceVersion.At, x.UpdatedAt}
	}
	ta, tb := times(a), times(b)
	for i := range ta {
		if !ta[i].Equal(tb[i]) {
			return false
		}
	}
	strip := func(x store.BillingAccount) store.BillingAccount {
		x.CurrentPeriodEnd, x.SubscriptionVersion.At, x.CardVersion.At, x.InvoiceVersion.At = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		x.CreatedAt, x.UpdatedAt = time.Time{}, time.Time{}
		return x
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

func outboxMessage(id string, topic string, due time.Time) store.OutboxMessage {
	return store.OutboxMessage{ID: id, Topic: topic, Data: `{"id":"` + id + `"}`,
		Attributes: map[string]string{"provider": "stripe"}, CreatedAt: epoch, NextAttemptAt: due, Attempts: 1}
}

func testOutbox(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	const topic = "projects/p/topics/billing"
	for _, m := range []store.OutboxMessage{
		outboxMessage("m1", topic, epoch),
		outboxMessage("m2", topic, epoch.Add(time.Minute)),
		outboxMessage("dev", "", epoch),
	} {
		if err := s.EnqueueOutbox(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.EnqueueOutbox(ctx, outboxMessage("m1", topic, epoch)); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate id: err = %v, want ErrConflict", err)
	}
	due, err := s.DueOutbox(ctx, epoch, 10)
	if err != nil || len(due) != 1 || due[0].ID != "m1" || due[0].Attributes["provider"] != "stripe" || due[0].Data != `{"id":"m1"}` {
		t.Fatalf("DueOutbox(epoch) = %+v, %v; want m1 only (m2 not due, dev has no topic)", due, err)
	}
	m, err := s.LeaseOutbox(ctx, "m1", epoch, epoch.Add(time.Minute))
	if err != nil || m.Attempts != 2 || !m.NextAttemptAt.Equal(epoch.Add(time.Minute)) {
		t.Fatalf("LeaseOutbox = %+v, %v", m, err)
	}
	for _, tc := range []struct {
		name string
		id   string
		want error
	}{
		{"leased", "m1", store.ErrUsed},
		{"not due", "m2", store.ErrUsed},
		{"unknown", "nope", store.ErrNotFound},
	} {
		if _, err := s.LeaseOutbox(ctx, tc.id, epoch, epoch.Add(time.Minute)); !errors.Is(err, tc.want) {
			t.Fatalf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := s.MarkOutboxPublished(ctx, "m1", epoch.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkOutboxPublished(ctx, "nope", epoch); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("mark unknown: err = %v, want ErrNotFound", err)
	}
	if due, _ := s.DueOutbox(ctx, epoch.Add(time.Hour), 10); len(due) != 1 || due[0].ID != "m2" {
		t.Fatalf("DueOutbox later = %+v; want m2 only", due)
	}
	if _, err := s.LeaseOutbox(ctx, "m1", epoch.Add(time.Hour), epoch.Add(2*time.Hour)); !errors.Is(err, store.ErrUsed) {
		t.Fatalf("lease published: err = %v, want ErrUsed", err)
	}
	n, err := s.PurgeOutbox(ctx, epoch.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("PurgeOutbox = %d, %v; want 1 (m1)", n, err)
	}
	if _, err := s.OutboxMessage(ctx, "dev"); err != nil {
		t.Fatalf("unpublished message purged: %v", err)
	}
}

// 50 sweepers lease one due message at once: exactly one gets it.
func testOutboxLeaseRace(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if err := s.EnqueueOutbox(ctx, outboxMessage("race", "projects/p/topics/t", epoch)); err != nil {
		t.Fatal(err)
	}
	errs := race(50, func(int) error {
		_, err := s.LeaseOutbox(ctx, "race", epoch, epoch.Add(time.Minute))
		return err
	})
	exactlyOne(t, errs, store.ErrUsed)
}
