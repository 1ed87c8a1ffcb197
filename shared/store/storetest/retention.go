package storetest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Audit retention runs against the database's own clock, which refuses to
// delete anything less than 12 months old: these events are dated years
// back so the rules, not the clock, decide.
var longAgo = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func appendAt(t *testing.T, s store.Store, at time.Time, action string) store.AuditEvent {
	t.Helper()
	e, err := s.AppendAuditEvent(context.Background(), store.AuditEvent{Time: at, Actor: "system", Action: action, Outcome: store.OutcomeSuccess})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// Controls: AUDIT-3, AUDIT-1
func testAuditRetention(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	var evs []store.AuditEvent
	for i := range 3 {
		evs = append(evs, appendAt(t, s, longAgo.Add(time.Duration(i)*time.Hour), "old"))
	}
	evs = append(evs, appendAt(t, s, time.Now().Add(-time.Hour), "recent"))     // 4
	evs = append(evs, appendAt(t, s, longAgo.Add(5*time.Hour), "skewed clock")) // 5: old, but after a recent one
	cutoff := longAgo.AddDate(1, 0, 0)
	if _, _, err := s.AuditRetentionPoint(ctx, cutoff, 1000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retention point before integration: err = %v, want ErrNotFound (only integrated events expire)", err)
	}
	integrate(t, s, 5)

	seq, hash, err := s.AuditRetentionPoint(ctx, cutoff, 1000)
	if err != nil || seq != 3 || hash != evs[2].LeafHash {
		t.Fatalf("AuditRetentionPoint = %d, %v; want event 3 (the last of the old prefix)", seq, err)
	}
	if seq, _, err := s.AuditRetentionPoint(ctx, cutoff, 2); err != nil || seq != 2 {
		t.Fatalf("AuditRetentionPoint with limit 2 = %d, %v; want 2", seq, err)
	}
	if _, _, err := s.AuditRetentionPoint(ctx, longAgo, 1000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("nothing older than the first event: err = %v, want ErrNotFound", err)
	}
	at := longAgo.AddDate(2, 0, 0)
	for _, tc := range []struct {
		name string
		r    store.AuditRetention
	}{
		{"cutoff less than 12 months ago", store.AuditRetention{Cutoff: time.Now().AddDate(0, -11, 0), Seq: 3, Hash: evs[2].LeafHash, At: at, Signature: []byte("s")}},
		{"hash of another event", store.AuditRetention{Cutoff: cutoff, Seq: 3, Hash: evs[1].LeafHash, At: at, Signature: []byte("s")}},
		{"no such event", store.AuditRetention{Cutoff: cutoff, Seq: 9, Hash: evs[2].LeafHash, At: at, Signature: []byte("s")}},
		{"prefix holds a recent event", store.AuditRetention{Cutoff: cutoff, Seq: 5, Hash: evs[4].LeafHash, At: at, Signature: []byte("s")}},
	} {
		if _, err := s.ApplyAuditRetention(ctx, tc.r); err == nil || !strings.Contains(err.Error(), "audit retention refused") {
			t.Fatalf("%s: err = %v, want the database's refusal", tc.name, err)
		}
	}
	if got, _ := s.AuditEvents(ctx, 0, 10); len(got) != 5 {
		t.Fatalf("refused retentions deleted events: %d left", len(got))
	}
	n, err := s.ApplyAuditRetention(ctx, store.AuditRetention{Cutoff: cutoff, Seq: 3, Hash: evs[2].LeafHash, At: at, Signature: []byte("sig")})
	if err != nil || n != 3 {
		t.Fatalf("ApplyAuditRetention = %d, %v; want 3 deleted", n, err)
	}
	left, err := s.AuditEvents(ctx, 0, 10)
	if err != nil || len(left) != 2 || left[0].Seq != 4 {
		t.Fatalf("events left = %d, %v; want events 4 and 5", len(left), err)
	}
	// The tree keeps every leaf: proofs of later events still work.
	if leaves, err := s.AuditLeaves(ctx, 0, 10); err != nil || len(leaves) != 5 || leaves[2].Hash != evs[2].LeafHash {
		t.Fatalf("leaves after retention = %v, %v; want all 5", leaves, err)
	}
	cp, err := s.SignedAuditCheckpoint(ctx)
	if err != nil || cp.Seq != 3 || cp.Hash != evs[2].LeafHash || !cp.Time.Equal(at) || string(cp.Signature) != "sig" {
		t.Fatalf("checkpoint = %+v, %v", cp, err)
	}
	if plain, err := s.AuditCheckpoint(ctx); err != nil || plain.Seq != 3 || plain.Hash != evs[2].LeafHash {
		t.Fatalf("AuditCheckpoint = %+v, %v", plain, err)
	}
	// Appends continue, with a new id, and integrate after the rest.
	if e := appendAt(t, s, time.Now(), "after"); e.ID <= evs[4].ID {
		t.Fatalf("append after retention got id %d, not after %d", e.ID, evs[4].ID)
	}
	if size := integrate(t, s, 6); size != 6 {
		t.Fatalf("tree size after retention and one append = %d, want 6", size)
	}
	if _, _, err := s.AuditRetentionPoint(ctx, cutoff, 1000); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retention point after retention: err = %v, want ErrNotFound", err)
	}
}

func testAuditRetentionEmpty(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	if cp, err := s.SignedAuditCheckpoint(ctx); err != nil || cp.Seq != 0 || cp.Signature != nil {
		t.Fatalf("checkpoint of a fresh log = %+v, %v", cp, err)
	}
	if _, _, err := s.AuditRetentionPoint(ctx, time.Now(), 10); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("retention point of an empty log: err = %v, want ErrNotFound", err)
	}
}

// Billing records (webhook events) are deleted after 7 years by age of
// receipt.
//
// Controls: AUDIT-3
func testPurgeWebhookEvents(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for i, at := range []time.Time{epoch.AddDate(-8, 0, 0), epoch.AddDate(-6, 0, 0)} {
		if err := s.ClaimWebhookEvent(ctx, store.WebhookEvent{Provider: "stripe", ID: string(rune('a' + i)), Type: "invoice.paid",
			OccurredAt: at, ReceivedAt: at, Status: store.WebhookApplied, Data: "{}"}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PurgeWebhookEventsBefore(ctx, epoch.AddDate(-7, 0, 0))
	if err != nil || n != 1 {
		t.Fatalf("PurgeWebhookEventsBefore = %d, %v; want 1", n, err)
	}
	if _, err := s.WebhookEvent(ctx, "stripe", "a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("8-year-old event: err = %v, want ErrNotFound", err)
	}
	if _, err := s.WebhookEvent(ctx, "stripe", "b"); err != nil {
		t.Fatalf("6-year-old event: %v", err)
	}
}

// Billing accounts no event has changed for 7 years are deleted; recent
// ones stay.
//
// Controls: AUDIT-3
func testPurgeBillingAccounts(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for _, c := range []struct {
		id  string
		age int
	}{{"cus_old", 8}, {"cus_recent", 6}} {
		at := epoch.AddDate(-c.age, 0, 0)
		a, err := s.LockBillingAccount(ctx, c.id, at)
		if err != nil {
			t.Fatal(err)
		}
		a.UpdatedAt = at
		if err := s.SaveBillingAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PurgeBillingAccountsBefore(ctx, epoch.AddDate(-7, 0, 0))
	if err != nil || n != 1 {
		t.Fatalf("PurgeBillingAccountsBefore = %d, %v; want 1", n, err)
	}
	if _, err := s.BillingAccount(ctx, "cus_old"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("8-year-old account: err = %v, want ErrNotFound", err)
	}
	if _, err := s.BillingAccount(ctx, "cus_recent"); err != nil {
		t.Fatalf("6-year-old account: %v", err)
	}
}
