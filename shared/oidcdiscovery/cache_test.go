package oidcdiscovery_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/oidcdiscovery"
	"github.com/gatehouse-dev/gatehouse/shared/outbound/outboundtest"
)

// A failed discovery is remembered for FailureTTL: many requests, even
// concurrent ones, cause one fetch; after FailureTTL it is tried again.
//
// Controls: APP-7
func TestCacheRemembersFailures(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		time.Sleep(20 * time.Millisecond)
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	clk := &clock{now: time.Unix(1_700_000_000, 0)}
	c := oidcdiscovery.NewCache(outboundtest.Client(t, srv), 0, 0, clk.Now)
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Discover(context.Background(), srv.URL); err == nil {
				t.Error("discovery of a failing issuer succeeded")
			}
		}()
	}
	wg.Wait()
	if _, err := c.Discover(context.Background(), srv.URL); causeOf(err) != oidcdiscovery.CauseFailureCached {
		t.Fatalf("within FailureTTL: %v", err)
	}
	if n := hits.Load(); n != 1 {
		t.Fatalf("%d fetches, want 1", n)
	}
	clk.Add(oidcdiscovery.FailureTTL)
	if _, err := c.Discover(context.Background(), srv.URL); causeOf(err) != oidcdiscovery.CauseStatus || hits.Load() != 2 {
		t.Fatalf("after FailureTTL: %v, %d fetches", err, hits.Load())
	}
}

// The cache is bounded in entries, and entries of issuers no longer used
// are evicted after the TTL.
//
// Controls: APP-7
func TestCacheBoundedAndEvictsAbandoned(t *testing.T) {
	c := oidcdiscovery.NewCache(outboundtest.Client(t), 8, 200*time.Millisecond, nil)
	for i := range 100 {
		c.Keys(fmt.Sprintf("https://idp%d.example.com", i), "https://keys.example.com/jwks")
	}
	if _, keys := c.Len(); keys > 8 {
		t.Fatalf("%d key sets held, bound 8", keys)
	}
	first := c.Keys("https://idp99.example.com", "https://keys.example.com/jwks")
	if again := c.Keys("https://idp99.example.com", "https://keys.example.com/jwks"); again != first {
		t.Fatal("a cached key set was not reused")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if _, keys := c.Len(); keys == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("abandoned issuers' key sets were never evicted")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if c.Keys("https://idp99.example.com", "https://keys.example.com/jwks") == first {
		t.Fatal("an evicted key set came back")
	}
}
