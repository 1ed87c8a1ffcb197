package sqlstore

import (
	"context"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const deliveryColumns = `id, event_id, event_type, endpoint, body, state, attempts, created_at, next_attempt_at,
	updated_at, last_status, last_error, delivered_at`

func scanDelivery(r Row) (store.EventDelivery, error) {
	var d store.EventDelivery
	var delivered *time.Time
	err := r.Scan(&d.ID, &d.EventID, &d.EventType, &d.Endpoint, &d.Body, &d.State, &d.Attempts, &d.CreatedAt,
		&d.NextAttemptAt, &d.UpdatedAt, &d.LastStatus, &d.LastError, &delivered)
	d.DeliveredAt = derefTime(delivered)
	return d, err
}

// EnqueueEventDelivery implements [store.EventDeliveries].
func (db *DB) EnqueueEventDelivery(ctx context.Context, d store.EventDelivery) error {
	_, err := db.conn.Exec(ctx, `INSERT INTO event_deliveries (id, event_id, event_type, endpoint, body, state, attempts,
		created_at, next_attempt_at, updated_at, last_status, last_error)
		VALUES ($1, $2, $3, $4, $5, 'pending', 0, $6, $7, $6, 0, '')`,
		d.ID, d.EventID, d.EventType, d.Endpoint, d.Body, d.CreatedAt, d.NextAttemptAt)
	if err != nil {
		return fmt.Errorf("enqueue event delivery %s: %w", d.ID, err)
	}
	return nil
}

// EventDelivery implements [store.EventDeliveries].
func (db *DB) EventDelivery(ctx context.Context, id string) (store.EventDelivery, error) {
	return scanDelivery(db.conn.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM event_deliveries WHERE id = $1`, id))
}

// DueEventDeliveries implements [store.EventDeliveries].
func (db *DB) DueEventDeliveries(ctx context.Context, now time.Time, limit int) ([]store.EventDelivery, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+deliveryColumns+` FROM event_deliveries
		WHERE state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at, id LIMIT $2`, now, limit)
	ds, err := collect(rows, err, func(r Rows) (store.EventDelivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, fmt.Errorf("due event deliveries: %w", err)
	}
	return ds, nil
}

// LeaseEventDelivery implements [store.EventDeliveries]. As with
// [DB.LeaseOutbox], the conditional UPDATE decides: once one caller has
// moved next_attempt_at past now, the row no longer matches for the others.
func (db *DB) LeaseEventDelivery(ctx context.Context, id string, now, until time.Time) (store.EventDelivery, error) {
	d, err := scanDelivery(db.conn.QueryRow(ctx, `UPDATE event_deliveries
		SET next_attempt_at = $3, leased_until = $3, attempts = attempts + 1, updated_at = $2
		WHERE id = $1 AND state = 'pending' AND next_attempt_at <= $2
		RETURNING `+deliveryColumns, id, now, until))
	if err == nil || !notFound(err) {
		return d, err
	}
	if _, err := db.EventDelivery(ctx, id); err != nil {
		return store.EventDelivery{}, err
	}
	return store.EventDelivery{}, store.ErrUsed
}

// FinishEventDelivery implements [store.EventDeliveries].
func (db *DB) FinishEventDelivery(ctx context.Context, id string, attempt int, r store.DeliveryResult) error {
	next, delivered := r.At, (*time.Time)(nil)
	switch r.State {
	case store.DeliveryPending:
		next = r.NextAttemptAt
	case store.DeliveryDelivered:
		delivered = &r.At
	case store.DeliveryDead:
	default:
		return fmt.Errorf("finish event delivery %s: unknown state %q", id, r.State)
	}
	n, err := db.conn.Exec(ctx, `UPDATE event_deliveries SET state = $3, next_attempt_at = $4, updated_at = $5,
		last_status = $6, last_error = $7, delivered_at = $8, leased_until = NULL
		WHERE id = $1 AND state = 'pending' AND attempts = $2 AND leased_until IS NOT NULL`,
		id, attempt, string(r.State), next, r.At, r.Status, r.Error, delivered)
	if err != nil {
		return fmt.Errorf("finish event delivery %s: %w", id, err)
	}
	if n == 0 {
		if _, err := db.EventDelivery(ctx, id); err != nil {
			return err
		}
		return store.ErrUsed
	}
	return nil
}

// ListEventDeliveries implements [store.EventDeliveries].
func (db *DB) ListEventDeliveries(ctx context.Context, state store.DeliveryState, after string, limit int) ([]store.EventDelivery, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+deliveryColumns+` FROM event_deliveries
		WHERE ($1 = '' OR state = $1) AND id > $2 ORDER BY id LIMIT $3`, string(state), after, max(limit, 1))
	ds, err := collect(rows, err, func(r Rows) (store.EventDelivery, error) { return scanDelivery(r) })
	if err != nil {
		return nil, fmt.Errorf("list event deliveries: %w", err)
	}
	return ds, nil
}

// RedeliverEventDelivery implements [store.EventDeliveries].
func (db *DB) RedeliverEventDelivery(ctx context.Context, id string, now time.Time) (store.EventDelivery, error) {
	d, err := scanDelivery(db.conn.QueryRow(ctx, `UPDATE event_deliveries
		SET state = 'pending', attempts = 0, next_attempt_at = $2, updated_at = $2, delivered_at = NULL, leased_until = NULL
		WHERE id = $1 AND state IN ('dead', 'delivered')
		RETURNING `+deliveryColumns, id, now))
	if err == nil || !notFound(err) {
		return d, err
	}
	if _, err := db.EventDelivery(ctx, id); err != nil {
		return store.EventDelivery{}, err
	}
	return store.EventDelivery{}, store.ErrConflict
}

// PurgeEventDeliveries implements [store.EventDeliveries].
func (db *DB) PurgeEventDeliveries(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.conn.Exec(ctx, `DELETE FROM event_deliveries WHERE state <> 'pending' AND updated_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge event deliveries: %w", err)
	}
	return n, nil
}
