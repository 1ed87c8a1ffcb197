package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Controls: AUDIT-1
func testAuditChain(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	cp, err := s.AuditCheckpoint(ctx)
	if err != nil || cp.Seq != 0 {
		t.Fatalf("AuditCheckpoint on empty store = %+v, %v", cp, err)
	}
	var stored []store.AuditEvent
	for i, org := range []string{"org-a", "org-b", "org-a"} {
		e, err := s.AppendAuditEvent(ctx, store.AuditEvent{
			Time: epoch.Add(time.Duration(i)*time.Second + 1234*time.Nanosecond), Actor: "user-1", OrgID: org,
			Action: "test.event", Target: fmt.Sprint(i), Outcome: store.OutcomeSuccess, Network: "192.0.2.0/24",
		})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		stored = append(stored, e)
	}
	got, err := s.AuditEvents(ctx, 0, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("AuditEvents = %d events, %v", len(got), err)
	}
	var prev [32]byte
	for i, e := range got {
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != e.Digest() || e.Hash != stored[i].Hash {
			t.Fatalf("event %d: seq %d, links %v, hash ok %v", i, e.Seq, e.PrevHash == prev, e.Hash == e.Digest())
		}
		if e.Metadata != "{}" {
			t.Fatalf("empty metadata stored as %q, want {}", e.Metadata)
		}
		prev = e.Hash
	}
	if page, _ := s.AuditEvents(ctx, 2, 10); len(page) != 1 || page[0].Seq != 3 {
		t.Fatalf("AuditEvents(after 2) = %v", page)
	}
	orgA, err := s.OrgAuditEvents(ctx, "org-a", 0, 10)
	if err != nil || len(orgA) != 2 || orgA[0].Seq != 3 || orgA[1].Seq != 1 {
		t.Fatalf("OrgAuditEvents(org-a) = %v, %v; want seq 3, 1", orgA, err)
	}
	if older, _ := s.OrgAuditEvents(ctx, "org-a", 3, 10); len(older) != 1 || older[0].Seq != 1 {
		t.Fatalf("OrgAuditEvents(org-a, before 3) = %v", older)
	}
}

// Controls: AUDIT-1
func testAuditConcurrentAppend(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	const n = 50
	errs := race(n, func(i int) error {
		_, err := s.AppendAuditEvent(ctx, store.AuditEvent{Time: epoch, Actor: "a", Action: "race",
			Target: fmt.Sprint(i), Outcome: store.OutcomeSuccess})
		return err
	})
	for i, err := range errs {
		if err != nil {
			t.Errorf("append %d: %v", i, err)
		}
	}
	got, err := s.AuditEvents(ctx, 0, 2*n)
	if err != nil || len(got) != n {
		t.Fatalf("%d events, %v; want %d", len(got), err, n)
	}
	var prev [32]byte
	for i, e := range got {
		if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != e.Digest() {
			t.Fatalf("chain forks or breaks at event %d (seq %d)", i, e.Seq)
		}
		prev = e.Hash
	}
}
