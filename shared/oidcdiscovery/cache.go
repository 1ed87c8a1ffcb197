package oidcdiscovery

import (
	"context"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/hashicorp/golang-lru/v2/expirable"
	"golang.org/x/sync/singleflight"

	"github.com/gatehouse-dev/gatehouse/shared/outbound"
)

// Cache bounds, see [NewCache].
const (
	DefaultSize = 512
	DefaultTTL  = time.Hour
	// FailureTTL is how long a failed discovery is remembered: requests
	// in that time get the failure without a fetch.
	FailureTTL = time.Minute
)

// Cache keeps discovery results and key sets in memory, bounded in
// entries (least recently used evicted first) and in age (an entry is
// dropped TTL after it was made, so issuers no longer used disappear and
// used ones are fetched again). It is safe for concurrent use.
type Cache struct {
	client *outbound.Client
	now    func() time.Time
	docs   *expirable.LRU[string, discovered]
	keys   *expirable.LRU[string, *KeySet]
	flight singleflight.Group
}

type discovered struct {
	meta  Metadata
	err   error
	until time.Time // a failure is served until then
}

// NewCache returns a cache of at most size discovery documents and size
// key sets, each kept at most ttl; zero values take the defaults.
func NewCache(c *outbound.Client, size int, ttl time.Duration, now func() time.Time) *Cache {
	if size <= 0 {
		size = DefaultSize
	}
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	if now == nil {
		now = time.Now
	}
	return &Cache{client: c, now: now, docs: expirable.NewLRU[string, discovered](size, nil, ttl),
		keys: expirable.NewLRU[string, *KeySet](size, nil, ttl)}
}

// Discover returns issuer's metadata, from the cache or fetched through
// [Discover]. A failure is cached for [FailureTTL]: until then the same
// [*Error] comes back without a request. Concurrent callers share one
// fetch.
func (c *Cache) Discover(ctx context.Context, issuer string) (Metadata, error) {
	if d, ok := c.docs.Get(issuer); ok && (d.err == nil || c.now().Before(d.until)) {
		if d.err != nil {
			return Metadata{}, &Error{Cause: CauseFailureCached, Err: d.err}
		}
		return d.meta, nil
	}
	v, _, _ := c.flight.Do(issuer, func() (any, error) {
		m, err := Discover(context.WithoutCancel(ctx), c.client, issuer)
		d := discovered{meta: m, err: err, until: c.now().Add(FailureTTL)}
		c.docs.Add(issuer, d)
		return d, nil
	})
	d := v.(discovered)
	return d.meta, d.err
}

// Keys returns the key set of issuer at jwksURL, made (empty: fetched on
// first use) if the cache does not hold it.
func (c *Cache) Keys(issuer, jwksURL string) *KeySet {
	k := issuer + "\n" + jwksURL
	if ks, ok := c.keys.Get(k); ok {
		return ks
	}
	ks := NewKeySet(c.client, jwksURL, nil, c.now)
	c.keys.Add(k, ks) // a concurrent caller may add its own: either serves
	return ks
}

// Remember stores keys just fetched for issuer at jwksURL (after a
// configuration was saved), replacing what the cache held.
func (c *Cache) Remember(issuer, jwksURL string, keys []jose.JSONWebKey) {
	c.keys.Add(issuer+"\n"+jwksURL, NewKeySet(c.client, jwksURL, keys, c.now))
}

// Len returns the number of discovery documents and key sets held.
func (c *Cache) Len() (docs, keys int) { return c.docs.Len(), c.keys.Len() }
