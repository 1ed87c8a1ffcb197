package audit_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap/bootstraptest"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlstore"
)

// contentionWriters are the numbers of concurrent writers the contention
// benchmark measures.
var contentionWriters = []int{1, 4, 16, 64}

// BenchmarkAuditContention measures audited transactions per second at 1,
// 4, 16 and 64 concurrent writers on a PostgreSQL server with fsync and
// synchronous_commit on, against the same transaction with a plain insert
// in place of the audit append, in the same run. Each transaction is one
// business write (a row of its own) plus its audit event, as a sign-in is.
// Reported: audited-tx/s, plain-tx/s and their ratio (target at 64 writers:
// ratio >= 0.8, AUDIT-5).
func BenchmarkAuditContention(b *testing.B) {
	db := pgtest.NewOn(b, pgtest.DurableURL(b), 2*contentionWriters[len(contentionWriters)-1])
	ctx := context.Background()
	if _, err := db.Owner.Exec(ctx, `
		CREATE TABLE bench_business (id BIGSERIAL PRIMARY KEY, writer INT NOT NULL, at TIMESTAMPTZ NOT NULL);
		CREATE TABLE bench_plain (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ NOT NULL, actor TEXT NOT NULL,
			org_id TEXT NOT NULL, action TEXT NOT NULL, target TEXT NOT NULL, outcome TEXT NOT NULL,
			network TEXT NOT NULL, metadata TEXT NOT NULL);
		GRANT SELECT, INSERT ON bench_business, bench_plain TO `+pgtest.AppRole+`;
		GRANT USAGE ON SEQUENCE bench_business_id_seq, bench_plain_id_seq TO `+pgtest.AppRole); err != nil {
		b.Fatal(err)
	}
	log := audit.New(db.Store, nil, nil)
	event := func(w int) audit.Event {
		return audit.Event{Actor: fmt.Sprintf("user-%d", w), OrgID: fmt.Sprintf("org-%d", w), Action: "auth.login",
			Outcome: store.OutcomeSuccess, Network: "198.51.100.0/24", Metadata: map[string]any{"method": "password"}}
	}
	business := func(tx store.Store, w int) error {
		_, err := tx.(interface{ Conn() sqlstore.Conn }).Conn().Exec(ctx,
			`INSERT INTO bench_business (writer, at) VALUES ($1, now())`, w)
		return err
	}
	audited := func(w int) error {
		return db.Store.Tx(ctx, func(tx store.Store) error {
			if err := business(tx, w); err != nil {
				return err
			}
			_, err := log.RecordTx(ctx, tx, event(w))
			return err
		})
	}
	plain := func(w int) error {
		return db.Store.Tx(ctx, func(tx store.Store) error {
			if err := business(tx, w); err != nil {
				return err
			}
			e := event(w)
			_, err := tx.(interface{ Conn() sqlstore.Conn }).Conn().Exec(ctx, `INSERT INTO bench_plain
				(at, actor, org_id, action, target, outcome, network, metadata) VALUES (now(), $1, $2, $3, $4, $5, $6, $7)`,
				e.Actor, e.OrgID, e.Action, e.Target, string(e.Outcome), e.Network, `{"method":"password"}`)
			return err
		})
	}
	for _, writers := range contentionWriters {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			// Open every connection first, then b.N transactions of each
			// kind, alternating halves so drift (autovacuum, checkpoints)
			// hits both alike.
			b.StopTimer()
			runWriters(b, writers, writers, plain)
			runWriters(b, writers, writers, audited)
			b.StartTimer()
			var plainTime, auditedTime time.Duration
			half := max(b.N/2, writers)
			for range 2 {
				plainTime += runWriters(b, writers, half, plain)
				auditedTime += runWriters(b, writers, half, audited)
			}
			n := float64(2 * half)
			plainRate := n / plainTime.Seconds()
			auditedRate := n / auditedTime.Seconds()
			b.ReportMetric(auditedRate, "audited-tx/s")
			b.ReportMetric(plainRate, "plain-tx/s")
			b.ReportMetric(auditedRate/plainRate, "ratio")
		})
	}
}

// runWriters runs n calls of tx spread over writers goroutines and returns
// the wall time they took.
func runWriters(b *testing.B, writers, n int, tx func(w int) error) time.Duration {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				if err := tx(w); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	return elapsed
}

// BenchmarkSequencer measures, on the durable PostgreSQL server, how many
// events per second one sequencer integrates from a backlog (b.N events
// appended by 16 writers, then integrated in batches, each batch one
// transaction with its signed checkpoint), and the integration latency of
// events written by 16 writers while the sequencer runs as it does in a
// function (Run, woken by each event): p50 and p99 from commit to the
// leaf's commit, over at least 2 s.
func BenchmarkSequencer(b *testing.B) {
	db := pgtest.NewOn(b, pgtest.DurableURL(b), 40)
	ctx := context.Background()
	env := bootstraptest.New(b, db.Store)
	record := func(w int) error {
		_, err := env.Audit.Record(ctx, audit.Event{Actor: fmt.Sprintf("user-%d", w), OrgID: "org-1",
			Action: "auth.login", Network: "198.51.100.0/24", Metadata: map[string]any{"method": "password"}})
		return err
	}
	b.Run("backlog", func(b *testing.B) {
		b.StopTimer()
		runWriters(b, 16, max(b.N, 16), record)
		b.StartTimer()
		start := time.Now()
		bootstraptest.IntegrateAudit(b, db.Store, env.Sequencer)
		b.ReportMetric(float64(max(b.N, 16))/time.Since(start).Seconds(), "events/s")
	})
	b.Run("latency", func(b *testing.B) {
		lat := integrationLatency(b, db.Store, env, record, max(2*time.Second, time.Duration(b.N)*time.Millisecond))
		b.ReportMetric(float64(lat.p50.Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(lat.p99.Microseconds())/1000, "p99-ms")
		b.ReportMetric(float64(lat.n)/lat.elapsed.Seconds(), "written/s")
	})
}

type latencies struct {
	p50, p99 time.Duration
	n        int
	elapsed  time.Duration
}

// integrationLatency runs 16 writers for d with the sequencer's Run loop
// beside them and returns the time from each event's commit to when a
// poller (every 10 ms) first sees its leaf.
func integrationLatency(b *testing.B, s store.Store, env *bootstraptest.Env, record func(int) error, d time.Duration) latencies {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	committed := map[int64]time.Time{}
	var wg sync.WaitGroup
	wg.Go(func() { env.Sequencer.Run(ctx) })
	start := time.Now()
	for w := range 16 {
		wg.Go(func() {
			for time.Since(start) < d {
				e, err := env.Audit.Record(ctx, audit.Event{Actor: fmt.Sprintf("user-%d", w), OrgID: "org-1", Action: "auth.login"})
				if err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				committed[e.ID] = time.Now()
				mu.Unlock()
			}
		})
	}
	seenAt := map[int64]time.Time{}
	head, err := s.AuditTreeHead(ctx)
	if err != nil {
		b.Fatal(err)
	}
	seen := head.Size
	for {
		leaves, err := s.AuditLeaves(ctx, seen, 10000)
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now()
		for _, l := range leaves {
			seenAt[l.EventID], seen = now, l.Seq
		}
		mu.Lock()
		missing := 0
		for id := range committed {
			if _, ok := seenAt[id]; !ok {
				missing++
			}
		}
		mu.Unlock()
		if time.Since(start) > d && missing == 0 {
			break
		}
		if time.Since(start) > d+30*time.Second {
			b.Fatalf("%d events not integrated 30 s after the writers stopped", missing)
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	var lats []time.Duration
	for id, at := range committed {
		lats = append(lats, max(seenAt[id].Sub(at), 0)) // seen before its writer noted the commit: 0
	}
	slices.Sort(lats)
	return latencies{p50: lats[len(lats)/2], p99: lats[len(lats)*99/100], n: len(lats), elapsed: d}
}
