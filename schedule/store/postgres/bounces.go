package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"herald/schedule/store"

	"github.com/jackc/pgx/v5"
)

// This file is the bounce and suppression part of the store (migration
// 0004_bounces.sql): sqlite.DB's methods of the same names, with the same
// semantics (their comments are the specification).

// RecordBounce is sqlite.DB.RecordBounce: it records ev received at now and
// applies policy p to its subscriber in one transaction. The subscriber's
// row is locked first, so two daemons recording bounces of one subscriber
// at once count each other's.
func (db *DB) RecordBounce(ctx context.Context, now time.Time, ev store.NewBounce, p store.BouncePolicy) (store.BounceEvent, error) {
	switch ev.Type {
	case store.BounceHard, store.BounceSoft, store.BounceComplaint, store.BounceAutoReply, store.BounceOther:
	default:
		return store.BounceEvent{}, fmt.Errorf("store: record bounce: invalid type %q", ev.Type)
	}
	if ev.Source == "" {
		return store.BounceEvent{}, errors.New("store: record bounce: no source")
	}
	now = now.UTC().Truncate(time.Second)
	var out store.BounceEvent
	err := db.inTx(ctx, "record bounce", func(tx pgx.Tx) error {
		out = store.BounceEvent{ReceivedAt: now, Email: strings.TrimSpace(ev.Email), SubscriberID: ev.SubscriberID,
			MailingID: ev.MailingID, Type: ev.Type, Source: ev.Source, Action: ev.Action, Status: ev.Status,
			Diagnostic: ev.Diagnostic, Outcome: store.OutcomeRecorded}
		var (
			status                string
			email                 string
			suppressed, complaint *int64
		)
		found := false
		if ev.SubscriberID > 0 {
			err := tx.QueryRow(ctx,
				"SELECT email, status, suppressed_at, complained_at FROM subscribers WHERE id = $1 FOR UPDATE", ev.SubscriberID).
				Scan(&email, &status, &suppressed, &complaint)
			switch {
			case err == nil:
				found = true
				out.Email = email
			case !errors.Is(err, pgx.ErrNoRows):
				return err
			}
		}
		if !found {
			out.SubscriberID = 0
			out.Outcome = store.OutcomeUnmatched
		}
		err := tx.QueryRow(ctx, `
INSERT INTO bounce_events (received_at, email, email_key, subscriber_id, mailing_id, type, source,
    action, status, diagnostic, outcome, raw)
VALUES ($1, $2, $3, nullif($4::bigint, 0), nullif($5::bigint, 0), $6, $7, $8, $9, $10, $11, $12)
RETURNING id`,
			unix(now), out.Email, store.EmailKey(out.Email), out.SubscriberID, out.MailingID, out.Type, out.Source,
			out.Action, out.Status, out.Diagnostic, out.Outcome, ev.Raw).Scan(&out.ID)
		if err != nil || !found {
			return err
		}
		id := ev.SubscriberID
		switch ev.Type {
		case store.BounceHard, store.BounceSoft:
			if store.SubscriberStatus(status) != store.StatusConfirmed || suppressed != nil {
				break
			}
			reason := store.SuppressHard
			if ev.Type == store.BounceSoft {
				n, err := softCount(ctx, tx, id, now, p)
				if err != nil {
					return err
				}
				if n < p.SoftLimit {
					out.Outcome = store.OutcomeCounted
					break
				}
				reason = store.SuppressSoft
			}
			if _, err := tx.Exec(ctx,
				"UPDATE subscribers SET suppressed_at = $1, suppressed_reason = $2 WHERE id = $3", unix(now), reason, id); err != nil {
				return err
			}
			if err := dropQueued(ctx, tx, id); err != nil {
				return err
			}
			out.Outcome = store.OutcomeSuppressed
		case store.BounceComplaint:
			if complaint != nil && store.SubscriberStatus(status) == store.StatusUnsubscribed {
				break
			}
			if _, err := tx.Exec(ctx, `
UPDATE subscribers SET complained_at = $1,
    unsubscribed_at = CASE WHEN status = 'unsubscribed' THEN unsubscribed_at ELSE $1 END,
    status = 'unsubscribed'
WHERE id = $2`, unix(now), id); err != nil {
				return err
			}
			if err := dropQueued(ctx, tx, id); err != nil {
				return err
			}
			out.Outcome = store.OutcomeUnsubscribed
		}
		_, err = tx.Exec(ctx, "UPDATE bounce_events SET outcome = $1 WHERE id = $2", out.Outcome, out.ID)
		return err
	})
	if err != nil {
		return store.BounceEvent{}, err
	}
	return out, nil
}

// softCount counts the subscriber's soft bounces that count towards the
// limit at now (see RecordBounce), the one being recorded included.
func softCount(ctx context.Context, tx pgx.Tx, id int64, now time.Time, p store.BouncePolicy) (int, error) {
	var lastOK int64
	err := tx.QueryRow(ctx, `
SELECT coalesce(max(d.sent_at), 0) FROM deliveries d
WHERE d.subscriber_id = $1 AND d.state = 'sent' AND d.sent_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM bounce_events b
                  WHERE b.subscriber_id = $1 AND b.mailing_id = d.mailing_id AND b.type IN ('hard', 'soft'))`, id).
		Scan(&lastOK)
	if err != nil {
		return 0, err
	}
	var n int
	err = tx.QueryRow(ctx, `
SELECT count(DISTINCT coalesce(mailing_id, -id)) FROM bounce_events
WHERE subscriber_id = $1 AND type = 'soft' AND received_at >= $2 AND received_at > $3`,
		id, unix(now.Add(-p.SoftWindow)), lastOK).Scan(&n)
	return n, err
}

// dropQueued deletes a subscriber's deliveries that have not been sent.
func dropQueued(ctx context.Context, tx pgx.Tx, id int64) error {
	_, err := tx.Exec(ctx, "DELETE FROM deliveries WHERE subscriber_id = $1 AND state IN ('pending', 'retry')", id)
	return err
}

const bounceColumns = `id, received_at, email, coalesce(subscriber_id, 0), coalesce(mailing_id, 0),
    type, source, action, status, diagnostic, outcome`

func scanBounces(rows pgx.Rows, withRaw bool) ([]store.BounceEvent, error) {
	defer rows.Close()
	var list []store.BounceEvent
	for rows.Next() {
		var (
			e  store.BounceEvent
			at int64
		)
		dest := []any{&e.ID, &at, &e.Email, &e.SubscriberID, &e.MailingID, &e.Type, &e.Source, &e.Action,
			&e.Status, &e.Diagnostic, &e.Outcome}
		if withRaw {
			dest = append(dest, &e.Raw)
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		e.ReceivedAt = fromUnix(at)
		list = append(list, e)
	}
	return list, rows.Err()
}

// Bounces is sqlite.DB.Bounces: the events received at or after since,
// newest first, at most limit (limit <= 0: all), without raw messages.
func (db *DB) Bounces(ctx context.Context, since time.Time, limit int) ([]store.BounceEvent, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := db.pool.Query(ctx, "SELECT "+bounceColumns+
		" FROM bounce_events WHERE received_at >= $1 ORDER BY received_at DESC, id DESC LIMIT $2", unix(since), lim)
	if err != nil {
		return nil, db.wrap("list bounces", err)
	}
	list, err := scanBounces(rows, false)
	if err != nil {
		return nil, db.wrap("list bounces", err)
	}
	return list, nil
}

// BouncesFor is sqlite.DB.BouncesFor: every event about email (by its
// email key), newest first, with raw messages while kept.
func (db *DB) BouncesFor(ctx context.Context, email string) ([]store.BounceEvent, error) {
	rows, err := db.pool.Query(ctx, "SELECT "+bounceColumns+
		", raw FROM bounce_events WHERE email_key = $1 ORDER BY received_at DESC, id DESC", store.EmailKey(email))
	if err != nil {
		return nil, db.wrap("bounces of "+email, err)
	}
	list, err := scanBounces(rows, true)
	if err != nil {
		return nil, db.wrap("bounces of "+email, err)
	}
	return list, nil
}

// SuppressionOf is sqlite.DB.SuppressionOf. ErrNotFound when there is no
// such subscriber.
func (db *DB) SuppressionOf(ctx context.Context, id int64) (store.Suppression, error) {
	var (
		s                 store.Suppression
		suppr, complained *int64
	)
	err := db.pool.QueryRow(ctx,
		"SELECT suppressed_at, suppressed_reason, complained_at FROM subscribers WHERE id = $1", id).
		Scan(&suppr, &s.Reason, &complained)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, fmt.Errorf("store: subscriber #%d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return s, db.wrap("suppression", err)
	}
	s.SuppressedAt, s.ComplainedAt = fromNullUnix(suppr), fromNullUnix(complained)
	return s, nil
}

// Unsuppress is sqlite.DB.Unsuppress: it lifts email's suppression and
// complaint mark, leaves the status, and reports whether anything changed;
// ErrNotFound when the address is not a subscriber.
func (db *DB) Unsuppress(ctx context.Context, email string) (bool, error) {
	tag, err := db.pool.Exec(ctx, `
UPDATE subscribers SET suppressed_at = NULL, suppressed_reason = '', complained_at = NULL
WHERE email_key = $1 AND (suppressed_at IS NOT NULL OR complained_at IS NOT NULL)`, store.EmailKey(email))
	if err != nil {
		return false, db.wrap("unsuppress "+email, err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := db.Subscriber(ctx, email); err != nil {
			return false, err
		}
	}
	return tag.RowsAffected() > 0, nil
}

// PruneBounceRaw is sqlite.DB.PruneBounceRaw: it drops the raw messages of
// events received before before and returns how many.
func (db *DB) PruneBounceRaw(ctx context.Context, before time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, "UPDATE bounce_events SET raw = NULL WHERE raw IS NOT NULL AND received_at < $1", unix(before))
	if err != nil {
		return 0, db.wrap("prune bounce messages", err)
	}
	return tag.RowsAffected(), nil
}

// BounceRates is sqlite.DB.BounceRates: the counts of the period since
// since, and of the newest limit mailings not skipped (limit <= 0: all),
// newest first.
func (db *DB) BounceRates(ctx context.Context, since time.Time, limit int) (store.BounceRates, []store.BounceRates, error) {
	var period store.BounceRates
	err := db.pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM deliveries WHERE state = 'sent' AND sent_at >= $1),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events WHERE type = 'hard' AND received_at >= $1 AND subscriber_id IS NOT NULL),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events WHERE type = 'soft' AND received_at >= $1 AND subscriber_id IS NOT NULL),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events WHERE type = 'complaint' AND received_at >= $1 AND subscriber_id IS NOT NULL)`,
		unix(since)).Scan(&period.Sent, &period.Hard, &period.Soft, &period.Complaints)
	if err != nil {
		return period, nil, db.wrap("bounce rates", err)
	}
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := db.pool.Query(ctx, `
SELECT m.id, m.created_at,
    (SELECT count(*) FROM deliveries d WHERE d.mailing_id = m.id AND d.state = 'sent'),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events b WHERE b.mailing_id = m.id AND b.type = 'hard' AND b.subscriber_id IS NOT NULL),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events b WHERE b.mailing_id = m.id AND b.type = 'soft' AND b.subscriber_id IS NOT NULL),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events b WHERE b.mailing_id = m.id AND b.type = 'complaint' AND b.subscriber_id IS NOT NULL)
FROM (SELECT id, created_at FROM mailings WHERE skipped IS NULL ORDER BY id DESC LIMIT $1) m
ORDER BY m.id DESC`, lim)
	if err != nil {
		return period, nil, db.wrap("bounce rates", err)
	}
	defer rows.Close()
	var list []store.BounceRates
	for rows.Next() {
		var (
			r  store.BounceRates
			at int64
		)
		if err := rows.Scan(&r.MailingID, &at, &r.Sent, &r.Hard, &r.Soft, &r.Complaints); err != nil {
			return period, nil, db.wrap("bounce rates", err)
		}
		r.CreatedAt = fromUnix(at)
		list = append(list, r)
	}
	if err := rows.Err(); err != nil {
		return period, nil, db.wrap("bounce rates", err)
	}
	return period, list, nil
}
