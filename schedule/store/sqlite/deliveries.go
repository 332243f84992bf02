package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"herald/schedule/store"
	"strings"
	"time"
)

// The newsletter's ledger. An announcement waiting in the queue becomes part
// of a mailing (CreateMailings); expanding the mailing inserts one delivery
// per confirmed subscriber (ExpandMailing); the worker claims due deliveries
// (ClaimDeliveries: pending or retry → sending), sends each, and records the
// outcome (MarkSent, MarkRetry, MarkFailed). Every step is its own short
// transaction, so after a crash the ledger says exactly which messages may
// have been in flight (state sending; RequeueInFlight).

// ClaimDeliveries claims up to limit deliveries due at now (pending, or
// retry whose next attempt time has come), oldest due first: in one
// transaction it moves them to sending and counts the attempt. The state is
// committed before the caller sends, so a crash leaves them as sending
// (RequeueInFlight).
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: claim deliveries: limit %d must be positive", limit)
	}
	now = now.UTC().Truncate(time.Second)
	var list []store.Delivery
	err := db.inTx(ctx, "claim deliveries", func(tx *sql.Tx) error {
		list = list[:0]
		rows, err := tx.QueryContext(ctx, `
SELECT d.id, d.mailing_id, d.subscriber_id, s.email, s.name, d.attempts, d.queued_at, d.created_at
FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
WHERE d.state IN ('pending', 'retry') AND d.next_attempt_at <= ?
ORDER BY d.next_attempt_at, d.id LIMIT ?`, unix(now), limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			var (
				d               store.Delivery
				queued, created int64
			)
			if err := rows.Scan(&d.ID, &d.MailingID, &d.SubscriberID, &d.Email, &d.Name, &d.Attempts, &queued, &created); err != nil {
				rows.Close()
				return err
			}
			d.Attempts++
			d.QueuedAt, d.CreatedAt = fromUnix(queued), fromUnix(created)
			list = append(list, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(list) == 0 {
			return err
		}
		ids := make([]int64, len(list))
		for i := range list {
			ids[i] = list[i].ID
		}
		q, args := inList(`
UPDATE deliveries SET state = 'sending', attempts = attempts + 1, updated_at = ?
WHERE id IN (%s)`, ids, unix(now))
		_, err = tx.ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// inList formats query's %s as one placeholder per id and returns the
// arguments: first, then the ids.
func inList(query string, ids []int64, first ...any) (string, []any) {
	args := append(make([]any, 0, len(first)+len(ids)), first...)
	for _, id := range ids {
		args = append(args, id)
	}
	return fmt.Sprintf(query, strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")), args
}

// mark runs one outcome UPDATE on a sending delivery (its own transaction).
// ErrNotFound when delivery id is not sending (it was removed with its
// subscriber, or already recorded).
func (db *DB) mark(ctx context.Context, op string, id int64, query string, args ...any) error {
	r, err := db.sql.ExecContext(ctx, query, args...)
	if err != nil {
		return db.wrap(fmt.Sprintf("%s delivery #%d", op, id), err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return db.wrap(fmt.Sprintf("%s delivery #%d", op, id), err)
	} else if n == 0 {
		return fmt.Errorf("store: %s delivery #%d: not in flight: %w", op, id, store.ErrNotFound)
	}
	return nil
}

// MarkSent records that delivery id was accepted by the server at now. It
// commits at once: a restart never re-sends it.
func (db *DB) MarkSent(ctx context.Context, now time.Time, id int64) error {
	now = now.UTC()
	return db.mark(ctx, "mark sent", id, `
UPDATE deliveries SET state = 'sent', sent_at = ?1, updated_at = ?1, last_code = 0, last_error = ''
WHERE id = ?2 AND state = 'sending'`, unix(now), id)
}

// MarkRetry records a temporary failure of delivery id (SMTP code, 0 for a
// network error, and text) and schedules its next attempt at next.
func (db *DB) MarkRetry(ctx context.Context, now time.Time, id int64, next time.Time, code int, text string) error {
	return db.mark(ctx, "mark retry", id, `
UPDATE deliveries SET state = 'retry', next_attempt_at = ?1, last_code = ?2, last_error = ?3, updated_at = ?4
WHERE id = ?5 AND state = 'sending'`, unix(next), code, text, unix(now), id)
}

// MarkFailed records that delivery id failed for good (SMTP code, 0 when
// none, and text).
func (db *DB) MarkFailed(ctx context.Context, now time.Time, id int64, code int, text string) error {
	return db.mark(ctx, "mark failed", id, `
UPDATE deliveries SET state = 'failed', last_code = ?1, last_error = ?2, updated_at = ?3
WHERE id = ?4 AND state = 'sending'`, code, text, unix(now), id)
}

// recordOutcome is the UPDATE of one outcome: ?1 now, ?2 state, ?3 next
// attempt, ?4 code, ?5 text, ?6 delivery id.
const recordOutcome = `
UPDATE deliveries SET
    state           = ?2,
    sent_at         = CASE WHEN ?2 = 'sent'  THEN ?1 ELSE sent_at END,
    next_attempt_at = CASE WHEN ?2 = 'retry' THEN ?3 ELSE next_attempt_at END,
    last_code       = ?4,
    last_error      = ?5,
    updated_at      = ?1
WHERE id = ?6 AND state = 'sending'`

// RecordOutcomes records several sends at now in ONE transaction (group
// commit: the worker hands over the outcomes of its concurrent sends
// together, each sender waiting for the commit before its next send, so the
// crash guarantee is that of MarkSent and friends at a fraction of the
// cost). Outcomes of deliveries no longer in flight are ignored; the result
// counts those recorded. A worker recording many outcomes should use a
// Ledger, which prepares the statement once.
func (db *DB) RecordOutcomes(ctx context.Context, now time.Time, outcomes []store.Outcome) (int, error) {
	return db.recordOutcomes(ctx, nil, now, outcomes)
}

// ledger is a handle on the delivery ledger for a worker: the statement
// that records outcomes is prepared once (parsing SQL costs as much as
// running it). Close it when done. Safe for concurrent use.
type ledger struct {
	db     *DB
	record *sql.Stmt
}

// Ledger prepares a Ledger.
func (db *DB) Ledger(ctx context.Context) (store.Ledger, error) {
	st, err := db.sql.PrepareContext(ctx, recordOutcome)
	if err != nil {
		return nil, db.wrap("prepare ledger", err)
	}
	return &ledger{db: db, record: st}, nil
}

// RecordOutcomes is DB.RecordOutcomes with the prepared statement.
func (l *ledger) RecordOutcomes(ctx context.Context, now time.Time, outcomes []store.Outcome) (int, error) {
	return l.db.recordOutcomes(ctx, l.record, now, outcomes)
}

// Close releases the prepared statement.
func (l *ledger) Close() error {
	if err := l.record.Close(); err != nil {
		return l.db.wrap("close ledger", err)
	}
	return nil
}

// recordOutcomes runs recordOutcome for each outcome in one transaction,
// with prepared (nil: prepared for this transaction).
func (db *DB) recordOutcomes(ctx context.Context, prepared *sql.Stmt, now time.Time, outcomes []store.Outcome) (int, error) {
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
	err := db.inTx(ctx, "record delivery outcomes", func(tx *sql.Tx) error {
		recorded = 0
		var st *sql.Stmt
		if prepared != nil {
			st = tx.StmtContext(ctx, prepared)
		} else {
			var err error
			if st, err = tx.PrepareContext(ctx, recordOutcome); err != nil {
				return err
			}
		}
		defer st.Close()
		for _, o := range outcomes {
			r, err := st.ExecContext(ctx, unix(now), o.State, unix(o.Next), o.Code, o.Text, o.ID)
			if err != nil {
				return fmt.Errorf("delivery #%d: %w", o.ID, err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			recorded += int(n)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return recorded, nil
}

// ReleaseDeliveries returns claimed deliveries that were not sent (the
// worker stopped before reaching them) to pending, uncounting their attempt.
func (db *DB) ReleaseDeliveries(ctx context.Context, now time.Time, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	q, args := inList(`
UPDATE deliveries SET state = 'pending', attempts = max(attempts - 1, 0), updated_at = ?
WHERE state = 'sending' AND id IN (%s)`, ids, unix(now))
	if _, err := db.sql.ExecContext(ctx, q, args...); err != nil {
		return db.wrap("release deliveries", err)
	}
	return nil
}

// RequeueInFlight moves the deliveries left sending since claimedBefore or
// earlier (by a worker that crashed or was killed: each may or may not have
// reached the server) back to pending, and returns how many. The worker
// calls it once at start with claimedBefore = now (every row in flight);
// `herald send`, which may run beside the daemon, passes an older time so
// that it only takes over rows clearly abandoned.
func (db *DB) RequeueInFlight(ctx context.Context, now, claimedBefore time.Time) (int64, error) {
	r, err := db.sql.ExecContext(ctx,
		"UPDATE deliveries SET state = 'pending', updated_at = ? WHERE state = 'sending' AND updated_at <= ?",
		unix(now), unix(claimedBefore))
	if err != nil {
		return 0, db.wrap("requeue in-flight deliveries", err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, db.wrap("requeue in-flight deliveries", err)
	}
	return n, nil
}

// NextRetry returns the earliest time a pending or retry delivery is due
// (the worker sleeps until then), or ErrNotFound when none waits.
func (db *DB) NextRetry(ctx context.Context) (time.Time, error) {
	var t sql.NullInt64
	err := db.sql.QueryRowContext(ctx,
		"SELECT min(next_attempt_at) FROM deliveries WHERE state IN ('pending', 'retry')").Scan(&t)
	if err != nil {
		return time.Time{}, db.wrap("next retry", err)
	}
	if !t.Valid {
		return time.Time{}, fmt.Errorf("store: next retry: no delivery waits: %w", store.ErrNotFound)
	}
	return fromUnix(t.Int64), nil
}

// RequeueFailed moves the failed deliveries of every mailing holding post
// postID ("" = every failed delivery) back to pending, due at now, with a
// fresh attempt count and retry window, and returns how many. Deliveries to
// subscribers who are no longer confirmed stay failed.
func (db *DB) RequeueFailed(ctx context.Context, now time.Time, postID string) (int64, error) {
	r, err := db.sql.ExecContext(ctx, `
UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?1, queued_at = ?1, updated_at = ?1
WHERE state = 'failed'
  AND (?2 = '' OR mailing_id IN (SELECT mailing_id FROM announcements WHERE post_id = ?2 AND mailing_id IS NOT NULL))
  AND subscriber_id IN (SELECT id FROM subscribers WHERE status = 'confirmed' AND suppressed_at IS NULL)`, unix(now), postID)
	if err != nil {
		return 0, db.wrap("requeue failed deliveries of "+postID, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, db.wrap("requeue failed deliveries of "+postID, err)
	}
	return n, nil
}
