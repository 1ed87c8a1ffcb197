// Package sqlite is the embedded [store.Store] that `gatehouse serve` runs on
// by default: SQLite through the pure-Go modernc.org/sqlite driver, in WAL
// mode with foreign keys on and write transactions taken immediately.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"net/url"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an SQLite store.
type DB struct {
	*sqlstore.DB
	sql *sql.DB
}

var _ store.Store = (*DB)(nil)

// Open opens (creating if needed) the database file at path and applies
// pending migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Set("_txlock", "immediate")
	sdb, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	sdb.SetMaxOpenConns(8)
	p := &litePool{db: sdb}
	if err := p.Ping(ctx); err != nil {
		sdb.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if _, err := sqlstore.Migrate(ctx, p, migrationFiles(), "", time.Now); err != nil {
		sdb.Close()
		return nil, err
	}
	return &DB{DB: sqlstore.New(p, sqlstore.Dialect{SettledXID: "9223372036854775807"}), sql: sdb}, nil
}

// SQL returns the underlying database handle, for tests and tools.
func (db *DB) SQL() *sql.DB { return db.sql }

// migrationFiles returns the embedded migrations directory.
func migrationFiles() fs.FS {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		panic(err) // the embed pattern guarantees the directory
	}
	return sub
}
