package postgres

import (
	"context"
	"errors"
	"fmt"
	"herald/schedule/store"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ConcurrentWriters reports that writers never wait for one another on
// PostgreSQL (row locks, SKIP LOCKED): a process may claim and record
// outcomes at once, over several connections.
func (db *DB) ConcurrentWriters() bool { return true }

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
// retry whose time has come), oldest due first, for lease.Owner, in one
// statement: the rows are picked with FOR UPDATE SKIP LOCKED, so daemons
// claiming at once each get different rows and never wait for each other,
// and are moved to sending with their attempt counted, claimed_by =
// lease.Owner and lease_until = now + lease.For, before the caller sends.
// Rows in flight are never claimed, whoever holds them (see the SQLite
// backend for the whole contract).
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease store.Lease, limit int) ([]store.Delivery, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: claim deliveries: limit %d must be positive", limit)
	}
	if err := checkLease("claim deliveries", lease); err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Second)
	// One round trip: one statement, its own transaction, committed with
	// the server's synchronous_commit (on by default: its WAL is on disk
	// before ClaimDeliveries returns). The claim must be durable before
	// the worker sends: a claim lost in a server crash would leave the
	// rows pending, another daemon would claim and send them again while
	// this worker's outcomes matched no row (TestClaimSurvivesServerCrash).
	rows, err := db.pool.Query(ctx, `
WITH claimed AS (
    UPDATE deliveries SET state = 'sending', attempts = attempts + 1, updated_at = $1, claimed_by = $3, lease_until = $4
    WHERE id IN (
        SELECT id FROM deliveries
        WHERE state IN ('pending', 'retry') AND next_attempt_at <= $1
        ORDER BY next_attempt_at, id LIMIT $2
        FOR UPDATE SKIP LOCKED)
    RETURNING id, mailing_id, subscriber_id, attempts, queued_at, created_at, next_attempt_at)
SELECT c.id, c.mailing_id, c.subscriber_id, s.email, s.name, c.attempts, c.queued_at, c.created_at
FROM claimed c JOIN subscribers s ON s.id = c.subscriber_id
ORDER BY c.next_attempt_at, c.id`, unix(now), limit, lease.Owner, unix(now.Add(lease.For)))
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

// RenewLeases extends every lease lease.Owner holds (its rows still
// sending) to now + lease.For, and returns how many rows it renewed.
func (db *DB) RenewLeases(ctx context.Context, now time.Time, lease store.Lease) (int64, error) {
	if err := checkLease("renew leases", lease); err != nil {
		return 0, err
	}
	now = now.UTC().Truncate(time.Second)
	tag, err := db.pool.Exec(ctx,
		"UPDATE deliveries SET lease_until = $1 WHERE state = 'sending' AND claimed_by = $2",
		unix(now.Add(lease.For)), lease.Owner)
	if err != nil {
		return 0, db.wrap("renew leases", err)
	}
	return tag.RowsAffected(), nil
}

// recordOutcome is the UPDATE of one outcome: $1 now, $2 state, $3 next
// attempt, $4 code, $5 text, $6 delivery id, $7 owner, $8 not tried (the
// claim's attempt is given back).
const recordOutcome = `
UPDATE deliveries SET
    state           = $2::text,
    attempts        = CASE WHEN $8::boolean THEN greatest(attempts - 1, 0) ELSE attempts END,
    sent_at         = CASE WHEN $2::text = 'sent'  THEN $1::bigint ELSE sent_at END,
    next_attempt_at = CASE WHEN $2::text = 'retry' THEN $3::bigint ELSE next_attempt_at END,
    last_code       = $4,
    last_error      = $5,
    updated_at      = $1::bigint,
    claimed_by      = '',
    lease_until     = 0
WHERE id = $6 AND state = 'sending' AND claimed_by = $7`

// insertAttempt keeps the reply of a failed attempt of a delivery still
// sending and claimed by owner: $1 now, $2 code, $3 text, $4 delivery id,
// $5 owner.
const insertAttempt = `
INSERT INTO delivery_attempts (delivery_id, attempt, at, code, error)
SELECT id, attempts, $1::bigint, $2, $3 FROM deliveries
WHERE id = $4 AND state = 'sending' AND claimed_by = $5
ON CONFLICT (delivery_id, attempt) DO UPDATE SET at = excluded.at, code = excluded.code, error = excluded.error`

// RecordOutcomes records the outcomes of owner's sends at now in one
// transaction and one round trip. Only rows still sending and claimed by
// owner are recorded; the others are ignored; the result counts those
// recorded.
func (db *DB) RecordOutcomes(ctx context.Context, now time.Time, owner string, outcomes []store.Outcome) (int, error) {
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
	// One round trip: the batch is one implicit transaction (all or
	// nothing), committed when the server has its WAL on disk. A
	// deadlock or serialization failure runs it again, up to three times.
	var (
		recorded int
		err      error
	)
	for range 3 {
		recorded, err = db.sendOutcomes(ctx, now, owner, outcomes)
		var pe *pgconn.PgError
		if err == nil || !errors.As(err, &pe) || (pe.Code != "40P01" && pe.Code != "40001") {
			break
		}
	}
	if err != nil {
		return 0, db.wrap("record delivery outcomes", err)
	}
	return recorded, nil
}

// sendOutcomes sends the outcomes as one batch and counts the rows
// recorded.
func (db *DB) sendOutcomes(ctx context.Context, now time.Time, owner string, outcomes []store.Outcome) (int, error) {
	b := &pgx.Batch{}
	for _, o := range outcomes {
		if o.State != store.DeliverySent && !o.NotTried {
			b.Queue(insertAttempt, unix(now), o.Code, o.Text, o.ID, owner)
		}
		b.Queue(recordOutcome, unix(now), string(o.State), unix(o.Next), o.Code, o.Text, o.ID, owner, o.NotTried)
	}
	br := db.pool.SendBatch(ctx, b)
	defer br.Close()
	recorded := 0
	for _, o := range outcomes {
		if o.State != store.DeliverySent && !o.NotTried {
			if _, err := br.Exec(); err != nil {
				return 0, fmt.Errorf("delivery #%d: attempt: %w", o.ID, err)
			}
		}
		tag, err := br.Exec()
		if err != nil {
			return 0, fmt.Errorf("delivery #%d: %w", o.ID, err)
		}
		recorded += int(tag.RowsAffected())
	}
	return recorded, br.Close()
}

// ledger is the store.Ledger of PostgreSQL: pgx prepares and caches each
// statement per connection by itself, so it only forwards to the DB.
type ledger struct {
	db    *DB
	owner string
}

// Ledger returns a Ledger recording owner's outcomes.
func (db *DB) Ledger(ctx context.Context, owner string) (store.Ledger, error) {
	if owner == "" {
		return nil, fmt.Errorf("store: prepare ledger: no owner")
	}
	return ledger{db, owner}, nil
}

// RecordOutcomes is DB.RecordOutcomes with the ledger's owner.
func (l ledger) RecordOutcomes(ctx context.Context, now time.Time, outcomes []store.Outcome) (int, error) {
	return l.db.RecordOutcomes(ctx, now, l.owner, outcomes)
}

// Close does nothing.
func (l ledger) Close() error { return nil }

// ReleaseDeliveries returns deliveries owner claimed and did not send to
// pending, uncounting their attempt, and returns how many.
func (db *DB) ReleaseDeliveries(ctx context.Context, now time.Time, owner string, ids []int64) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	tag, err := db.pool.Exec(ctx, `
UPDATE deliveries SET state = 'pending', attempts = greatest(attempts - 1, 0), updated_at = $1, claimed_by = '', lease_until = 0
WHERE state = 'sending' AND claimed_by = $2 AND id = ANY($3)`, unix(now), owner, ids)
	if err != nil {
		return 0, db.wrap("release deliveries", err)
	}
	return tag.RowsAffected(), nil
}

// RequeueExpired takes over the deliveries whose lease expired at or
// before now (their owner stopped renewing): back to pending with their
// attempt counted; the result lists them by id with the owner that held
// them. Rows locked by a concurrent take-over are skipped (that one takes
// them).
func (db *DB) RequeueExpired(ctx context.Context, now time.Time) ([]store.Expired, error) {
	now = now.UTC().Truncate(time.Second)
	rows, err := db.pool.Query(ctx, `
WITH expired AS (
    SELECT id, claimed_by FROM deliveries
    WHERE state = 'sending' AND lease_until <= $1
    FOR UPDATE SKIP LOCKED),
requeued AS (
    UPDATE deliveries d SET state = 'pending', updated_at = $1, claimed_by = '', lease_until = 0
    FROM expired e WHERE d.id = e.id
    RETURNING d.id)
SELECT e.id, e.claimed_by FROM expired e JOIN requeued r ON r.id = e.id ORDER BY e.id`, unix(now))
	if err != nil {
		return nil, db.wrap("requeue expired deliveries", err)
	}
	defer rows.Close()
	var list []store.Expired
	for rows.Next() {
		var e store.Expired
		if err := rows.Scan(&e.ID, &e.Owner); err != nil {
			return nil, db.wrap("requeue expired deliveries", err)
		}
		list = append(list, e)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap("requeue expired deliveries", err)
	}
	return list, nil
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

// AttemptsFor returns the failed attempts of subscriber id's deliveries,
// newest first (limit <= 0: all).
func (db *DB) AttemptsFor(ctx context.Context, subscriberID int64, limit int) ([]store.Attempt, error) {
	q := `
SELECT a.delivery_id, d.mailing_id, a.attempt, a.at, a.code, a.error
FROM delivery_attempts a JOIN deliveries d ON d.id = a.delivery_id
WHERE d.subscriber_id = $1
ORDER BY a.at DESC, a.delivery_id DESC, a.attempt DESC`
	args := []any{subscriberID}
	if limit > 0 {
		q += " LIMIT $2"
		args = append(args, limit)
	}
	rows, err := db.pool.Query(ctx, q, args...)
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
