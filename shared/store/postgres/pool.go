package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-dev/gatehouse/shared/store/sqlstore"
)

// pgPool adapts a pgx pool to [sqlstore.Pool].
type pgPool struct{ pool *pgxpool.Pool }

// pgConn adapts a pool or a transaction to [sqlstore.Conn].
type pgConn struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (c pgConn) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, sql, args...)
	return tag.RowsAffected(), interpret(err)
}

func (c pgConn) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.Query(ctx, sql, args...)
	if err != nil {
		return nil, interpret(err)
	}
	return pgRows{rows}, nil
}

func (c pgConn) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return pgRow{c.q.QueryRow(ctx, sql, args...)}
}

type pgRow struct{ row pgx.Row }

func (r pgRow) Scan(dest ...any) error { return interpret(r.row.Scan(dest...)) }

type pgRows struct{ pgx.Rows }

func (r pgRows) Scan(dest ...any) error { return interpret(r.Rows.Scan(dest...)) }
func (r pgRows) Err() error             { return interpret(r.Rows.Err()) }

func (p *pgPool) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	return pgConn{p.pool}.Exec(ctx, sql, args...)
}

func (p *pgPool) Query(ctx context.Context, sql string, args ...any) (sqlstore.Rows, error) {
	return pgConn{p.pool}.Query(ctx, sql, args...)
}

func (p *pgPool) QueryRow(ctx context.Context, sql string, args ...any) sqlstore.Row {
	return pgConn{p.pool}.QueryRow(ctx, sql, args...)
}

// maxTxAttempts bounds retries of a transaction the database aborted to
// keep concurrent transactions serializable.
const maxTxAttempts = 5

// InTx implements [sqlstore.Pool].
func (p *pgPool) InTx(ctx context.Context, fn func(sqlstore.Conn) error) error {
	var err error
	for range maxTxAttempts {
		err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error { return fn(pgConn{tx}) })
		if !retryable(err) {
			return err
		}
	}
	return fmt.Errorf("transaction kept conflicting: %w", err)
}

// retryable reports a serialization failure or deadlock.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

func (p *pgPool) Ping(ctx context.Context) error { return p.pool.Ping(ctx) }
func (p *pgPool) Close()                         { p.pool.Close() }
