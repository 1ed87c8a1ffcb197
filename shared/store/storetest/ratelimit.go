package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

// Controls: AUTH-3
func testRateLimit(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	const burst, period = 3, time.Minute
	now := epoch
	for i := range burst {
		d, err := s.TakeRate(ctx, "login:acct", burst, period, now)
		if err != nil || !d.Allowed {
			t.Fatalf("request %d: %+v, %v; want allowed", i, d, err)
		}
	}
	d, err := s.TakeRate(ctx, "login:acct", burst, period, now)
	if err != nil || d.Allowed || d.RetryAfter != period/burst {
		t.Fatalf("over the burst: %+v, %v; want denied with RetryAfter %v", d, err, period/burst)
	}
	if d, _ := s.TakeRate(ctx, "login:other", burst, period, now); !d.Allowed {
		t.Fatal("keys are not independent")
	}
	if d, _ := s.TakeRate(ctx, "login:acct", burst, period, now.Add(period/burst-time.Second)); d.Allowed {
		t.Fatal("allowed before RetryAfter elapsed")
	}
	if d, _ := s.TakeRate(ctx, "login:acct", burst, period, now.Add(period/burst)); !d.Allowed {
		t.Fatal("denied after RetryAfter elapsed")
	}
	if _, err := s.TakeRate(ctx, "bad", 0, period, now); err == nil {
		t.Fatal("a zero burst was accepted")
	}
	n, err := s.PurgeRates(ctx, now.Add(2*period))
	if err != nil || n != 2 {
		t.Fatalf("PurgeRates = %d, %v; want 2", n, err)
	}
}

// Controls: AUTH-3
func testRateLimitConcurrent(t *testing.T, open Opener) {
	s, ctx := open(t), context.Background()
	const burst = 10
	var allowed atomic.Int64
	errs := race(50, func(int) error {
		d, err := s.TakeRate(ctx, "k", burst, time.Hour, epoch)
		if d.Allowed {
			allowed.Add(1)
		}
		return err
	})
	for _, err := range errs {
		if err != nil {
			t.Errorf("TakeRate: %v", err)
		}
	}
	if allowed.Load() != burst {
		t.Fatalf("%d of 50 concurrent requests allowed, want exactly %d", allowed.Load(), burst)
	}
}
