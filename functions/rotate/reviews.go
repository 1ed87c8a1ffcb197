package rotate

import (
	"context"
	"fmt"

	"github.com/gatehouse-dev/gatehouse/shared/accessreview"
)

// reviewBatch bounds the reviews one run starts.
const reviewBatch = 200

// startReviews runs the access-reviews task (AUTHZ-5): every organization
// older than a review period with no review completed in the last one,
// and none open, gets a review started by "schedule", and its owner an
// e-mail. A review already open is left to its owner (the admin API lists
// it as overdue).
func (r *Rotator) startReviews(ctx context.Context, rn *run) (result, error) {
	now := r.now()
	due, err := r.store.OverdueAccessReviews(ctx, now.Add(-accessreview.Period), reviewBatch)
	if err != nil {
		return result{}, fmt.Errorf("list overdue access reviews: %w", err)
	}
	counts := map[string]int64{"overdue": int64(len(due)), "started": 0, "open": 0}
	if rn.dry() {
		return result{counts: counts, note: "dry run: nothing started"}, nil
	}
	st := accessreview.Starter{Store: r.store, Audit: r.d.Audit, Notifier: r.d.Notifier, Config: r.d.Config, Rand: r.d.Rand}
	for _, o := range due {
		if !o.OpenSince.IsZero() {
			counts["open"]++
			continue
		}
		if _, started, err := st.Start(ctx, o.OrgID, accessreview.StartedBySchedule, now); err != nil {
			return result{counts: counts}, fmt.Errorf("start access review of %s: %w", o.OrgID, err)
		} else if started {
			counts["started"]++
		}
	}
	return result{counts: counts}, nil
}
