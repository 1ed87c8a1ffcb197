// Package ratelimit enforces named limits on the store, failing closed: a
// limiter that cannot answer denies (APP-5).
package ratelimit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
	"github.com/gatehouse-dev/gatehouse/shared/timetext"
	"github.com/gatehouse-dev/gatehouse/shared/web"
)

// Limit is a named rate: at most Burst requests per Period for one key,
// refilled evenly (a request every Period/Burst).
type Limit struct {
	Name   string // e.g. "login-account", "login-network"
	Burst  int
	Period time.Duration
}

// ErrUnavailable wraps any failure to consult the store. The request must be
// denied (HTTP 503), never waved through.
var ErrUnavailable = errors.New("rate limiter unavailable")

// LimitedError reports a denied request.
type LimitedError struct {
	Limit      string
	RetryAfter time.Duration
}

func (e *LimitedError) Error() string {
	return fmt.Sprintf("rate limit %s exceeded; retry after %s", e.Limit, timetext.Duration(e.RetryAfter))
}

// Limiter checks limits against a store.
type Limiter struct {
	store store.RateLimits
	now   func() time.Time
	rates Rates // configured rates by limit name; nil uses each Limit's own
	// denied, if set, is told of every denial (metrics).
	denied func(ctx context.Context, limit string)
}

// New returns a Limiter on s; now is the clock (time.Now if nil).
func New(s store.RateLimits, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{store: s, now: now}
}

// Use makes the Limiter apply rates (from [Load]) instead of each limit's
// own rate; a limit rates does not name keeps its own. Call it before the
// Limiter is shared.
func (l *Limiter) Use(rates Rates) { l.rates = rates }

// OnDenial makes the Limiter tell f of every denial, by limit name. Call
// it before the Limiter is shared.
func (l *Limiter) OnDenial(f func(ctx context.Context, limit string)) { l.denied = f }

// Allow spends one request of limit for key. It returns nil when allowed, a
// [*LimitedError] when denied, and an error wrapping [ErrUnavailable] when
// the store cannot answer. The key (an email address, a network) is stored
// only as a hash.
func (l *Limiter) Allow(ctx context.Context, limit Limit, key string) error {
	if r, ok := l.rates[limit.Name]; ok {
		limit.Burst, limit.Period = r.Burst, r.Period
	}
	d, err := l.store.TakeRate(ctx, storageKey(limit.Name, key), limit.Burst, limit.Period, l.now())
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnavailable, limit.Name, err)
	}
	if !d.Allowed {
		if l.denied != nil {
			l.denied(ctx, limit.Name)
		}
		return &LimitedError{Limit: limit.Name, RetryAfter: d.RetryAfter}
	}
	return nil
}

// Check is one limit applied to one key.
type Check struct {
	Limit Limit
	Key   string
}

// AllowAll applies every check in order and returns the first denial or
// failure. Later checks are not spent once one denies.
func (l *Limiter) AllowAll(ctx context.Context, checks ...Check) error {
	for _, c := range checks {
		if err := l.Allow(ctx, c.Limit, c.Key); err != nil {
			return err
		}
	}
	return nil
}

// HTTPError maps an answer of [Limiter.Allow] or [Limiter.AllowAll] to what
// a handler returns: nil when allowed, a 429 [*web.Error] with Retry-After
// when denied, and a 503 when the limiter could not answer, so the request
// is denied, never waved through. The limiter's error is kept as the cause,
// for the log.
func HTTPError(err error) error {
	var le *LimitedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		return web.TooManyRequests(le.RetryAfter).WithCause(err)
	default:
		return web.Unavailable(err)
	}
}

func storageKey(name, key string) string {
	sum := sha256.Sum256([]byte(key))
	return name + ":" + hex.EncodeToString(sum[:16])
}
