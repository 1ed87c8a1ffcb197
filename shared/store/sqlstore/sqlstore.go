// Package sqlstore implements [store.Store] once, in SQL that PostgreSQL and
// SQLite both run, over a small connection interface that store/postgres
// (pgx) and store/sqlite (database/sql) adapt their drivers to. Queries use
// $1-style placeholders; the dialect rewrites them where needed. Every
// query is parameterized (APP-2): no value is ever formatted into SQL text.
package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Conn runs statements. Implementations translate "no rows" into
// store.ErrNotFound and uniqueness violations into store.ErrConflict.
type Conn interface {
	Exec(ctx context.Context, sql string, args ...any) (rowsAffected int64, err error)
	Query(ctx context.Context, sql string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) Row
}

// Row is one result row.
type Row interface{ Scan(dest ...any) error }

// Rows iterates over results. Close must be called.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Pool is a connection pool that can start transactions.
type Pool interface {
	Conn
	// InTx runs fn in one transaction, committing if fn returns nil.
	// It retries fn when the database reports a serialization failure.
	InTx(ctx context.Context, fn func(Conn) error) error
	Ping(ctx context.Context) error
	Close()
}

// Dialect holds what differs between the databases.
type Dialect struct {
	// ForUpdate is appended to SELECTs that lock the rows they read inside
	// a transaction (" FOR UPDATE" on PostgreSQL; empty on SQLite, whose
	// write transactions are serialized anyway).
	ForUpdate string
	// ForShare is ForUpdate's shared form (" FOR SHARE" on PostgreSQL):
	// the row cannot change until the transaction ends, yet readers do not
	// queue behind each other.
	ForShare string
	// ChainedWrites: one statement may chain writes through WITH ...
	// RETURNING (PostgreSQL; SQLite allows no writes in a WITH clause),
	// so a multi-row change is one round trip instead of a transaction.
	ChainedWrites bool
	// NotifyChannel, if set, is the PostgreSQL channel session changes are
	// announced on with pg_notify (see changes.go).
	NotifyChannel string
	// SettledXID is an SQL expression for the smallest transaction id
	// that may still be running (PostgreSQL: the xmin of the statement's
	// snapshot); audit events appended by smaller ids are final. SQLite,
	// whose writers are serialized and commit in id order, has a constant
	// above every id.
	SettledXID string
}

// DB is a [store.Store] over a Pool, or over one transaction of it.
type DB struct {
	pool    Pool
	conn    Conn // pool itself, or the transaction
	inTx    bool
	dialect Dialect
	hub     *hub
	pending *[]store.SessionChange // in a transaction: changes to publish after its commit
}

var _ store.Store = (*DB)(nil)

// New returns a Store over pool.
func New(pool Pool, d Dialect) *DB {
	return &DB{pool: pool, conn: pool, dialect: d, hub: &hub{}}
}

// Tx implements [store.Store].
func (db *DB) Tx(ctx context.Context, fn func(tx store.Store) error) error {
	if db.inTx {
		return fn(db)
	}
	var pending []store.SessionChange
	err := db.pool.InTx(ctx, func(c Conn) error {
		pending = pending[:0]
		return fn(&DB{pool: db.pool, conn: c, inTx: true, dialect: db.dialect, hub: db.hub, pending: &pending})
	})
	if err == nil {
		db.hub.publish(pending)
	}
	return err
}

// tx runs fn in a transaction: the current one, or a new one.
func (db *DB) tx(ctx context.Context, fn func(c Conn) error) error {
	if db.inTx {
		return fn(db.conn)
	}
	return db.pool.InTx(ctx, fn)
}

// Ping implements [store.Store].
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// Close implements [store.Store].
func (db *DB) Close() {
	if !db.inTx {
		db.pool.Close()
	}
}

// Conn returns the connection the store runs on, for packages that extend the
// schema (migrations, tests) without going around the store's errors.
func (db *DB) Conn() Conn { return db.conn }

// collect scans every row with scan and closes rows.
func collect[T any](rows Rows, err error, scan func(Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// hash32 copies a scanned digest into a fixed array.
func hash32(b []byte) ([32]byte, error) {
	var h [32]byte
	if len(b) != len(h) {
		return h, fmt.Errorf("stored digest has %d bytes, want 32", len(b))
	}
	copy(h[:], b)
	return h, nil
}

// notFound reports whether err is store.ErrNotFound.
func notFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
