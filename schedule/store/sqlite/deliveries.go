package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"fmt"
	"herald/schedule/store"
	"slices"
	"strings"
	"time"
)

// The newsletter's ledger. An announcement waiting in the queue becomes part
// of a mailing (CreateMailings); expanding the mailing inserts one delivery
// per confirmed subscriber (ExpandMailing); a worker claims due deliveries
// for itself under a lease (ClaimDeliveries: pending or retry → sending),
// renews its leases while it sends (RenewLeases), and records each outcome
// (RecordOutcomes: sent, retry or failed). Every step is its own short
// transaction, so after a crash the ledger says exactly which messages may
// have been in flight: the rows still sending, whose lease then runs out
// and which the next worker takes over (RequeueExpired).

// checkLease refuses a lease without owner or duration.
func checkLease(op string, l store.Lease) error {
	switch {
	case l.Owner == "":
		return fmt.Errorf("store: %s: lease without owner", op)
	case l.For < time.Second:
		return fmt.Errorf("store: %s: lease of %v, want at least 1s", op, l.For)
	}
	return nil
}

// ClaimDeliveries claims up to limit deliveries due at now (pending, or
// retry whose next attempt time has come), oldest due first, for
// lease.Owner: in one transaction it moves them to sending, counts the
// attempt, and records the owner and the lease's end (now + lease.For,
// whole seconds). The claim is committed before the caller sends, so a
// crash leaves the rows sending under a lease that runs out
// (RequeueExpired). Rows in flight are never claimed, whoever holds them.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease store.Lease, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: claim deliveries: limit %d must be positive", limit)
	}
	if err := checkLease("claim deliveries", lease); err != nil {
		return nil, err
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
UPDATE deliveries SET state = 'sending', attempts = attempts + 1, updated_at = ?, claimed_by = ?, lease_until = ?
WHERE id IN (%s)`, ids, unix(now), lease.Owner, unix(now.Add(lease.For)))
		_, err = tx.ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
}

// RenewLeases extends every lease lease.Owner holds (its rows still
// sending) to now + lease.For, and returns how many rows it renewed. A row
// whose lease expired and that another worker took over meanwhile is no
// longer the owner's and is not renewed.
func (db *DB) RenewLeases(ctx context.Context, now time.Time, lease store.Lease) (int64, error) {
	if err := checkLease("renew leases", lease); err != nil {
		return 0, err
	}
	now = now.UTC().Truncate(time.Second)
	n, err := db.execAffected(ctx,
		"UPDATE deliveries SET lease_until = ?1 WHERE state = 'sending' AND claimed_by = ?2",
		unix(now.Add(lease.For)), lease.Owner)
	if err != nil {
		return 0, db.wrap("renew leases", err)
	}
	return n, nil
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

// recordOutcome is the UPDATE of one outcome: ?1 now, ?2 state, ?3 next
// attempt, ?4 code, ?5 text, ?6 delivery id, ?7 owner, ?8 not tried (the
// claim's attempt is given back).
const recordOutcome = `
UPDATE deliveries SET
    state           = ?2,
    attempts        = CASE WHEN ?8 THEN max(attempts - 1, 0) ELSE attempts END,
    sent_at         = CASE WHEN ?2 = 'sent'  THEN ?1 ELSE sent_at END,
    next_attempt_at = CASE WHEN ?2 = 'retry' THEN ?3 ELSE next_attempt_at END,
    last_code       = ?4,
    last_error      = ?5,
    updated_at      = ?1,
    claimed_by      = '',
    lease_until     = 0
WHERE id = ?6 AND state = 'sending' AND claimed_by = ?7`

// insertAttempt keeps the reply of a failed attempt (retry or failed) of a
// delivery still sending and claimed by owner: ?1 now, ?4 code, ?5 text,
// ?6 delivery id, ?7 owner (recordOutcome's numbering).
const insertAttempt = `
INSERT INTO delivery_attempts (delivery_id, attempt, at, code, error)
SELECT id, attempts, ?1, ?4, ?5 FROM deliveries
WHERE id = ?6 AND state = 'sending' AND claimed_by = ?7 AND ?2 <> 'sent'
ON CONFLICT (delivery_id, attempt) DO UPDATE SET at = excluded.at, code = excluded.code, error = excluded.error`

// RecordOutcomes records the outcomes of owner's sends at now in ONE
// transaction (group commit: the worker hands over the outcomes of its
// concurrent sends together, each sender waiting for the commit before its
// next send, so at most one outcome per sender is ever uncommitted). Only
// rows still sending and claimed by owner are recorded: an outcome of a
// delivery no longer in flight, or taken over by another worker after the
// owner's lease expired, is ignored; the result counts those recorded. An
// outcome whose State is not sent, retry or failed refuses the whole group.
// A worker recording many outcomes should use a Ledger, which prepares the
// statement once.
func (db *DB) RecordOutcomes(ctx context.Context, now time.Time, owner string, outcomes []store.Outcome) (int, error) {
	return db.recordOutcomes(ctx, nil, now, owner, outcomes)
}

// ledger is a handle on the delivery ledger for one owner: the statement
// that records outcomes is prepared once (parsing SQL costs as much as
// running it). Close it when done. Safe for concurrent use.
type ledger struct {
	db     *DB
	owner  string
	record *sql.Stmt
}

// Ledger prepares a Ledger recording the outcomes of owner's sends (as
// RecordOutcomes with that owner).
func (db *DB) Ledger(ctx context.Context, owner string) (store.Ledger, error) {
	if owner == "" {
		return nil, fmt.Errorf("store: prepare ledger: no owner")
	}
	st, err := db.sql.PrepareContext(ctx, recordOutcome)
	if err != nil {
		return nil, db.wrap("prepare ledger", err)
	}
	return &ledger{db: db, owner: owner, record: st}, nil
}

// RecordOutcomes is DB.RecordOutcomes for the ledger's owner, with the
// prepared statement.
func (l *ledger) RecordOutcomes(ctx context.Context, now time.Time, outcomes []store.Outcome) (int, error) {
	return l.db.recordOutcomes(ctx, l.record, now, l.owner, outcomes)
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
func (db *DB) recordOutcomes(ctx context.Context, prepared *sql.Stmt, now time.Time, owner string, outcomes []store.Outcome) (int, error) {
	if len(outcomes) == 0 {
		return 0, nil
	}
	if owner == "" {
		return 0, fmt.Errorf("store: record outcomes: no owner")
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
			if o.State != store.DeliverySent && !o.NotTried {
				if _, err := tx.ExecContext(ctx, insertAttempt, unix(now), o.State, unix(o.Next), o.Code, o.Text, o.ID, owner); err != nil {
					return fmt.Errorf("delivery #%d: attempt: %w", o.ID, err)
				}
			}
			r, err := st.ExecContext(ctx, unix(now), o.State, unix(o.Next), o.Code, o.Text, o.ID, owner, o.NotTried)
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

// ReleaseDeliveries returns deliveries that owner claimed and did not send
// (the worker stopped before handing them to the server) to pending,
// uncounting their attempt, and returns how many. Rows not sending or not
// owner's are left alone.
func (db *DB) ReleaseDeliveries(ctx context.Context, now time.Time, owner string, ids []int64) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	q, args := inList(`
UPDATE deliveries SET state = 'pending', attempts = max(attempts - 1, 0), updated_at = ?, claimed_by = '', lease_until = 0
WHERE state = 'sending' AND claimed_by = ? AND id IN (%s)`, ids, unix(now), owner)
	n, err := db.execAffected(ctx, q, args...)
	if err != nil {
		return 0, db.wrap("release deliveries", err)
	}
	return n, nil
}

// RequeueExpired takes over the deliveries whose lease expired at or
// before now: rows still sending whose owner stopped renewing (it was
// killed, lost its database, or hung longer than its lease). Each may or may
// not have reached the server; they go back to pending (due: they were due
// when claimed) with their attempt counted, and the result lists them with the owner that
// held them, so the caller can say how many may reach their subscriber
// twice. A live owner's rows are never taken: it renews its leases well
// before they end.
func (db *DB) RequeueExpired(ctx context.Context, now time.Time) ([]store.Expired, error) {
	now = now.UTC().Truncate(time.Second)
	var list []store.Expired
	err := db.inTx(ctx, "requeue expired deliveries", func(tx *sql.Tx) error {
		list = list[:0]
		rows, err := tx.QueryContext(ctx,
			"SELECT id, claimed_by FROM deliveries WHERE state = 'sending' AND lease_until <= ?", unix(now))
		if err != nil {
			return err
		}
		for rows.Next() {
			var e store.Expired
			if err := rows.Scan(&e.ID, &e.Owner); err != nil {
				rows.Close()
				return err
			}
			list = append(list, e)
		}
		rows.Close()
		if err := rows.Err(); err != nil || len(list) == 0 {
			return err
		}
		slices.SortFunc(list, func(a, b store.Expired) int { return cmp.Compare(a.ID, b.ID) })
		ids := make([]int64, len(list))
		for i, e := range list {
			ids[i] = e.ID
		}
		q, args := inList(`
UPDATE deliveries SET state = 'pending', updated_at = ?, claimed_by = '', lease_until = 0
WHERE state = 'sending' AND id IN (%s)`, ids, unix(now))
		_, err = tx.ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		return nil, err
	}
	return list, nil
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
	n, err := db.execAffected(ctx, `
UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = ?1, queued_at = ?1, updated_at = ?1
WHERE state = 'failed'
  AND (?2 = '' OR mailing_id IN (SELECT mailing_id FROM announcements WHERE post_id = ?2 AND mailing_id IS NOT NULL))
  AND subscriber_id IN (SELECT id FROM subscribers WHERE status = 'confirmed' AND suppressed_at IS NULL)`, unix(now), postID)
	if err != nil {
		return 0, db.wrap("requeue failed deliveries of "+postID, err)
	}
	return n, nil
}

// AttemptsFor returns the failed attempts of subscriber id's deliveries,
// newest first (limit <= 0: all).
func (db *DB) AttemptsFor(ctx context.Context, subscriberID int64, limit int) ([]store.Attempt, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.sql.QueryContext(ctx, `
SELECT a.delivery_id, d.mailing_id, a.attempt, a.at, a.code, a.error
FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
WHERE d.subscriber_id = ?1
ORDER BY a.at DESC, a.delivery_id DESC, a.attempt DESC
LIMIT ?2`, subscriberID, limit)
	if err != nil {
		return nil, db.wrap("attempts", err)
	}
	defer rows.Close()
	var out []store.Attempt
	for rows.Next() {
		var a store.Attempt
		var at int64
		if err := rows.Scan(&a.DeliveryID, &a.MailingID, &a.Attempt, &at, &a.Code, &a.Text); err != nil {
			return nil, db.wrap("attempts", err)
		}
		a.At = fromUnix(at)
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap("attempts", err)
	}
	return out, nil
}
