package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const reviewColumns = `id, org_id, started_by, started_at, completed_by, completed_at`

func scanReview(r Row) (store.AccessReview, error) {
	var a store.AccessReview
	var done *time.Time
	err := r.Scan(&a.ID, &a.OrgID, &a.StartedBy, &a.StartedAt, &a.CompletedBy, &done)
	a.CompletedAt = derefTime(done)
	return a, err
}

// CreateAccessReview implements [store.AccessReviews]. The partial unique
// index on open reviews decides between concurrent starts.
func (db *DB) CreateAccessReview(ctx context.Context, a store.AccessReview) error {
	return db.tx(ctx, func(c Conn) error {
		var id string
		if err := c.QueryRow(ctx, `SELECT id FROM orgs WHERE id = $1`, a.OrgID).Scan(&id); err != nil {
			return fmt.Errorf("start access review of %s: %w", a.OrgID, err)
		}
		_, err := c.Exec(ctx, `INSERT INTO access_reviews (`+reviewColumns+`) VALUES ($1, $2, $3, $4, '', NULL)`,
			a.ID, a.OrgID, a.StartedBy, a.StartedAt)
		if err != nil {
			return fmt.Errorf("start access review of %s: %w", a.OrgID, err)
		}
		return nil
	})
}

// OpenAccessReview implements [store.AccessReviews].
func (db *DB) OpenAccessReview(ctx context.Context, orgID string) (store.AccessReview, error) {
	a, err := scanReview(db.conn.QueryRow(ctx, `SELECT `+reviewColumns+` FROM access_reviews
		WHERE org_id = $1 AND completed_at IS NULL`, orgID))
	if err != nil {
		return a, fmt.Errorf("read open access review of %s: %w", orgID, err)
	}
	return a, nil
}

// AccessReview implements [store.AccessReviews].
func (db *DB) AccessReview(ctx context.Context, orgID, id string) (store.AccessReview, error) {
	a, err := scanReview(db.conn.QueryRow(ctx, `SELECT `+reviewColumns+` FROM access_reviews WHERE org_id = $1 AND id = $2`,
		orgID, id))
	if err != nil {
		return a, fmt.Errorf("read access review %s: %w", id, err)
	}
	return a, nil
}

// SetAccessReviewDecision implements [store.AccessReviews].
func (db *DB) SetAccessReviewDecision(ctx context.Context, orgID string, d store.AccessReviewDecision) error {
	return db.tx(ctx, func(c Conn) error {
		var id string
		if err := c.QueryRow(ctx, `SELECT id FROM access_reviews WHERE org_id = $1 AND id = $2 AND completed_at IS NULL`,
			orgID, d.ReviewID).Scan(&id); err != nil {
			return fmt.Errorf("decide in access review %s: %w", d.ReviewID, err)
		}
		_, err := c.Exec(ctx, `INSERT INTO access_review_decisions (review_id, user_id, decision, decided_by, decided_at)
			VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (review_id, user_id) DO UPDATE SET decision = excluded.decision, decided_by = excluded.decided_by,
				decided_at = excluded.decided_at`, d.ReviewID, d.UserID, d.Decision, d.DecidedBy, d.DecidedAt)
		if err != nil {
			return fmt.Errorf("decide in access review %s: %w", d.ReviewID, err)
		}
		return nil
	})
}

// AccessReviewDecisions implements [store.AccessReviews].
func (db *DB) AccessReviewDecisions(ctx context.Context, reviewID string) ([]store.AccessReviewDecision, error) {
	rows, err := db.conn.Query(ctx, `SELECT review_id, user_id, decision, decided_by, decided_at FROM access_review_decisions
		WHERE review_id = $1 ORDER BY user_id`, reviewID)
	return collect(rows, err, func(r Rows) (store.AccessReviewDecision, error) {
		var d store.AccessReviewDecision
		err := r.Scan(&d.ReviewID, &d.UserID, &d.Decision, &d.DecidedBy, &d.DecidedAt)
		return d, err
	})
}

// CompleteAccessReview implements [store.AccessReviews].
func (db *DB) CompleteAccessReview(ctx context.Context, orgID, id, by string, at time.Time) error {
	n, err := db.conn.Exec(ctx, `UPDATE access_reviews SET completed_by = $3, completed_at = $4
		WHERE org_id = $1 AND id = $2 AND completed_at IS NULL`, orgID, id, by, at)
	return changedOne(n, err, "complete access review "+id)
}

// OverdueAccessReviews implements [store.AccessReviews].
func (db *DB) OverdueAccessReviews(ctx context.Context, since time.Time, limit int) ([]store.OverdueAccessReview, error) {
	rows, err := db.conn.Query(ctx, `SELECT o.id, o.created_at,
			(SELECT max(completed_at) FROM access_reviews r WHERE r.org_id = o.id AND r.completed_at IS NOT NULL),
			(SELECT started_at FROM access_reviews r WHERE r.org_id = o.id AND r.completed_at IS NULL)
		FROM orgs o
		WHERE o.created_at < $1 AND NOT EXISTS (
			SELECT 1 FROM access_reviews r WHERE r.org_id = o.id AND r.completed_at IS NOT NULL AND r.completed_at >= $1)
		ORDER BY o.created_at, o.id LIMIT $2`, since, limit)
	return collect(rows, err, func(r Rows) (store.OverdueAccessReview, error) {
		var o store.OverdueAccessReview
		var last, open *time.Time
		err := r.Scan(&o.OrgID, &o.OrgCreatedAt, &last, &open)
		o.LastCompleted, o.OpenSince = derefTime(last), derefTime(open)
		return o, err
	})
}
