package sessioncache

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func newLive(max int) (*Cache, *fakeClock) {
	clk := &fakeClock{t: t0}
	c := New(max, clk.now)
	c.ChannelLive(t0.Add(time.Second))
	return c, clk
}

func sess(id, user string) store.Session { return store.Session{ID: id, UserID: user} }

func put(c *Cache, s store.Session) { c.Put(c.Begin(), s) }

func mustMiss(t *testing.T, c *Cache, id, why string) {
	t.Helper()
	if _, ok := c.Get(id); ok {
		t.Fatalf("%s: %s still served from the cache", why, id)
	}
}

func mustHit(t *testing.T, c *Cache, id string) {
	t.Helper()
	if s, ok := c.Get(id); !ok || s.ID != id {
		t.Fatalf("%s not served from the cache", id)
	}
}

// Controls: AUTH-6, APP-5
func TestChangesDropEntries(t *testing.T) {
	c, _ := newLive(0)
	for _, s := range []store.Session{sess("s1", "u1"), sess("s2", "u1"), sess("s3", "u2"), sess("s4", "u3")} {
		put(c, s)
	}
	mustHit(t, c, "s1")
	c.SessionsChanged(store.SessionChange{SessionID: "s1"})
	mustMiss(t, c, "s1", "session change")
	mustHit(t, c, "s2")
	c.SessionsChanged(store.SessionChange{UserID: "u1"})
	mustMiss(t, c, "s2", "user change")
	mustHit(t, c, "s3")
	c.SessionsChanged(store.SessionChange{})
	mustMiss(t, c, "s3", "change of every session")
	mustMiss(t, c, "s4", "change of every session")
}

// A read that a change overtook is not stored: the change was reported
// while the (older) state was being read.
//
// Controls: AUTH-6
func TestChangeDuringReadIsNotOverwritten(t *testing.T) {
	c, _ := newLive(0)
	ticket := c.Begin()
	c.SessionsChanged(store.SessionChange{SessionID: "other"}) // any change: the read may predate it
	c.Put(ticket, sess("s1", "u1"))
	mustMiss(t, c, "s1", "read begun before a change")
	put(c, sess("s1", "u1"))
	mustHit(t, c, "s1")
}

// Down, the cache serves nothing and stores nothing; what it knew before
// the gap is gone after it, and a read begun before the gap is not stored
// after it.
//
// Controls: AUTH-6, APP-5
func TestGapForgetsEverything(t *testing.T) {
	c, _ := newLive(0)
	put(c, sess("s1", "u1"))
	ticket := c.Begin()
	c.ChannelDown()
	mustMiss(t, c, "s1", "channel down")
	put(c, sess("s2", "u2"))
	mustMiss(t, c, "s2", "stored while down")
	c.ChannelLive(t0.Add(time.Second))
	mustMiss(t, c, "s1", "learned before the gap")
	c.Put(ticket, sess("s3", "u3"))
	mustMiss(t, c, "s3", "read begun before the gap")
	if st := c.Stats(); st.Gaps != 1 || !st.Live {
		t.Fatalf("stats %+v, want one gap and live", st)
	}
}

// The feed's vouching expires: without a fresh heartbeat (a silently dead
// connection, a starved listener) the cache is bypassed.
//
// Controls: AUTH-6, APP-5
func TestTrustExpiresWithoutHeartbeat(t *testing.T) {
	c, clk := newLive(0)
	put(c, sess("s1", "u1"))
	mustHit(t, c, "s1")
	clk.t = t0.Add(time.Second)
	mustMiss(t, c, "s1", "horizon passed")
	c.ChannelLive(t0.Add(2 * time.Second))
	mustHit(t, c, "s1")
}

// The cache holds at most max sessions.
func TestBounded(t *testing.T) {
	c, _ := newLive(3)
	for _, id := range []string{"a", "b", "c", "d", "e"} {
		put(c, sess(id, "u-"+id))
	}
	if st := c.Stats(); st.Entries != 3 {
		t.Fatalf("%d entries, want 3", st.Entries)
	}
	mustHit(t, c, "e")
	if len(c.byUser) != 3 {
		t.Fatalf("user index holds %d users, want 3", len(c.byUser))
	}
}
