// Package postgres is the production [store.Store]: PostgreSQL through a pgx
// v5 pool, directly by URL or, on Google Cloud, through the Cloud SQL Go
// connector (private IP, IAM database authentication).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path"
	"strings"
	"sync"
	"time"

	"cloud.google.com/go/cloudsqlconn"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLock keeps concurrent migrators (several instances starting at
// once) from applying the same file twice.
const migrationLock = `SELECT pg_advisory_xact_lock(7243061)`

// DB is a PostgreSQL store.
type DB struct {
	*sqlstore.DB
	pool     *pgxpool.Pool
	dialer   *cloudsqlconn.Dialer
	schema   string // the connections' current schema
	channel  string // where session changes are announced
	ctx      context.Context
	cancel   context.CancelFunc
	watchers sync.WaitGroup
	listener *listener
}

var _ store.Store = (*DB)(nil)

// Options configure [Open].
type Options struct {
	// URL is a postgres:// connection string. With Instance set, it may
	// carry only the pool settings and database name.
	URL string
	// Instance is a Cloud SQL instance connection name (project:region:instance).
	// When set, connections go through the Cloud SQL connector over private
	// IP with IAM database authentication, and User names the IAM user.
	Instance string
	User     string
	Database string
	// MaxConns bounds the pool (default 8): see docs/scaling.md.
	MaxConns int32
	// SearchPath, if set, is the schema list every connection uses (tests
	// give each test its own schema).
	SearchPath string
}

// poolConfig is the pool configuration for o. With dial (the Cloud SQL
// connector), connections go through it, as o.User with IAM
// authentication and without PostgreSQL's own TLS: the connector's tunnel
// is already mutually authenticated TLS, and pgx's default sslmode=prefer
// would try to start TLS again inside it, which the connector's
// documentation rules out ("sslmode=disable is required").
func poolConfig(o Options, dial func(context.Context) (net.Conn, error)) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(o.URL)
	if err != nil {
		return nil, errors.New("parse database URL: malformed") // the URL may hold a password
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	} else if o.URL == "" || cfg.MaxConns == 0 {
		cfg.MaxConns = 8
	}
	if o.SearchPath != "" {
		cfg.ConnConfig.RuntimeParams["search_path"] = o.SearchPath
	}
	if dial != nil {
		cfg.ConnConfig.User = o.User
		cfg.ConnConfig.Database = o.Database
		cfg.ConnConfig.Password = "" // IAM authentication: the connector supplies a token
		cfg.ConnConfig.TLSConfig = nil
		cfg.ConnConfig.Fallbacks = nil
		cfg.ConnConfig.DialFunc = func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }
	}
	return cfg, nil
}

// Open connects and checks the connection. It does not migrate.
func Open(ctx context.Context, o Options) (*DB, error) {
	var dialer *cloudsqlconn.Dialer
	var dial func(ctx context.Context) (net.Conn, error)
	if o.Instance != "" {
		var err error
		dialer, err = cloudsqlconn.NewDialer(ctx,
			cloudsqlconn.WithIAMAuthN(),
			cloudsqlconn.WithLazyRefresh(),
			cloudsqlconn.WithDefaultDialOptions(cloudsqlconn.WithPrivateIP()))
		if err != nil {
			return nil, fmt.Errorf("start Cloud SQL connector: %w", err)
		}
		instance := o.Instance
		dial = func(ctx context.Context) (net.Conn, error) { return dialer.Dial(ctx, instance) }
	}
	cfg, err := poolConfig(o, dial)
	if err != nil {
		if dialer != nil {
			dialer.Close()
		}
		return nil, err
	}
	db := &DB{dialer: dialer}
	db.listener = newListener(db)
	cfg.ConnConfig.OnNotification = db.listener.onNotification
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open database pool: %w", err)
	}
	var schema string
	if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		pool.Close()
		if dialer != nil {
			dialer.Close()
		}
		return nil, fmt.Errorf("connect to database: %w", err)
	}
	db.pool, db.schema, db.channel = pool, schema, channelName(schema)
	db.DB = sqlstore.New(&pgPool{pool: pool}, sqlstore.Dialect{ForUpdate: " FOR UPDATE", ForShare: " FOR SHARE", ChainedWrites: true,
		NotifyChannel: db.channel, SettledXID: "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint)"})
	db.ctx, db.cancel = context.WithCancel(context.Background())
	return db, nil
}

// Close stops the session-change listeners, then closes the pool and, on
// Cloud SQL, the connector.
func (db *DB) Close() {
	db.cancel()
	db.watchers.Wait()
	db.DB.Close()
	if db.dialer != nil {
		db.dialer.Close()
	}
}

// Pool returns the underlying pgx pool.
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// Migrate applies pending migrations, then, if appRole is not empty, grants
// that role what the application needs: everything on every table but the
// audit log, where it gets SELECT and INSERT only. Run it with an owner
// role (the `gatehouse migrate` command), not the application's.
func (db *DB) Migrate(ctx context.Context, appRole string) ([]string, error) {
	applied, err := sqlstore.Migrate(ctx, &pgPool{pool: db.pool}, migrationFiles(), migrationLock, time.Now)
	if err != nil {
		return applied, err
	}
	if appRole == "" {
		return applied, nil
	}
	var schema string
	if err := db.pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return applied, fmt.Errorf("grant application role: read schema: %w", err)
	}
	currentSchema := pgx.Identifier{schema}.Sanitize()
	role := pgx.Identifier{appRole}.Sanitize()
	// One transaction under the migration lock: concurrent GRANTs on the
	// same objects fail with "tuple concurrently updated".
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, stmt := range []string{
			migrationLock,
			`GRANT USAGE ON SCHEMA ` + currentSchema + ` TO ` + role,
			`GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA ` + currentSchema + ` TO ` + role,
			`GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA ` + currentSchema + ` TO ` + role,
			`REVOKE UPDATE, DELETE, TRUNCATE ON audit_events, audit_checkpoint, audit_leaves, audit_nodes, audit_tree_heads, schema_migrations FROM ` + role,
		} {
			if _, err := tx.Exec(ctx, stmt); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return applied, fmt.Errorf("grant application role: %w", err)
	}
	return applied, nil
}

// MigrateThrough applies pending migrations up to and including version
// (e.g. "0010_audit_target") and no further, without grants: for tests
// that build a database as an older release left it.
func (db *DB) MigrateThrough(ctx context.Context, version string) ([]string, error) {
	return sqlstore.Migrate(ctx, &pgPool{pool: db.pool}, migrationsThrough{migrationFiles(), version}, migrationLock, time.Now)
}

// migrationsThrough hides the migrations after last.
type migrationsThrough struct {
	fs.FS
	last string
}

func (m migrationsThrough) Open(name string) (fs.File, error) {
	if strings.HasSuffix(name, ".sql") && strings.TrimSuffix(path.Base(name), ".sql") > m.last {
		return nil, fs.ErrNotExist
	}
	return m.FS.Open(name)
}

func (m migrationsThrough) Glob(pattern string) ([]string, error) {
	all, err := fs.Glob(m.FS, pattern)
	var out []string
	for _, n := range all {
		if strings.TrimSuffix(path.Base(n), ".sql") <= m.last {
			out = append(out, n)
		}
	}
	return out, err
}

// interpret translates driver errors into store sentinels, once, here.
func interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" { // unique_violation
		return fmt.Errorf("%w: %s", store.ErrConflict, pgErr.ConstraintName)
	}
	return err
}

// migrationFiles returns the embedded migrations directory.
func migrationFiles() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}
