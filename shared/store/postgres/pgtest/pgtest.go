// Package pgtest gives each test its own schema on a real PostgreSQL server,
// migrated and granted as in production: the store connects as a separate
// application role, and the test keeps an owner connection for doing what
// the application must not be able to do (such as altering audit rows).
//
// The server comes from GATEHOUSE_TEST_DATABASE_URL (a superuser or schema
// owner). Without it the test is skipped with a message, unless
// GATEHOUSE_REQUIRE_POSTGRES=1 or CI is set, when it fails: CI never
// passes on skipped PostgreSQL tests. scripts/test starts a throwaway
// cluster and sets both.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-dev/gatehouse/shared/store/postgres"
)

// AppRole is the role the store under test connects as.
const AppRole = "gatehouse_test_app"

// appPassword is the test role's password; the role exists only on test servers.
const appPassword = "gatehouse-test-app"

// EnvURL names the variable holding the test server's URL.
const EnvURL = "GATEHOUSE_TEST_DATABASE_URL"

// DB is one test's database.
type DB struct {
	// Store is the store under test, connected as [AppRole].
	Store *postgres.DB
	// Owner is a privileged connection to the same schema.
	Owner *pgxpool.Pool
	// Schema is the test's own schema.
	Schema string

	url string // the application role's
}

// roleOnce creates the application role once per server URL.
var roleOnce sync.Map // base URL -> *sync.Once

// URL returns the test server URL, skipping or failing t when there is none.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		if os.Getenv("GATEHOUSE_REQUIRE_POSTGRES") == "1" || os.Getenv("CI") != "" {
			t.Fatalf("%s is not set and PostgreSQL tests are required here: run scripts/test", EnvURL)
		}
		t.Skipf("PostgreSQL test skipped: set %s or run scripts/test, which starts a throwaway PostgreSQL 15", EnvURL)
	}
	return u
}

// New creates a migrated schema for t and returns the store and an owner
// connection to it. Everything is dropped when t ends.
func New(t testing.TB) *DB {
	t.Helper()
	return NewOn(t, URL(t), 16)
}

// EnvDurableURL names the variable holding the URL of a PostgreSQL server
// that runs with fsync and synchronous_commit on, for benchmarks whose
// figures depend on commit behaviour (the test server runs without both).
// scripts/bench starts one when it is unset.
const EnvDurableURL = "GATEHOUSE_DURABLE_DATABASE_URL"

// DurableURL returns the durable server's URL. Without one the benchmark is
// skipped with a message, or fails where PostgreSQL is required (CI); a
// server that runs with fsync or synchronous_commit off fails it.
func DurableURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvDurableURL)
	if u == "" {
		if os.Getenv("GATEHOUSE_REQUIRE_POSTGRES") == "1" || os.Getenv("CI") != "" {
			t.Fatalf("%s is not set and durable PostgreSQL is required here: run scripts/bench", EnvDurableURL)
		}
		t.Skipf("durable PostgreSQL benchmark skipped: set %s or run scripts/bench, which starts one", EnvDurableURL)
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect to durable PostgreSQL: %v", err)
	}
	defer c.Close(ctx)
	for _, setting := range []string{"fsync", "synchronous_commit"} {
		var v string
		if err := c.QueryRow(ctx, `SELECT current_setting($1)`, setting).Scan(&v); err != nil {
			t.Fatalf("read %s: %v", setting, err)
		}
		if v != "on" {
			t.Fatalf("%s names a server with %s = %s; want on", EnvDurableURL, setting, v)
		}
	}
	return u
}

// NewOn is [New] on the server at base, with an application pool of
// maxConns connections.
func NewOn(t testing.TB, base string, maxConns int) *DB {
	t.Helper()
	ctx := context.Background()
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])

	admin, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to test PostgreSQL: %v", err)
	}
	defer admin.Close(ctx)
	once, _ := roleOnce.LoadOrStore(base, new(sync.Once))
	once.(*sync.Once).Do(func() { ensureRole(ctx, t, admin) })
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(context.Background(), base)
		if err != nil {
			return
		}
		defer c.Close(context.Background())
		c.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	})

	owner, err := postgres.Open(ctx, postgres.Options{URL: base, SearchPath: schema, MaxConns: 4})
	if err != nil {
		t.Fatalf("open owner store: %v", err)
	}
	t.Cleanup(owner.Close)
	if _, err := owner.Migrate(ctx, AppRole); err != nil {
		t.Fatalf("migrate: %v", err)
	}

	app, err := postgres.Open(ctx, postgres.Options{URL: asAppRole(t, base), SearchPath: schema, MaxConns: int32(maxConns)})
	if err != nil {
		t.Fatalf("open application store: %v", err)
	}
	t.Cleanup(app.Close)
	return &DB{Store: app, Owner: owner.Pool(), Schema: schema, url: asAppRole(t, base)}
}

// Another opens a second application store on the same schema: another
// instance of a function, with its own pool and session-change listener.
func (db *DB) Another(t testing.TB) *postgres.DB {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Options{URL: db.url, SearchPath: db.Schema, MaxConns: 16})
	if err != nil {
		t.Fatalf("open another application store: %v", err)
	}
	t.Cleanup(s.Close)
	return s
}

// CutListeners terminates the backends of every session-change listener
// on the schema (as a network failure would) and returns how many it cut.
func (db *DB) CutListeners(t testing.TB) int {
	t.Helper()
	var n int
	err := db.Owner.QueryRow(context.Background(), `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = $1`, postgres.ListenerName(db.Schema)).Scan(&n)
	if err != nil {
		t.Fatalf("cut listeners: %v", err)
	}
	return n
}

// ensureRole creates the application role once per server.
func ensureRole(ctx context.Context, t testing.TB, admin *pgx.Conn) {
	_, err := admin.Exec(ctx, `CREATE ROLE `+AppRole+` LOGIN PASSWORD '`+appPassword+`'`)
	var pgErr *pgconn.PgError
	if err != nil && !(errors.As(err, &pgErr) && (pgErr.Code == "42710" || pgErr.Code == "23505")) {
		t.Fatalf("create application role: %v", err)
	}
}

// asAppRole returns base with the application role's credentials.
func asAppRole(t testing.TB, base string) string {
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " user=" + AppRole + " password=" + appPassword
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: malformed URL", EnvURL)
	}
	u.User = url.UserPassword(AppRole, appPassword)
	return u.String()
}
