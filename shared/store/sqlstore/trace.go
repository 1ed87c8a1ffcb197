package sqlstore

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Instrument makes every statement and transaction of db a span of the
// caller's trace, named by the statement's first keyword ("SELECT") and
// carrying its SQL text, which holds placeholders only, never values
// (APP-2). system is "postgresql" or "sqlite". Call it before db is shared.
func (db *DB) Instrument(tp trace.TracerProvider, system string) {
	if db.inTx {
		return
	}
	tr := tp.Tracer("github.com/gatehouse-dev/gatehouse/shared/store/sqlstore")
	pool := db.pool
	if tp, ok := pool.(*tracedPool); ok {
		pool = tp.Pool
	}
	p := &tracedPool{Pool: pool, t: tracer{tr: tr, system: system, stmts: &statements{},
		txAttrs: []attribute.KeyValue{attribute.String("db.system.name", system)}}}
	db.pool, db.conn = p, p
}

type tracer struct {
	tr      trace.Tracer
	system  string
	stmts   *statements
	txAttrs []attribute.KeyValue // a transaction span's
}

// maxStatement bounds the SQL text recorded on a span.
const maxStatement = 2000

// noSpan is the no-op span, returned where no span is worth starting.
var noSpan = trace.SpanFromContext(context.Background())

// clientSpan are the start options of every span here, built once: each
// option built per call would be an allocation.
var clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// unsampled reports whether ctx carries a span that is not recorded: its
// children would not be either (the sampler follows the parent), so none
// is started, with its context and row wrapper, on the hot path.
func unsampled(ctx context.Context) bool {
	parent := trace.SpanFromContext(ctx)
	return parent.SpanContext().IsValid() && !parent.IsRecording()
}

func (t tracer) start(ctx context.Context, sql string) (context.Context, trace.Span) {
	if unsampled(ctx) {
		return ctx, noSpan
	}
	st := t.stmts.get(sql, t.system)
	ctx, span := t.tr.Start(ctx, st.op, clientSpan...)
	if span.IsRecording() {
		span.SetAttributes(st.attrs...)
	}
	return ctx, span
}

// statements holds each statement's span name and attributes, built once
// per SQL text: the texts are constants of the code, so they are few, and
// building them per call would allocate on every sampled statement. Past
// maxCached distinct texts (SQL built at run time) the rest are built per
// call, so the cache stays bounded.
type statements struct {
	m sync.Map // SQL text -> *statement
	n atomic.Int32
}

const maxCached = 1024

type statement struct {
	op    string
	attrs []attribute.KeyValue
}

func (s *statements) get(sql, system string) *statement {
	if st, ok := s.m.Load(sql); ok {
		return st.(*statement)
	}
	op := strings.ToUpper(firstWord(sql))
	text := sql
	if len(text) > maxStatement {
		text = text[:maxStatement]
	}
	st := &statement{op: op, attrs: []attribute.KeyValue{attribute.String("db.system.name", system),
		attribute.String("db.operation.name", op), attribute.String("db.query.text", text)}}
	// Counted only while there is room, so the count cannot wrap around
	// (and reopen the cache) however many uncached texts come by.
	if s.n.Load() < maxCached && s.n.Add(1) <= maxCached {
		s.m.Store(sql, st)
	}
	return st
}

func end(span trace.Span, err error) {
	if err != nil && !notFound(err) {
		span.RecordError(err)
		span.SetStatus(codes.Error, "statement failed")
	}
	span.End()
}

func firstWord(sql string) string {
	sql = strings.TrimSpace(sql)
	if i := strings.IndexAny(sql, " \t\n("); i > 0 {
		return sql[:i]
	}
	return sql
}

// tracedConn wraps a Conn; parent, when set, replaces the caller's span as
// the parent of statements (the transaction's span).
type tracedConn struct {
	Conn
	t      tracer
	parent trace.Span
}

func (c *tracedConn) ctx(ctx context.Context) context.Context {
	if c.parent != nil {
		return trace.ContextWithSpan(ctx, c.parent)
	}
	return ctx
}

func (c *tracedConn) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	ctx, span := c.t.start(c.ctx(ctx), sql)
	// sqltext: passes on the caller's statement, itself checked here
	n, err := c.Conn.Exec(ctx, sql, args...)
	end(span, err)
	return n, err
}

func (c *tracedConn) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	ctx, span := c.t.start(c.ctx(ctx), sql)
	// sqltext: passes on the caller's statement, itself checked here
	rows, err := c.Conn.Query(ctx, sql, args...)
	if err != nil {
		end(span, err)
		return nil, err
	}
	if span == noSpan {
		return rows, nil
	}
	return &tracedRows{Rows: rows, span: span}, nil
}

func (c *tracedConn) QueryRow(ctx context.Context, sql string, args ...any) Row {
	ctx, span := c.t.start(c.ctx(ctx), sql)
	// sqltext: passes on the caller's statement, itself checked here
	row := c.Conn.QueryRow(ctx, sql, args...)
	if span == noSpan {
		return row
	}
	return &tracedRow{Row: row, span: span}
}

// tracedRows ends its span on Close, so the span covers reading the rows.
type tracedRows struct {
	Rows
	span trace.Span
}

func (r *tracedRows) Close() {
	r.Rows.Close()
	end(r.span, r.Rows.Err())
}

// tracedRow ends its span on Scan.
type tracedRow struct {
	Row
	span trace.Span
}

func (r *tracedRow) Scan(dest ...any) error {
	err := r.Row.Scan(dest...)
	end(r.span, err)
	return err
}

type tracedPool struct {
	Pool
	t tracer
}

func (p *tracedPool) Exec(ctx context.Context, sql string, args ...any) (int64, error) {
	// sqltext: passes on the caller's statement, itself checked here
	return (&tracedConn{Conn: p.Pool, t: p.t}).Exec(ctx, sql, args...)
}

func (p *tracedPool) Query(ctx context.Context, sql string, args ...any) (Rows, error) {
	// sqltext: passes on the caller's statement, itself checked here
	return (&tracedConn{Conn: p.Pool, t: p.t}).Query(ctx, sql, args...)
}

func (p *tracedPool) QueryRow(ctx context.Context, sql string, args ...any) Row {
	// sqltext: passes on the caller's statement, itself checked here
	return (&tracedConn{Conn: p.Pool, t: p.t}).QueryRow(ctx, sql, args...)
}

// InTx makes the transaction a span; its statements are children of it.
func (p *tracedPool) InTx(ctx context.Context, fn func(Conn) error) error {
	if unsampled(ctx) {
		return p.Pool.InTx(ctx, func(c Conn) error { return fn(&tracedConn{Conn: c, t: p.t}) })
	}
	ctx, span := p.t.tr.Start(ctx, "transaction", clientSpan...)
	if span.IsRecording() {
		span.SetAttributes(p.t.txAttrs...)
	}
	err := p.Pool.InTx(ctx, func(c Conn) error {
		return fn(&tracedConn{Conn: c, t: p.t, parent: span})
	})
	end(span, err)
	return err
}
