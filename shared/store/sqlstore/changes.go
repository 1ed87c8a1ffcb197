package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// Session changes. Every method that revokes, ends or re-authenticates
// sessions, or deletes a user, makes its write through [DB.changeSessions],
// which announces the change in the same transaction: PostgreSQL's
// pg_notify (when Dialect.NotifyChannel is set), delivered to every
// listening process at commit and never for a rolled-back write, and this
// process's subscribers, told right after the commit. TestSessionWritesAnnounce
// fails on a new statement that changes sessions without announcing it.

// payload is the NOTIFY payload of c: "s:<id>", "u:<id>" or "*".
func payload(c store.SessionChange) string {
	switch {
	case c.SessionID != "":
		return "s:" + c.SessionID
	case c.UserID != "":
		return "u:" + c.UserID
	}
	return "*"
}

// ParseSessionChange parses a NOTIFY payload. Anything it cannot read
// means every session: a change is never lost to a bad payload.
func ParseSessionChange(p string) store.SessionChange {
	switch {
	case len(p) > 2 && p[:2] == "s:":
		return store.SessionChange{SessionID: p[2:]}
	case len(p) > 2 && p[:2] == "u:":
		return store.SessionChange{UserID: p[2:]}
	}
	return store.SessionChange{}
}

// changeSessions runs write in a transaction (the current one, or a new
// one) and announces the changes it returns in that transaction.
func (db *DB) changeSessions(ctx context.Context, write func(c Conn) ([]store.SessionChange, error)) error {
	run := func(c Conn, pending *[]store.SessionChange) error {
		changes, err := write(c)
		if err != nil {
			return err
		}
		for _, ch := range changes {
			if db.dialect.NotifyChannel != "" {
				if _, err := c.Exec(ctx, `SELECT pg_notify($1, $2)`, db.dialect.NotifyChannel, payload(ch)); err != nil {
					return fmt.Errorf("announce session change: %w", err)
				}
			}
			*pending = append(*pending, ch)
		}
		return nil
	}
	if db.inTx {
		return run(db.conn, db.pending)
	}
	var pending []store.SessionChange
	err := db.pool.InTx(ctx, func(c Conn) error {
		pending = pending[:0]
		return run(c, &pending)
	})
	if err == nil {
		db.hub.publish(pending)
	}
	return err
}

// hub tells this process's observers of committed session changes.
type hub struct {
	mu        sync.Mutex
	observers map[*store.SessionObserver]store.SessionObserver
}

func (h *hub) publish(changes []store.SessionChange) {
	if len(changes) == 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, o := range h.observers {
		for _, c := range changes {
			o.SessionsChanged(c)
		}
	}
}

// subscribe adds o and returns the function that removes it.
func (h *hub) subscribe(o store.SessionObserver) func() {
	key := &o
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.observers == nil {
		h.observers = map[*store.SessionObserver]store.SessionObserver{}
	}
	h.observers[key] = o
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(h.observers, key)
	}
}

// forever is the trust horizon of in-process delivery, which cannot miss
// a change.
var forever = time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)

// WatchSessions implements [store.SessionFeed] for one process: o hears
// the changes this store commits (SQLite: the only process there is).
// store/postgres adds the changes other processes commit.
func (db *DB) WatchSessions(o store.SessionObserver) (stop func()) {
	db.hub.mu.Lock()
	o.ChannelLive(forever)
	db.hub.mu.Unlock()
	return db.hub.subscribe(o)
}

// WatchLocal subscribes o to this process's changes only, without
// vouching for other processes' (for store/postgres's listener).
func (db *DB) WatchLocal(o store.SessionObserver) (stop func()) { return db.hub.subscribe(o) }
