package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// integrate adds every final pending event to the tree the way the
// sequencer does (compact range, completed nodes, one checkpoint per batch)
// with a placeholder note: the store does not read notes. It returns the
// tree size once it is at least want. On PostgreSQL an event is final only
// once every transaction older than its own has ended, on a shared test
// server other tests' included, so it waits for that (up to 20 s).
func integrate(t *testing.T, s store.Store, want int64) int64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		size := integrateFinal(t, s)
		if size >= want || time.Now().After(deadline) {
			return size
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func integrateFinal(t *testing.T, s store.Store) int64 {
	t.Helper()
	ctx := context.Background()
	f := &compact.RangeFactory{Hash: auditproof.HashChildren}
	for {
		head, err := s.AuditTreeHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		size := uint64(head.Size)
		var cur store.AuditCursor
		var hashes [][]byte
		if size > 0 {
			ids := compact.RangeNodes(0, size, nil)
			want := make([]store.AuditNodeID, len(ids))
			for i, id := range ids {
				want[i] = store.AuditNodeID{Level: id.Level, Index: id.Index}
			}
			got, err := s.AuditNodes(ctx, want)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range got {
				hashes = append(hashes, h[:])
			}
			last, err := s.AuditLeaves(ctx, head.Size-1, 1)
			if err != nil || len(last) != 1 {
				t.Fatalf("last leaf: %v, %v", last, err)
			}
			cur = store.AuditCursor{XID: last[0].XID, ID: last[0].EventID}
		}
		rng, err := f.NewRange(0, size, hashes)
		if err != nil {
			t.Fatal(err)
		}
		pending, err := s.PendingAuditEvents(ctx, cur, 7)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) == 0 {
			return head.Size
		}
		var b store.AuditBatch
		for _, e := range pending {
			b.Leaves = append(b.Leaves, store.AuditLeaf{Seq: int64(rng.End()) + 1, EventID: e.ID, XID: e.XID, OrgID: e.OrgID, Hash: e.LeafHash})
			rng.Append(e.LeafHash[:], func(id compact.NodeID, h []byte) {
				if id.Level > 0 {
					b.Nodes = append(b.Nodes, store.AuditNode{AuditNodeID: store.AuditNodeID{Level: id.Level, Index: id.Index}, Hash: [32]byte(h)})
				}
			})
		}
		root, _ := rng.GetRootHash(nil)
		b.Head = store.AuditTreeHead{Size: int64(rng.End()), Root: [32]byte(root), Note: fmt.Sprintf("test\n%d\n", rng.End()), Time: epoch}
		if err := s.AppendAuditBatch(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
}

// Controls: AUDIT-1, AUDIT-5
func testAuditLog(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	cp, err := s.AuditCheckpoint(ctx)
	if err != nil || cp.Seq != 0 {
		t.Fatalf("AuditCheckpoint on empty store = %+v, %v", cp, err)
	}
	if h, err := s.AuditTreeHead(ctx); err != nil || h.Size != 0 {
		t.Fatalf("AuditTreeHead on empty store = %+v, %v", h, err)
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
		if e.ID == 0 || e.Seq != 0 || e.LeafHash != e.ComputeLeafHash() || e.Version != 2 {
			t.Fatalf("appended event %d = %+v", i, e)
		}
		stored = append(stored, e)
	}
	got, err := s.AuditEvents(ctx, 0, 10)
	if err != nil || len(got) != 3 {
		t.Fatalf("AuditEvents = %d events, %v", len(got), err)
	}
	for i, e := range got {
		if e.ID != stored[i].ID || e.Seq != 0 || e.LeafHash != stored[i].LeafHash || e.ComputeLeafHash() != e.LeafHash {
			t.Fatalf("event %d read back as %+v", i, e)
		}
		if e.Metadata != "{}" {
			t.Fatalf("empty metadata stored as %q, want {}", e.Metadata)
		}
	}
	// Ordered readers see only integrated events.
	if orgA, err := s.OrgAuditEvents(ctx, "org-a", 0, 10); err != nil || len(orgA) != 0 {
		t.Fatalf("OrgAuditEvents before integration = %v, %v; want none", orgA, err)
	}
	if n := integrate(t, s, 3); n != 3 {
		t.Fatalf("integrated %d events, want 3", n)
	}
	if page, _ := s.AuditEvents(ctx, stored[1].ID, 10); len(page) != 1 || page[0].Seq != 3 {
		t.Fatalf("AuditEvents(after the second) = %v", page)
	}
	orgA, err := s.OrgAuditEvents(ctx, "org-a", 0, 10)
	if err != nil || len(orgA) != 2 || orgA[0].Seq != 3 || orgA[1].Seq != 1 {
		t.Fatalf("OrgAuditEvents(org-a) = %v, %v; want seq 3, 1", orgA, err)
	}
	if older, _ := s.OrgAuditEvents(ctx, "org-a", 3, 10); len(older) != 1 || older[0].Seq != 1 {
		t.Fatalf("OrgAuditEvents(org-a, before 3) = %v", older)
	}
	if e, err := s.AuditEventBySeq(ctx, 2); err != nil || e.ID != stored[1].ID || e.OrgID != "org-b" {
		t.Fatalf("AuditEventBySeq(2) = %+v, %v", e, err)
	}
	if _, err := s.AuditEventBySeq(ctx, 4); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AuditEventBySeq(4): err = %v, want ErrNotFound", err)
	}
	leaves, err := s.AuditLeaves(ctx, 0, 10)
	if err != nil || len(leaves) != 3 {
		t.Fatalf("AuditLeaves = %v, %v", leaves, err)
	}
	nodes, err := s.AuditNodes(ctx, []store.AuditNodeID{{Level: 1, Index: 0}, {Level: 0, Index: 2}})
	if err != nil || nodes[0] != [32]byte(auditproof.HashChildren(leaves[0].Hash[:], leaves[1].Hash[:])) || nodes[1] != leaves[2].Hash {
		t.Fatalf("AuditNodes = %x, %v", nodes, err)
	}
	if _, err := s.AuditNodes(ctx, []store.AuditNodeID{{Level: 1, Index: 1}}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AuditNodes of an incomplete subtree: err = %v, want ErrNotFound", err)
	}
	// One head per batch: under load (other tests' open transactions hold
	// back what a batch may integrate) the three events can take more than
	// one batch, so only the newest head must cover all three.
	all, err := s.AuditTreeHeads(ctx, 0, 10)
	if err != nil || len(all) == 0 || all[len(all)-1].Size != 3 {
		t.Fatalf("AuditTreeHeads = %v, %v", all, err)
	}
	heads := all[len(all)-1:]
	if h, err := s.AuditTreeHeadAt(ctx, 3); err != nil || h.Root != heads[0].Root {
		t.Fatalf("AuditTreeHeadAt(3) = %+v, %v", h, err)
	}
	// A second batch for a place already taken is refused whole.
	dup := store.AuditBatch{Leaves: []store.AuditLeaf{{Seq: 3, EventID: 999, Hash: leaves[0].Hash}},
		Head: store.AuditTreeHead{Size: 4, Root: heads[0].Root, Note: "x", Time: epoch}}
	if err := s.AppendAuditBatch(ctx, dup); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("duplicate leaf: err = %v, want ErrConflict", err)
	}
	if _, err := s.AuditTreeHeadAt(ctx, 4); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused batch left its checkpoint: %v", err)
	}
}

// Appends from many goroutines take no shared lock and all land; the
// integrated tree is gap-free and holds each event once.
//
// Controls: AUDIT-1, AUDIT-5
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
	if size := integrate(t, s, n); size != n {
		t.Fatalf("tree size %d, want %d", size, n)
	}
	leaves, err := s.AuditLeaves(ctx, 0, 2*n)
	if err != nil || len(leaves) != n {
		t.Fatalf("%d leaves, %v", len(leaves), err)
	}
	seen := map[int64]bool{}
	for i, l := range leaves {
		if l.Seq != int64(i+1) || seen[l.EventID] {
			t.Fatalf("leaf %d: seq %d, event %d seen before %v", i, l.Seq, l.EventID, seen[l.EventID])
		}
		seen[l.EventID] = true
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
	integrate(t, s, 6)
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
