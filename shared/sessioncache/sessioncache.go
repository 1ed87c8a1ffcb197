// Package sessioncache keeps, in memory, the session state that
// access-token checks need, so a request is checked without a database
// round trip, while revocation stays immediate: the cache is a
// [store.SessionObserver] of the store's [store.SessionFeed], drops what a
// change names as soon as it is reported, and trusts nothing while the
// feed is down or has not vouched for itself recently. A miss, or any
// doubt, means the caller reads the database: never "allow".
package sessioncache

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// DefaultMaxEntries bounds a cache: about 200 bytes each, 20 MiB at most.
const DefaultMaxEntries = 100_000

// Cache is safe for concurrent use. The zero value is not usable: call [New].
type Cache struct {
	mu      sync.RWMutex
	entries map[string]store.Session
	byUser  map[string]map[string]struct{}
	// epoch changes with every reported change and every channel loss. A
	// database read is stored only if the epoch did not change while it
	// ran, so a change reported during the read cannot be overwritten by
	// the state from before it.
	epoch uint64
	live  bool
	until time.Time // trust horizon vouched for by the feed
	max   int
	clock func() time.Time // real time: the feed's horizon is real time

	hits, misses, stored, gaps atomic.Uint64
}

// Stats are counters for tests and metrics.
type Stats struct {
	Hits, Misses, Stored uint64
	Gaps                 uint64 // times the feed went down
	Live                 bool
	Entries              int
}

// New returns an empty cache holding at most max sessions
// ([DefaultMaxEntries] when max <= 0). clock is time.Now when nil.
func New(max int, clock func() time.Time) *Cache {
	if max <= 0 {
		max = DefaultMaxEntries
	}
	if clock == nil {
		clock = time.Now
	}
	return &Cache{entries: map[string]store.Session{}, byUser: map[string]map[string]struct{}{}, max: max, clock: clock}
}

// Ticket is what [Cache.Begin] hands to [Cache.Put].
type Ticket struct {
	epoch  uint64
	usable bool
}

// Get returns the cached check state of session id, if the feed is live
// and vouches for now. The caller still checks expiry and ownership.
func (c *Cache) Get(id string) (store.Session, bool) {
	c.mu.RLock()
	s, ok := c.entries[id]
	trusted := c.live && c.clock().Before(c.until)
	c.mu.RUnlock()
	if !ok || !trusted {
		c.misses.Add(1)
		return store.Session{}, false
	}
	c.hits.Add(1)
	return s, true
}

// Begin is called before the database read whose result may be stored.
func (c *Cache) Begin() Ticket {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return Ticket{epoch: c.epoch, usable: c.live}
}

// Put stores s (read after t was taken) unless a change or a channel loss
// was reported since, or the cache is full of other sessions. Only active
// sessions are worth storing; the caller decides.
func (c *Cache) Put(t Ticket, s store.Session) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !t.usable || !c.live || t.epoch != c.epoch {
		return
	}
	if _, ok := c.entries[s.ID]; !ok && len(c.entries) >= c.max {
		for id := range c.entries { // evict an arbitrary entry
			c.remove(id)
			break
		}
	}
	c.entries[s.ID] = s
	ids := c.byUser[s.UserID]
	if ids == nil {
		ids = map[string]struct{}{}
		c.byUser[s.UserID] = ids
	}
	ids[s.ID] = struct{}{}
	c.stored.Add(1)
}

// remove drops session id; c.mu is held.
func (c *Cache) remove(id string) {
	s, ok := c.entries[id]
	if !ok {
		return
	}
	delete(c.entries, id)
	if ids := c.byUser[s.UserID]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(c.byUser, s.UserID)
		}
	}
}

// SessionsChanged implements [store.SessionObserver].
func (c *Cache) SessionsChanged(ch store.SessionChange) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	switch {
	case ch.SessionID != "":
		c.remove(ch.SessionID)
	case ch.UserID != "":
		for id := range c.byUser[ch.UserID] {
			c.remove(id)
		}
	default:
		c.clear()
	}
}

// ChannelLive implements [store.SessionObserver].
func (c *Cache) ChannelLive(until time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live {
		c.live = true
		c.epoch++
	}
	c.until = until
}

// ChannelDown implements [store.SessionObserver]: everything learned so
// far is dropped, and nothing is stored until the feed is live again.
func (c *Cache) ChannelDown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live {
		c.gaps.Add(1)
	}
	c.live = false
	c.epoch++
	c.clear()
}

func (c *Cache) clear() {
	clear(c.entries)
	clear(c.byUser)
}

// Stats returns the counters and state.
func (c *Cache) Stats() Stats {
	c.mu.RLock()
	live, n := c.live && c.clock().Before(c.until), len(c.entries)
	c.mu.RUnlock()
	return Stats{Hits: c.hits.Load(), Misses: c.misses.Load(), Stored: c.stored.Load(), Gaps: c.gaps.Load(),
		Live: live, Entries: n}
}
