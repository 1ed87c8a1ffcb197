// Package bootstraptest builds [bootstrap.Deps] for tests: a real store
// (SQLite in a temporary directory or a PostgreSQL schema of its own), a
// real keyring over a local key file, a mailbox notifier, a log capture that
// fails the test when a planted secret is logged, and a clock the test moves.
package bootstraptest

import (
	"context"
	"crypto/rand"
	"errors"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/audit"
	"github.com/gatehouse-dev/gatehouse/shared/bootstrap"
	"github.com/gatehouse-dev/gatehouse/shared/config"
	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/filekek"
	"github.com/gatehouse-dev/gatehouse/shared/events"
	"github.com/gatehouse-dev/gatehouse/shared/logging/logtest"
	"github.com/gatehouse-dev/gatehouse/shared/notify"
	"github.com/gatehouse-dev/gatehouse/shared/ratelimit"
	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/postgres/pgtest"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
	"github.com/gatehouse-dev/gatehouse/shared/telemetry"
)

// Start is where every test clock starts.
var Start = time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)

// Clock is a test clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Env is a test's Deps plus the handles a test asserts on.
type Env struct {
	*bootstrap.Deps
	Clock   *Clock
	Logs    *logtest.Capture
	Mailbox *notify.Mailbox
}

// Backend opens a fresh store for one test.
type Backend struct {
	Name string
	Open func(t testing.TB) store.Store
}

// Backends are SQLite and PostgreSQL: flow tests run on both.
var Backends = []Backend{{"sqlite", SQLite}, {"postgres", Postgres}}

// SQLite opens a migrated SQLite store in t's temporary directory.
func SQLite(t testing.TB) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return db
}

// Postgres opens a migrated PostgreSQL schema of t's own (see pgtest).
func Postgres(t testing.TB) store.Store {
	t.Helper()
	return pgtest.New(t).Store
}

// EventsTopic is the events topic of the Deps New returns: flow tests see
// every event their changes emit in the outbox.
const EventsTopic = "projects/gatehouse-test/topics/events"

// New returns Deps on s, in the dev environment, with AllowedOrigins set
// to https://app.example.com and PublicURL https://gatehouse.example.com.
func New(t testing.TB, s store.Store) *Env {
	t.Helper()
	dir := t.TempDir()
	logger, logs := logtest.New(t)
	clock := &Clock{t: Start}
	kek, err := filekek.Load(filepath.Join(dir, "kek.key"), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ev := &events.Emitter{Topic: EventsTopic, Env: string(config.EnvDev), Now: clock.Now}
	kr, err := envelope.New(s, kek, envelope.Options{Now: clock.Now, Events: ev})
	if err != nil {
		t.Fatal(err)
	}
	mb, err := notify.NewMailbox(dir)
	if err != nil {
		t.Fatal(err)
	}
	public, _ := url.Parse("https://gatehouse.example.com")
	base := config.Base{Env: config.EnvDev, DataDir: dir, TrustedProxyHops: 1, PublicURL: public,
		AllowedOrigins: []string{"https://app.example.com"}}
	auditLog, seq := bootstrap.NewAudit(base, s, kr, logger, clock.Now, rand.Reader)
	return &Env{
		Deps: &bootstrap.Deps{Config: base, Logger: logger, Store: s, Keyring: kr, KEK: kek,
			Audit: auditLog, Sequencer: seq, Limiter: ratelimit.New(s, clock.Now),
			Notifier: mb, Telemetry: telemetry.Nop(), Now: clock.Now, Rand: rand.Reader,
			Events: ev},
		Clock: clock, Logs: logs, Mailbox: mb,
	}
}

// IntegrateAudit integrates every committed audit event, as the sequencer
// running beside the functions would, so a test can read the ordered log
// (organization trail, export, proofs). On PostgreSQL an event is final
// only once every older transaction has ended, the shared test server's
// included, so it retries for up to 20 s.
func (e *Env) IntegrateAudit(t testing.TB) {
	t.Helper()
	IntegrateAudit(t, e.Store, e.Sequencer)
}

// IntegrateAudit integrates every committed event of s with q.
func IntegrateAudit(t testing.TB, s store.Store, q *audit.Sequencer) {
	t.Helper()
	ctx := context.Background()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := q.Integrate(ctx)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			t.Fatalf("integrate audit events: %v", err)
		}
		all, err := countEvents(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		head, err := s.AuditTreeHead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if head.Size >= all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("audit tree holds %d of %d committed events after 20 s", head.Size, all)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func countEvents(ctx context.Context, s store.Store) (int64, error) {
	var n, after int64
	for {
		page, err := s.AuditEvents(ctx, after, 1000)
		if err != nil {
			return 0, err
		}
		n += int64(len(page))
		if len(page) < 1000 {
			return n, nil
		}
		after = page[len(page)-1].ID
	}
}
