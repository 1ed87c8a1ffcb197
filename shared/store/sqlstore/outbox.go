package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/gatehouse-dev/gatehouse/shared/store"
)

const outboxColumns = `id, topic, data, attributes, created_at, next_attempt_at, attempts, published_at`

func scanOutbox(r Row) (store.OutboxMessage, error) {
	var m store.OutboxMessage
	var attrs string
	var published *time.Time
	if err := r.Scan(&m.ID, &m.Topic, &m.Data, &attrs, &m.CreatedAt, &m.NextAttemptAt, &m.Attempts, &published); err != nil {
		return m, err
	}
	m.PublishedAt = derefTime(published)
	if err := json.Unmarshal([]byte(attrs), &m.Attributes); err != nil {
		return m, fmt.Errorf("decode attributes of outbox message %s: %w", m.ID, err)
	}
	return m, nil
}

// EnqueueOutbox implements [store.Outbox].
func (db *DB) EnqueueOutbox(ctx context.Context, m store.OutboxMessage) error {
	if m.Attributes == nil {
		m.Attributes = map[string]string{}
	}
	attrs, err := json.Marshal(m.Attributes)
	if err != nil {
		return fmt.Errorf("encode attributes of outbox message %s: %w", m.ID, err)
	}
	_, err = db.conn.Exec(ctx, `INSERT INTO outbox (id, topic, data, attributes, created_at, next_attempt_at, attempts)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, m.ID, m.Topic, m.Data, string(attrs), m.CreatedAt, m.NextAttemptAt, m.Attempts)
	if err != nil {
		return fmt.Errorf("enqueue outbox message %s: %w", m.ID, err)
	}
	return nil
}

// OutboxMessage implements [store.Outbox].
func (db *DB) OutboxMessage(ctx context.Context, id string) (store.OutboxMessage, error) {
	return scanOutbox(db.conn.QueryRow(ctx, `SELECT `+outboxColumns+` FROM outbox WHERE id = $1`, id))
}

// DueOutbox implements [store.Outbox].
func (db *DB) DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxMessage, error) {
	rows, err := db.conn.Query(ctx, `SELECT `+outboxColumns+` FROM outbox
		WHERE published_at IS NULL AND topic <> '' AND next_attempt_at <= $1
		ORDER BY next_attempt_at, id LIMIT $2`, now, limit)
	return collect(rows, err, func(r Rows) (store.OutboxMessage, error) { return scanOutbox(r) })
}

// LeaseOutbox implements [store.Outbox]. The conditional UPDATE decides:
// once one caller has moved next_attempt_at past now, the row no longer
// matches for the others.
func (db *DB) LeaseOutbox(ctx context.Context, id string, now, until time.Time) (store.OutboxMessage, error) {
	m, err := scanOutbox(db.conn.QueryRow(ctx, `UPDATE outbox SET next_attempt_at = $3, attempts = attempts + 1
		WHERE id = $1 AND published_at IS NULL AND next_attempt_at <= $2
		RETURNING `+outboxColumns, id, now, until))
	if err == nil || !notFound(err) {
		return m, err
	}
	if _, err := db.OutboxMessage(ctx, id); err != nil {
		return store.OutboxMessage{}, err
	}
	return store.OutboxMessage{}, store.ErrUsed
}

// MarkOutboxPublished implements [store.Outbox].
func (db *DB) MarkOutboxPublished(ctx context.Context, id string, at time.Time) error {
	n, err := db.conn.Exec(ctx, `UPDATE outbox SET published_at = $2 WHERE id = $1 AND published_at IS NULL`, id, at)
	if err != nil {
		return fmt.Errorf("mark outbox message %s published: %w", id, err)
	}
	if n == 0 {
		if _, err := db.OutboxMessage(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// PurgeOutbox implements [store.Outbox].
func (db *DB) PurgeOutbox(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.conn.Exec(ctx, `DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < $1`, before)
	if err != nil {
		return 0, fmt.Errorf("purge outbox: %w", err)
	}
	return n, nil
}
