package postgres

import (
	"context"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/store/sqlstore"
)

// The session-change listener (see sqlstore/changes.go for the sending
// side). One dedicated connection LISTENs on the store's channel and pings
// every listenHeartbeat; each ping that returns proves every notification
// committed before it was sent has been handled (PostgreSQL delivers them
// on the connection ahead of the ping's answer), so it vouches for the
// channel until its start + listenTrust. A silent network failure thus
// stops the cache's trust within listenTrust; an error stops it at once.
const (
	listenHeartbeat = 250 * time.Millisecond
	listenTrust     = time.Second
	listenRetryMin  = 100 * time.Millisecond
	listenRetryMax  = 5 * time.Second
)

// channelName is the NOTIFY channel of the schema: schemas (one per test)
// sharing a database do not hear each other. Channel names are identifiers
// of at most 63 bytes.
func channelName(schema string) string {
	name := "gatehouse_sessions/" + schema
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}

// WatchSessions implements [store.SessionFeed]: o hears this process's
// changes as they commit and every process's through LISTEN. One listener
// serves every observer of the store; it holds one of the pool's
// connections (so the connection budget is the pool's), and does not run
// on a pool of fewer than minListenPool connections: there o hears only
// ChannelDown, so its cache stays off.
func (db *DB) WatchSessions(o store.SessionObserver) (stop func()) {
	l := db.listener
	key := &o
	l.mu.Lock()
	l.observers[key] = o
	o.ChannelDown()
	if l.live {
		o.ChannelLive(l.until)
	}
	start := !l.started && db.pool.Config().MaxConns >= minListenPool
	l.started = l.started || start
	l.mu.Unlock()
	stopLocal := db.DB.WatchLocal(&observerLock{l: l, o: o})
	if start {
		db.watchers.Go(func() { l.run(db.ctx) })
	}
	return func() {
		stopLocal()
		l.mu.Lock()
		defer l.mu.Unlock()
		delete(l.observers, key)
	}
}

// minListenPool is the smallest pool the listener takes a connection from.
const minListenPool = 4

// listener runs the LISTEN connection and tells every observer, one call
// at a time (local changes come from request goroutines, notifications
// from the listening one).
type listener struct {
	db        *DB
	mu        sync.Mutex
	observers map[*store.SessionObserver]store.SessionObserver
	started   bool
	live      bool
	until     time.Time
	now       func() time.Time
}

func newListener(db *DB) *listener {
	return &listener{db: db, observers: map[*store.SessionObserver]store.SessionObserver{}, now: time.Now}
}

func (l *listener) each(f func(store.SessionObserver)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.observers {
		f(o)
	}
}

func (l *listener) changed(c store.SessionChange) {
	l.each(func(o store.SessionObserver) { o.SessionsChanged(c) })
}

func (l *listener) channelLive(until time.Time) {
	l.mu.Lock()
	l.live, l.until = true, until
	l.mu.Unlock()
	l.each(func(o store.SessionObserver) { o.ChannelLive(until) })
}

func (l *listener) channelDown() {
	l.mu.Lock()
	l.live = false
	l.mu.Unlock()
	l.each(func(o store.SessionObserver) { o.ChannelDown() })
}

// observerLock passes this process's changes to o under the listener's
// lock, so o never hears two calls at once.
type observerLock struct {
	l *listener
	o store.SessionObserver
}

func (ol *observerLock) SessionsChanged(c store.SessionChange) {
	ol.l.mu.Lock()
	defer ol.l.mu.Unlock()
	ol.o.SessionsChanged(c)
}

func (ol *observerLock) ChannelLive(time.Time) {} // the listener vouches, not the hub
func (ol *observerLock) ChannelDown()          {}

// run listens until ctx ends, reconnecting with backoff.
func (l *listener) run(ctx context.Context) {
	retry := listenRetryMin
	for {
		l.channelDown()
		err := l.listen(ctx)
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, listenRetryMax)
		if errors.Is(err, errHealthy) {
			retry = listenRetryMin
		}
	}
}

// errHealthy wraps the error that ended a connection that had been live.
var errHealthy = errors.New("listener was live")

// listen runs one connection: LISTEN, then wait and ping until an error.
// The connection comes from the pool and counts in it (the pool's
// OnNotification hands its notifications to l); it never serves a query
// again: it is closed, and so dropped from the pool, when listen ends.
func (l *listener) listen(ctx context.Context) error {
	pc, err := l.db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	conn := pc.Conn().PgConn()
	defer func() {
		conn.Close(context.Background())
		pc.Release() // a closed connection is destroyed, not pooled
	}()
	if _, err := conn.Exec(ctx, "SET application_name = "+quoteLiteral(ListenerName(l.db.schema))).ReadAll(); err != nil {
		return err
	}
	start := l.now()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{l.db.channel}.Sanitize()).ReadAll(); err != nil {
		return err
	}
	l.channelLive(start.Add(listenTrust))
	for {
		wctx, cancel := context.WithTimeout(ctx, listenHeartbeat)
		err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case err == nil: // a notification, handled by OnNotification
			continue
		case !pgconn.Timeout(err):
			return errors.Join(errHealthy, err)
		}
		start := l.now()
		pctx, cancel := context.WithTimeout(ctx, listenTrust)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return errors.Join(errHealthy, err)
		}
		l.channelLive(start.Add(listenTrust))
	}
}

// onNotification is the pool's notification handler: only the listening
// connection receives any.
func (l *listener) onNotification(_ *pgconn.PgConn, n *pgconn.Notification) {
	l.changed(sqlstore.ParseSessionChange(n.Payload))
}

// quoteLiteral quotes s as an SQL string literal (SET takes no parameters).
func quoteLiteral(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

// ListenerName is the application_name of the listener connection of a
// store on schema, as pg_stat_activity shows it (tests cut it with
// pg_terminate_backend).
func ListenerName(schema string) string {
	name := "gatehouse-listen/" + schema
	if len(name) > 63 {
		name = name[:63]
	}
	return name
}
