package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlstore"
)

// litePool adapts database/sql to [sqlstore.Pool]. It rewrites $N
// placeholders to SQLite's ?N, stores times as unix microseconds, and
// prepares each query once: SQLite parses SQL on every unprepared call,
// which for a point read costs as much as the read.
type litePool struct {
	db    *sql.DB
	stmts sync.Map // rebound query text → *sql.Stmt
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// liteConn is the pool itself or one of its transactions (tx set).
type liteConn struct {
	pool *litePool
	tx   *sql.Tx
}

// prepared returns the statement for query, prepared on the pool and, in a
// transaction, bound to it. Every query is constant text (APP-2), so the
// cache holds one statement per query in the code and never grows with
// input. Exec is not prepared: migrations run multi-statement scripts
// through it, which a prepared statement would cut to their first.
//
// A query first seen inside a transaction is prepared on the transaction
// and not cached: preparing it on the pool would need a second connection
// while this one holds the write lock, and when every other connection is
// waiting for that lock (busy_timeout) the two wait for each other until
// the timeout. Its first use outside a transaction caches it.
func (c liteConn) prepared(ctx context.Context, query string) (*sql.Stmt, error) {
	v, ok := c.pool.stmts.Load(query)
	if !ok && c.tx != nil {
		return c.tx.PrepareContext(ctx, query)
	}
	if !ok {
		st, err := c.pool.db.PrepareContext(ctx, query)
		if err != nil {
			return nil, err
		}
		if v, ok = c.pool.stmts.LoadOrStore(query, st); ok {
			st.Close()
		}
	}
	st := v.(*sql.Stmt)
	if c.tx != nil {
		// Closed with the transaction.
		return c.tx.StmtContext(ctx, st), nil
	}
	return st, nil
}

func (c liteConn) querier() querier {
	if c.tx != nil {
		return c.tx
	}
	return c.pool.db
}

func (c liteConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.querier().ExecContext(ctx, rebind(query), convertArgs(args)...)
	if err != nil {
		return 0, interpret(err)
	}
	return res.RowsAffected()
}

func (c liteConn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	st, err := c.prepared(ctx, rebind(query))
	if err != nil {
		return nil, interpret(err)
	}
	rows, err := st.QueryContext(ctx, convertArgs(args)...)
	if err != nil {
		return nil, interpret(err)
	}
	return liteRows{rows}, nil
}

func (c liteConn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	st, err := c.prepared(ctx, rebind(query))
	if err != nil {
		return liteRow{err: err}
	}
	return liteRow{row: st.QueryRowContext(ctx, convertArgs(args)...)}
}

// liteRow is a row, or the error that kept the query from running.
type liteRow struct {
	row *sql.Row
	err error
}

func (r liteRow) Scan(dest ...any) error {
	if r.err != nil {
		return interpret(r.err)
	}
	return interpret(r.row.Scan(convertDest(dest)...))
}

type liteRows struct{ rows *sql.Rows }

func (r liteRows) Next() bool             { return r.rows.Next() }
func (r liteRows) Scan(dest ...any) error { return interpret(r.rows.Scan(convertDest(dest)...)) }
func (r liteRows) Err() error             { return interpret(r.rows.Err()) }
func (r liteRows) Close()                 { r.rows.Close() }

func (p *litePool) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return liteConn{pool: p}.Exec(ctx, query, args...)
}

func (p *litePool) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return liteConn{pool: p}.Query(ctx, query, args...)
}

func (p *litePool) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return liteConn{pool: p}.QueryRow(ctx, query, args...)
}

// InTx implements [sqlstore.Pool]. Transactions begin IMMEDIATE (see Open),
// so writers queue on the database lock instead of failing mid-way.
func (p *litePool) InTx(ctx context.Context, fn func(sqlstore.Conn) error) (err error) {
	tx, err := p.db.BeginTx(ctx, nil)
	if err != nil {
		return interpret(err)
	}
	defer func() {
		if err != nil {
			tx.Rollback()
		}
	}()
	defer func() {
		if r := recover(); r != nil {
			tx.Rollback()
			panic(r)
		}
	}()
	if err = fn(liteConn{pool: p, tx: tx}); err != nil {
		return err
	}
	return interpret(tx.Commit())
}

func (p *litePool) Ping(ctx context.Context) error { return p.db.PingContext(ctx) }
func (p *litePool) Close() {
	p.stmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	p.db.Close()
}

// rebind turns $N placeholders into ?N, which SQLite binds by number.
func rebind(query string) string {
	if !strings.Contains(query, "$") {
		return query
	}
	return strings.ReplaceAll(query, "$", "?")
}

func convertArgs(args []any) []any {
	out := args
	for i, a := range args {
		var v any
		switch t := a.(type) {
		case time.Time:
			v = t.UnixMicro()
		case *time.Time:
			if t != nil {
				v = t.UnixMicro()
			}
		default:
			continue
		}
		if &out[0] == &args[0] {
			out = append([]any(nil), args...)
		}
		out[i] = v
	}
	return out
}

func convertDest(dest []any) []any {
	out := dest
	for i, d := range dest {
		var v any
		switch t := d.(type) {
		case *time.Time:
			v = microTime{t}
		case **time.Time:
			v = nullMicroTime{t}
		default:
			continue
		}
		if &out[0] == &dest[0] {
			out = append([]any(nil), dest...)
		}
		out[i] = v
	}
	return out
}

type microTime struct{ t *time.Time }

func (m microTime) Scan(src any) error {
	n, ok := src.(int64)
	if !ok {
		return errors.New("sqlite: time column is not an integer")
	}
	*m.t = time.UnixMicro(n).UTC()
	return nil
}

type nullMicroTime struct{ t **time.Time }

func (m nullMicroTime) Scan(src any) error {
	if src == nil {
		*m.t = nil
		return nil
	}
	var t time.Time
	if err := (microTime{&t}).Scan(src); err != nil {
		return err
	}
	*m.t = &t
	return nil
}

// interpret translates driver errors into store sentinels, once, here.
func interpret(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return errors.Join(store.ErrConflict, err)
		}
	}
	return err
}
