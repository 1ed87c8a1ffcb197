package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

// TakeRate implements [store.RateLimits] with the generic cell rate
// algorithm: each key keeps a theoretical arrival time (tat). A request at
// now is allowed when max(tat, now) + interval - now <= period, and then
// moves tat there; a denied request leaves tat alone. Check and update are
// one upsert, so concurrent requests cannot both take the last unit.
// Times are integer microseconds in both databases.
func (db *DB) TakeRate(ctx context.Context, key string, burst int, period time.Duration, now time.Time) (store.RateDecision, error) {
	if burst < 1 || period <= 0 {
		return store.RateDecision{}, fmt.Errorf("rate %q: burst %d per %s is not a limit", key, burst, period)
	}
	interval := period.Microseconds() / int64(burst)
	if interval < 1 {
		interval = 1
	}
	t := now.UnixMicro()
	var tat int64
	var denied bool
	err := db.conn.QueryRow(ctx, `
		INSERT INTO rate_limits AS r (key, tat, denied) VALUES ($1, $5, false)
		ON CONFLICT (key) DO UPDATE SET
			denied = (CASE WHEN r.tat > $2 THEN r.tat ELSE $2 END) + $3 > $4,
			tat = CASE WHEN (CASE WHEN r.tat > $2 THEN r.tat ELSE $2 END) + $3 > $4
				THEN r.tat ELSE (CASE WHEN r.tat > $2 THEN r.tat ELSE $2 END) + $3 END
		RETURNING tat, denied`,
		key, t, interval, t+period.Microseconds(), t+interval).Scan(&tat, &denied)
	if err != nil {
		return store.RateDecision{}, fmt.Errorf("take rate %q: %w", key, err)
	}
	if !denied {
		return store.RateDecision{Allowed: true}, nil
	}
	// One more unit frees up when tat + interval - period <= now.
	wait := time.Duration(tat+interval-period.Microseconds()-t) * time.Microsecond
	return store.RateDecision{RetryAfter: max(wait, time.Microsecond)}, nil
}

// PurgeRates implements [store.RateLimits]: a key whose tat is in the past
// is indistinguishable from a key never seen.
func (db *DB) PurgeRates(ctx context.Context, now time.Time) (int64, error) {
	n, err := db.conn.Exec(ctx, `DELETE FROM rate_limits WHERE tat <= $1`, now.UnixMicro())
	if err != nil {
		return 0, fmt.Errorf("purge rate limits: %w", err)
	}
	return n, nil
}
