package postgres

import (
	"context"
	"fmt"
	"herald/schedule/store"
	"time"

	"github.com/jackc/pgx/v5"
)

// ClaimDeliveries claims up to limit deliveries due at now (pending, or
// retry whose time has come), oldest due first, in one statement: the rows
// are picked with FOR UPDATE SKIP LOCKED, so daemons claiming at once each
// get different rows and never wait for each other, and are moved to
// sending with their attempt counted before the caller sends.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: claim deliveries: limit %d must be positive", limit)
	}
	now = now.UTC().Truncate(time.Second)
	rows, err := db.pool.Query(ctx, `
WITH claimed AS (
    UPDATE deliveries SET state = 'sending', attempts = attempts + 1, updated_at = $1
    WHERE id IN (
        SELECT id FROM deliveries
        WHERE state IN ('pending', 'retry') AND next_attempt_at <= $1
        ORDER BY next_attempt_at, id LIMIT $2
        FOR UPDATE SKIP LOCKED)
    RETURNING id, mailing_id, subscriber_id, attempts, queued_at, created_at, next_attempt_at)
SELECT c.id, c.mailing_id, c.subscriber_id, s.email, s.name, c.attempts, c.queued_at, c.created_at
FROM claimed c JOIN subscribers s ON s.id = c.subscriber_id
ORDER BY c.next_attempt_at, c.id`, unix(now), limit)
	if err != nil {
		return nil, db.wrap("claim deliveries", err)
	}
	defer rows.Close()
	var list []store.Delivery
	for rows.Next() {
		var (
			d               store.Delivery
			queued, created int64
		)
		if err := rows.Scan(&d.ID, &d.MailingID, &d.SubscriberID, &d.Email, &d.Name, &d.Attempts, &queued, &created); err != nil {
			return nil, db.wrap("claim deliveries", err)
		}
		d.QueuedAt, d.CreatedAt = fromUnix(queued), fromUnix(created)
		list = append(list, d)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap("claim deliveries", err)
	}
	return list, nil
}

// mark runs one outcome UPDATE on a sending delivery. ErrNotFound when
// delivery id is not sending.
func (db *DB) mark(ctx context.Context, op string, id int64, query string, args ...any) error {
	tag, err := db.pool.Exec(ctx, query, args...)
	if err != nil {
		return db.wrap(fmt.Sprintf("%s delivery #%d", op, id), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: %s delivery #%d: not in flight: %w", op, id, store.ErrNotFound)
	}
	return nil
}

// MarkSent records that delivery id was accepted by the server at now.
func (db *DB) MarkSent(ctx context.Context, now time.Time, id int64) error {
	return db.mark(ctx, "mark sent", id, `
UPDATE deliveries SET state = 'sent', sent_at = $1, updated_at = $1, last_code = 0, last_error = ''
WHERE id = $2 AND state = 'sending'`, unix(now), id)
}

// MarkRetry records a temporary failure of delivery id and schedules its
// next attempt at next.
func (db *DB) MarkRetry(ctx context.Context, now time.Time, id int64, next time.Time, code int, text string) error {
	return db.mark(ctx, "mark retry", id, `
UPDATE deliveries SET state = 'retry', next_attempt_at = $1, last_code = $2, last_error = $3, updated_at = $4
WHERE id = $5 AND state = 'sending'`, unix(next), code, text, unix(now), id)
}

// MarkFailed records that delivery id failed for good.
func (db *DB) MarkFailed(ctx context.Context, now time.Time, id int64, code int, text string) error {
	return db.mark(ctx, "mark failed", id, `
UPDATE deliveries SET state = 'failed', last_code = $1, last_error = $2, updated_at = $3
WHERE id = $4 AND state = 'sending'`, code, text, unix(now), id)
}

// recordOutcome is the UPDATE of one outcome: $1 now, $2 state, $3 next
// attempt, $4 code, $5 text, $6 delivery id.
const recordOutcome = `
UPDATE deliveries SET
    state           = $2::text,
    sent_at         = CASE WHEN $2::text = 'sent'  THEN $1::bigint ELSE sent_at END,
    next_attempt_at = CASE WHEN $2::text = 'retry' THEN $3::bigint ELSE next_attempt_at END,
    last_code       = $4,
    last_error      = $5,
    updated_at      = $1::bigint
WHERE id = $6 AND state = 'sending'`

// RecordOutcomes records several sends at now in one transaction and one
// round trip; outcomes of deliveries no longer in flight are ignored; the
// result counts those recorded.
func (db *DB) RecordOutcomes(ctx context.Context, now time.Time, outcomes []store.Outcome) (int, error) {
	if len(outcomes) == 0 {
		return 0, nil
	}
	for _, o := range outcomes {
		switch o.State {
		case store.DeliverySent, store.DeliveryRetry, store.DeliveryFailed:
		default:
			return 0, fmt.Errorf("store: record outcomes: delivery #%d: state %q is not sent, retry or failed", o.ID, o.State)
		}
	}
	now = now.UTC()
	var recorded int
	err := db.inTx(ctx, "record delivery outcomes", func(tx pgx.Tx) error {
		recorded = 0
		b := &pgx.Batch{}
		for _, o := range outcomes {
			b.Queue(recordOutcome, unix(now), string(o.State), unix(o.Next), o.Code, o.Text, o.ID)
		}
		br := tx.SendBatch(ctx, b)
		for _, o := range outcomes {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return fmt.Errorf("delivery #%d: %w", o.ID, err)
			}
			recorded += int(tag.RowsAffected())
		}
		return br.Close()
	})
	if err != nil {
		return 0, err
	}
	return recorded, nil
}

// ledger is the store.Ledger of PostgreSQL: pgx prepares and caches each
// statement per connection by itself, so it only forwards to the DB.
type ledger struct{ db *DB }

// Ledger returns a Ledger.
func (db *DB) Ledger(ctx context.Context) (store.Ledger, error) { return ledger{db}, nil }

// RecordOutcomes is DB.RecordOutcomes.
func (l ledger) RecordOutcomes(ctx context.Context, now time.Time, outcomes []store.Outcome) (int, error) {
	return l.db.RecordOutcomes(ctx, now, outcomes)
}

// Close does nothing.
func (l ledger) Close() error { return nil }

// ReleaseDeliveries returns claimed deliveries that were not sent to
// pending, uncounting their attempt.
func (db *DB) ReleaseDeliveries(ctx context.Context, now time.Time, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if _, err := db.pool.Exec(ctx, `
UPDATE deliveries SET state = 'pending', attempts = greatest(attempts - 1, 0), updated_at = $1
WHERE state = 'sending' AND id = ANY($2)`, unix(now), ids); err != nil {
		return db.wrap("release deliveries", err)
	}
	return nil
}

// RequeueInFlight moves the deliveries left sending since claimedBefore or
// earlier back to pending, and returns how many.
func (db *DB) RequeueInFlight(ctx context.Context, now, claimedBefore time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx,
		"UPDATE deliveries SET state = 'pending', updated_at = $1 WHERE state = 'sending' AND updated_at <= $2",
		unix(now), unix(claimedBefore))
	if err != nil {
		return 0, db.wrap("requeue in-flight deliveries", err)
	}
	return tag.RowsAffected(), nil
}

// NextRetry returns the earliest time a pending or retry delivery is due,
// or ErrNotFound when none waits.
func (db *DB) NextRetry(ctx context.Context) (time.Time, error) {
	var t *int64
	err := db.pool.QueryRow(ctx,
		"SELECT min(next_attempt_at) FROM deliveries WHERE state IN ('pending', 'retry')").Scan(&t)
	if err != nil {
		return time.Time{}, db.wrap("next retry", err)
	}
	if t == nil {
		return time.Time{}, fmt.Errorf("store: next retry: no delivery waits: %w", store.ErrNotFound)
	}
	return fromUnix(*t), nil
}
