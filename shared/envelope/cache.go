package envelope

import (
	"container/list"
	"crypto/cipher"
	"sync"
	"time"
)

// keyCache holds the purpose ciphers of recently used data keys, so that a
// warm Open makes no KEK call. It is bounded in size (least recently used
// entries go first) and in time: an entry expires ttl after it was loaded,
// however often it is used, which bounds how long key material stays in
// memory and how long a key destroyed elsewhere stays usable here. Only
// derived ciphers are kept, never the data key itself.
type keyCache struct {
	mu      sync.Mutex
	limit   int
	ttl     time.Duration
	entries map[string]*list.Element // of *cacheEntry
	lru     *list.List               // front is most recently used
	gen     uint64                   // bumped by evict; see put
}

// cacheEntry is one unwrapped data key's ciphers, and when they expire.
type cacheEntry struct {
	id      string
	aeads   [numPurposes]cipher.AEAD
	expires time.Time
}

func newKeyCache(limit int, ttl time.Duration) *keyCache {
	return &keyCache{limit: limit, ttl: ttl, entries: make(map[string]*list.Element), lru: list.New()}
}

// get returns the entry of key id, if cached and fresh at now.
func (c *keyCache) get(id []byte, now time.Time) (*cacheEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[string(id)]
	if !ok {
		return nil, false
	}
	e := el.Value.(*cacheEntry)
	if !now.Before(e.expires) {
		c.remove(el)
		return nil, false
	}
	c.lru.MoveToFront(el)
	return e, true
}

// generation returns a token for put: a load that started before an evict
// must not put the evicted key back.
func (c *keyCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// newEntry makes the entry of key id loaded at now. Entries never change.
func (c *keyCache) newEntry(id string, aeads [numPurposes]cipher.AEAD, now time.Time) *cacheEntry {
	return &cacheEntry{id: id, aeads: aeads, expires: now.Add(c.ttl)}
}

// put caches e unless evict ran since gen was read.
func (c *keyCache) put(e *cacheEntry, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen || c.limit == 0 {
		return
	}
	if el, ok := c.entries[e.id]; ok {
		c.remove(el)
	}
	c.entries[e.id] = c.lru.PushFront(e)
	for c.lru.Len() > c.limit {
		c.remove(c.lru.Back())
	}
}

// evict drops id and stops loads in flight from caching it.
func (c *keyCache) evict(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if el, ok := c.entries[id]; ok {
		c.remove(el)
	}
}

func (c *keyCache) remove(el *list.Element) {
	delete(c.entries, el.Value.(*cacheEntry).id)
	c.lru.Remove(el)
}
