package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/auditproof"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
)

// Every event proves its inclusion in every checkpoint that holds it, and
// every checkpoint proves it extends every older one, offline, with the
// public key alone (the bundles go through JSON as they would to a
// customer). A changed event, a proof against another log's key and a
// rewritten checkpoint fail.
//
// Controls: AUDIT-5
func TestProofsVerifyOffline(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s, _ := b.open(t)
			ctx := context.Background()
			env := bootstraptest.New(t, s)
			var sizes []int64
			for i, n := range []int{1, 2, 5, 8, 1} { // checkpoints at 1, 3, 8, 16, 17
				fill(t, env.Audit, i*100, n)
				env.IntegrateAudit(t)
				h, err := s.AuditTreeHead(ctx)
				if err != nil {
					t.Fatal(err)
				}
				sizes = append(sizes, h.Size)
			}
			pub, err := env.Sequencer.Signer().PublicKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			p := audit.NewProver(s)
			for _, size := range sizes {
				for seq := int64(1); seq <= size; seq++ {
					bundle, err := p.Inclusion(ctx, eventAt(t, s, seq), size)
					if err != nil {
						t.Fatal(err)
					}
					offline := roundTrip[auditproof.InclusionBundle](t, bundle)
					if cp, err := offline.Verify(pub); err != nil || int64(cp.Size) != size {
						t.Fatalf("inclusion of %d in %d: %+v, %v", seq, size, cp, err)
					}
				}
				for _, older := range sizes {
					if older > size {
						continue
					}
					bundle, err := p.Consistency(ctx, older, size)
					if err != nil {
						t.Fatal(err)
					}
					if _, _, err := roundTrip[auditproof.ConsistencyBundle](t, bundle).Verify(pub); err != nil {
						t.Fatalf("consistency %d -> %d: %v", older, size, err)
					}
				}
			}
			// What must fail.
			good, err := p.Inclusion(ctx, eventAt(t, s, 5), 0)
			if err != nil {
				t.Fatal(err)
			}
			changed := good
			changed.Event.Actor = "someone-else"
			if _, err := changed.Verify(pub); !errors.Is(err, auditproof.ErrProof) {
				t.Fatalf("changed event: err = %v, want ErrProof", err)
			}
			moved := good
			moved.Event.Seq = 6
			if _, err := moved.Verify(pub); !errors.Is(err, auditproof.ErrProof) {
				t.Fatalf("event claimed at another place: err = %v, want ErrProof", err)
			}
			other := bootstraptest.New(t, bootstraptest.SQLite(t))
			otherPub, err := other.Sequencer.Signer().PublicKey(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := good.Verify(otherPub); !errors.Is(err, auditproof.ErrProof) {
				t.Fatalf("another log's key: err = %v, want ErrProof", err)
			}
			rewritten := good
			rewritten.Checkpoint = strings.Replace(good.Checkpoint, "\n17\n", "\n18\n", 1)
			if _, err := rewritten.Verify(pub); !errors.Is(err, auditproof.ErrProof) {
				t.Fatalf("rewritten checkpoint: err = %v, want ErrProof", err)
			}
			backwards, err := p.Consistency(ctx, 3, 16)
			if err != nil {
				t.Fatal(err)
			}
			backwards.Older, backwards.Newer = backwards.Newer, backwards.Older
			if _, _, err := backwards.Verify(pub); !errors.Is(err, auditproof.ErrProof) {
				t.Fatalf("consistency backwards: err = %v, want ErrProof", err)
			}
			if _, err := p.Inclusion(ctx, eventAt(t, s, 9), 8); !errors.Is(err, audit.ErrNoProof) {
				t.Fatalf("event 9 in checkpoint 8: err = %v, want ErrNoProof", err)
			}
		})
	}
}

func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Verify reads the newest checkpoint first and verifies up to it, so it
// never raises a false alarm while appends and integration go on: 200
// verifications against 8 writers and a running sequencer, while the
// checkpoint moves.
//
// Controls: AUDIT-1, AUDIT-5
func TestVerifyUnderConcurrentAppends(t *testing.T) {
	s := pgtest.New(t).Store
	env := bootstraptest.New(t, s)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var written atomic.Int64
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				err := s.Tx(ctx, func(tx store.Store) error {
					_, err := env.Audit.RecordTx(ctx, tx, audit.Event{Actor: fmt.Sprint("writer-", w), OrgID: "org-1",
						Action: "test.step", Target: fmt.Sprint(i)})
					return err
				})
				if err != nil && ctx.Err() == nil {
					t.Error(err)
					return
				}
				written.Add(1)
				// Paced, so the log verified 200 times stays a few
				// thousand events long.
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	wg.Go(func() { env.Sequencer.Run(ctx) })
	sizes := map[int64]bool{}
	var last audit.Report
	for i := 0; i < 200 || len(sizes) < 5; i++ {
		if ctx.Err() != nil {
			t.Fatalf("after %d verifications the checkpoint took only %d sizes", i, len(sizes))
		}
		r, err := audit.Verify(context.Background(), s)
		if err != nil {
			t.Fatalf("verification %d raised an alarm under concurrent appends: %v", i, err)
		}
		if r.Size < last.Size {
			t.Fatalf("checkpoint went back from %d to %d", last.Size, r.Size)
		}
		if r.Size > 0 {
			sizes[r.Size] = true
		}
		last = r
	}
	t.Logf("verified %d distinct checkpoints, up to %d, while %d events were written", len(sizes), last.Size, written.Load())
}

// An event whose transaction takes its id first but commits after a
// later-numbered event is integrated, not skipped: the sequencer reads
// only events of transactions older than every running one, in (xid, id)
// order.
//
// Controls: AUDIT-5
func TestSequencerWaitsForEarlierTransactions(t *testing.T) {
	s := pgtest.New(t).Store
	env := bootstraptest.New(t, s)
	ctx := context.Background()
	holding, release := make(chan int64), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.Tx(ctx, func(tx store.Store) error {
			e, err := env.Audit.RecordTx(ctx, tx, audit.Event{Actor: "slow", Action: "test.slow"})
			if err != nil {
				return err
			}
			holding <- e.ID
			<-release
			return nil
		})
	}()
	slowID := <-holding
	fast, err := env.Audit.Record(ctx, audit.Event{Actor: "fast", Action: "test.fast"})
	if err != nil {
		t.Fatal(err)
	}
	if fast.ID <= slowID {
		t.Fatalf("ids: slow %d, fast %d; the test needs the slow one first", slowID, fast.ID)
	}
	// The later-numbered event is committed, but an older transaction is
	// still running: nothing may be integrated past it.
	if n, err := env.Sequencer.Integrate(ctx); err != nil || n != 0 {
		t.Fatalf("Integrate while an older transaction runs = %d, %v; want 0", n, err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	env.IntegrateAudit(t)
	leaves, err := s.AuditLeaves(ctx, 0, 10)
	if err != nil || len(leaves) != 2 {
		t.Fatalf("leaves = %v, %v; want both events", leaves, err)
	}
	if leaves[0].EventID != slowID || leaves[1].EventID != fast.ID {
		t.Fatalf("integrated order %d, %d; want the older transaction's event first", leaves[0].EventID, leaves[1].EventID)
	}
	if _, err := audit.Verify(ctx, s); err != nil {
		t.Fatal(err)
	}
}

// crashingStore fails the batch write after everything before it ran:
// the sequencer dies between signing and committing.
type crashingStore struct {
	store.Store
	crashes *atomic.Int64
}

func (c crashingStore) Tx(ctx context.Context, fn func(store.Store) error) error {
	return c.Store.Tx(ctx, func(tx store.Store) error { return fn(crashingStore{tx, c.crashes}) })
}

func (c crashingStore) AppendAuditBatch(ctx context.Context, b store.AuditBatch) error {
	if err := c.Store.AppendAuditBatch(ctx, b); err != nil {
		return err
	}
	if c.crashes.Add(-1) >= 0 {
		return errors.New("crash after writing the batch, before commit")
	}
	return nil
}

// A sequencer that dies at any point of a batch leaves nothing behind;
// the next run integrates every event exactly once. Sequencers racing
// without the lease cannot both commit a batch for the same place.
//
// Controls: AUDIT-5
func TestSequencerRestartsWithoutLossOrDuplication(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			s, _ := b.open(t)
			ctx := context.Background()
			env := bootstraptest.New(t, s)
			fill(t, env.Audit, 0, 25)
			crashes := &atomic.Int64{}
			crashes.Store(2)
			crashing := audit.NewSequencer(crashingStore{s, crashes}, env.Sequencer.Signer(), nil, env.Now)
			for range 2 {
				if _, err := crashing.Integrate(ctx); err == nil {
					t.Fatal("crashing sequencer reported success")
				}
			}
			if h, _ := s.AuditTreeHead(ctx); h.Size != 0 {
				t.Fatalf("a crashed batch left checkpoint %d", h.Size)
			}
			// Racing sequencers, each with its own holder, none with the
			// lease: batches for the same place conflict, none duplicates.
			var wg sync.WaitGroup
			for range 4 {
				q := audit.NewSequencer(s, env.Sequencer.Signer(), nil, env.Now)
				wg.Go(func() {
					for range 5 {
						q.IntegrateBatch(ctx)
					}
				})
			}
			wg.Wait()
			fill(t, env.Audit, 25, 5)
			env.IntegrateAudit(t)
			leaves, err := s.AuditLeaves(ctx, 0, 100)
			if err != nil || len(leaves) != 30 {
				t.Fatalf("%d leaves, %v; want 30", len(leaves), err)
			}
			seen := map[int64]bool{}
			for _, l := range leaves {
				if seen[l.EventID] {
					t.Fatalf("event %d integrated twice", l.EventID)
				}
				seen[l.EventID] = true
			}
			if r, err := audit.Verify(ctx, s); err != nil || r.Events != 30 {
				t.Fatalf("Verify = %+v, %v", r, err)
			}
		})
	}
}

// Each batch that grows the tree writes its signed checkpoint as a log
// line the log sink exports to the locked bucket: "log_type":"audit" (the
// sink's filter, terraform/modules/observability) and the note verifies.
//
// Controls: AUDIT-5, AUDIT-3
func TestCheckpointLogLine(t *testing.T) {
	env := bootstraptest.New(t, bootstraptest.SQLite(t))
	fill(t, env.Audit, 0, 3)
	env.IntegrateAudit(t)
	pub, err := env.Sequencer.Signer().PublicKey(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, line := range env.Logs.Lines() {
		if line["action"] != "audit.checkpoint" {
			continue
		}
		found = true
		if line["log_type"] != "audit" || line["checkpoint_size"] != float64(3) {
			t.Fatalf("checkpoint line %v: want log_type audit and size 3", line)
		}
		cp, err := auditproof.OpenCheckpoint([]byte(line["checkpoint"].(string)), pub)
		if err != nil || cp.Size != 3 {
			t.Fatalf("exported checkpoint: %+v, %v", cp, err)
		}
	}
	if !found {
		t.Fatal("no checkpoint log line")
	}
}
