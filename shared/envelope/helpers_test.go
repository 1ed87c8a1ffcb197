package envelope_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/envelope"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/filekek"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/internal/fakekms"
	"github.com/gatehouse-dev/gatehouse/shared/envelope/kmskek"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlite"
)

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// newStore opens a fresh SQLite store in the test's temporary directory.
func newStore(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "gatehouse.db"))
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(db.Close)
	return db
}

// env is a keyring on a real SQLite store and the real KMS client talking to
// an in-process fake KMS.
type env struct {
	kms   *fakekms.Server
	kek   *kmskek.KEK
	store *sqlite.DB
	clock *clock
	kr    *envelope.Keyring
}

func newEnv(tb testing.TB, opts envelope.Options) *env {
	tb.Helper()
	srv, client := fakekms.Start(tb)
	kek, err := kmskek.New(client, fakekms.KeyName)
	if err != nil {
		tb.Fatal(err)
	}
	e := &env{kms: srv, kek: kek, store: newStore(tb), clock: newClock()}
	e.kr = e.keyring(tb, opts)
	return e
}

// keyring returns another Keyring (another instance, cold cache) on the same
// store, KMS and clock.
func (e *env) keyring(tb testing.TB, opts envelope.Options) *envelope.Keyring {
	tb.Helper()
	opts.Now = e.clock.now
	kr, err := envelope.New(e.store, e.kek, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}

func (e *env) decrypts() int {
	_, d := e.kms.Calls()
	return d
}

// newFileKeyring is a keyring on a real SQLite store and a file KEK.
func newFileKeyring(tb testing.TB) *envelope.Keyring {
	tb.Helper()
	kek, err := filekek.Load(filepath.Join(tb.TempDir(), "kek"), nil)
	if err != nil {
		tb.Fatal(err)
	}
	kr, err := envelope.New(newStore(tb), kek, envelope.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}
