package storetest

import (
	"context"
	"fmt"
	"slices"
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

// A user's events: those they performed and those naming them as target,
// in order, paged, and nobody else's.
//
// Controls: AUDIT-1
func testUserAuditEvents(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	for i, e := range []struct{ actor, target string }{
		{"u1", "u1"},          // 1: u1's own sign-in
		{"admin", "user:u1"},  // 2: about u1
		{"admin", "user:u2"},  // 3: about someone else
		{"u2", "u2"},          // 4: someone else's
		{"u1", "org:o1"},      // 5: by u1
		{"admin", "user:u10"}, // 6: a prefix of u1 is not u1
	} {
		if _, err := s.AppendAuditEvent(ctx, store.AuditEvent{Time: epoch.Add(time.Duration(i) * time.Second),
			Actor: e.actor, Action: "test.event", Target: e.target, Outcome: store.OutcomeSuccess}); err != nil {
			t.Fatal(err)
		}
	}
	seqs := func(evs []store.AuditEvent, err error) []int64 {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []int64
		for _, e := range evs {
			out = append(out, e.Seq)
		}
		return out
	}
	if got := seqs(s.UserAuditEvents(ctx, "u1", 0, 10)); !slices.Equal(got, []int64{1, 2, 5}) {
		t.Fatalf("UserAuditEvents(u1) = %v, want [1 2 5]", got)
	}
	if got := seqs(s.UserAuditEvents(ctx, "u1", 1, 1)); !slices.Equal(got, []int64{2}) {
		t.Fatalf("UserAuditEvents(u1, after 1, limit 1) = %v, want [2]", got)
	}
	if got := seqs(s.ActorAuditEvents(ctx, "u1", 0, 10)); !slices.Equal(got, []int64{1, 5}) {
		t.Fatalf("ActorAuditEvents(u1) = %v, want [1 5]", got)
	}
}
