package audit_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
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
