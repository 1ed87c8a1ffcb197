package store

import (
	"context"
	"time"
)

// RateDecision is the outcome of one rate-limit check.
type RateDecision struct {
	Allowed    bool
	RetryAfter time.Duration // when denied: how long until one more request is allowed
}

// RateLimits keeps generic cell rate algorithm (GCRA) state per key.
type RateLimits interface {
	// TakeRate spends one unit of the limit "burst requests per period" for
	// key at time now, in one atomic statement. A denied request spends
	// nothing.
	TakeRate(ctx context.Context, key string, burst int, period time.Duration, now time.Time) (RateDecision, error)
	// PurgeRates deletes state that no longer limits anything at now.
	PurgeRates(ctx context.Context, now time.Time) (int64, error)
}
