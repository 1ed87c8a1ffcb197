package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlstore"
)

// litePool adapts database/sql to [sqlstore.Pool]. It rewrites $N
// placeholders to SQLite's ?N and stores times as unix microseconds.
type litePool struct{ db *sql.DB }

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

type liteConn struct{ q querier }

func (c liteConn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, rebind(query), convertArgs(args)...)
	if err != nil {
		return 0, interpret(err)
	}
	return res.RowsAffected()
}

func (c liteConn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.QueryContext(ctx, rebind(query), convertArgs(args)...)
	if err != nil {
		return nil, interpret(err)
	}
	return liteRows{rows}, nil
}

func (c liteConn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return liteRow{c.q.QueryRowContext(ctx, rebind(query), convertArgs(args)...)}
}

type liteRow struct{ row *sql.Row }

func (r liteRow) Scan(dest ...any) error { return interpret(r.row.Scan(convertDest(dest)...)) }

type liteRows struct{ rows *sql.Rows }

func (r liteRows) Next() bool             { return r.rows.Next() }
func (r liteRows) Scan(dest ...any) error { return interpret(r.rows.Scan(convertDest(dest)...)) }
func (r liteRows) Err() error             { return interpret(r.rows.Err()) }
func (r liteRows) Close()                 { r.rows.Close() }

func (p *litePool) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return liteConn{p.db}.Exec(ctx, query, args...)
}

func (p *litePool) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	return liteConn{p.db}.Query(ctx, query, args...)
}

func (p *litePool) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return liteConn{p.db}.QueryRow(ctx, query, args...)
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
	if err = fn(liteConn{tx}); err != nil {
		return err
	}
	return interpret(tx.Commit())
}

func (p *litePool) Ping(ctx context.Context) error { return p.db.PingContext(ctx) }
func (p *litePool) Close()                         { p.db.Close() }

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
