package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"herald/schedule/store"
)

// This file is the bounce and suppression part of the store (migration
// 0004_bounces.sql). Every other backend mirrors these methods with the
// same semantics; the comments are the specification.

// RecordBounce records ev received at now and applies policy p to its
// subscriber, all in ONE transaction, and returns the stored event (its ID
// and Outcome set; Raw not echoed). With ev.SubscriberID 0, or an id that no
// longer exists, the event is stored with outcome "unmatched" and changes
// nothing. Otherwise, by ev.Type:
//
//   - hard: a subscriber not yet suppressed is suppressed (suppressed_at =
//     now, reason "hard"); outcome "suppressed".
//   - soft: counted; when the count of soft bounces (one per mailing; a
//     soft bounce without a mailing counts alone) received within
//     p.SoftWindow before now and after the subscriber's last success
//     reaches p.SoftLimit, the subscriber is suppressed (reason "soft"),
//     outcome "suppressed"; else "counted". A success is a sent delivery
//     whose mailing has no hard or soft bounce from this subscriber.
//   - complaint: the status becomes unsubscribed (unsubscribed_at = now
//     unless it already was) and complained_at is set; outcome
//     "unsubscribed".
//   - autoreply, other: nothing changes; outcome "recorded".
//
// Hard and soft bounces of a subscriber that is already suppressed, or not
// confirmed, change nothing and are "recorded"; so is a complaint from an
// address that had already complained. Suppressing or unsubscribing
// deletes the subscriber's pending and retry deliveries (as
// SetSubscriberStatus does), so nothing more is sent to it.
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
	out := store.BounceEvent{ReceivedAt: now, Email: strings.TrimSpace(ev.Email), SubscriberID: ev.SubscriberID,
		MailingID: ev.MailingID, Type: ev.Type, Source: ev.Source, Action: ev.Action, Status: ev.Status,
		Diagnostic: ev.Diagnostic}
	op := "record bounce"
	err := db.inTx(ctx, op, func(tx *sql.Tx) error {
		var (
			status     store.SubscriberStatus
			email      string
			suppressed sql.NullInt64
			complained sql.NullInt64
		)
		out.Outcome = store.OutcomeRecorded
		found := false
		if ev.SubscriberID > 0 {
			err := tx.QueryRowContext(ctx,
				"SELECT email, status, suppressed_at, complained_at FROM subscribers WHERE id = ?", ev.SubscriberID).
				Scan(&email, &status, &suppressed, &complained)
			switch {
			case err == nil:
				found = true
				out.Email = email
			case !errors.Is(err, sql.ErrNoRows):
				return err
			}
		}
		if !found {
			out.SubscriberID = 0
			out.Outcome = store.OutcomeUnmatched
		}
		r, err := tx.ExecContext(ctx, `
INSERT INTO bounce_events (received_at, email, email_key, subscriber_id, mailing_id, type, source,
    action, status, diagnostic, outcome, raw)
VALUES (?, ?, ?, nullif(?, 0), nullif(?, 0), ?, ?, ?, ?, ?, ?, ?)`,
			unix(now), out.Email, store.EmailKey(out.Email), out.SubscriberID, out.MailingID, out.Type, out.Source,
			out.Action, out.Status, out.Diagnostic, out.Outcome, ev.Raw)
		if err != nil {
			return err
		}
		if out.ID, err = r.LastInsertId(); err != nil {
			return err
		}
		if !found {
			return nil
		}
		id := ev.SubscriberID
		switch ev.Type {
		case store.BounceHard, store.BounceSoft:
			if status != store.StatusConfirmed || suppressed.Valid {
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
			if _, err := tx.ExecContext(ctx,
				"UPDATE subscribers SET suppressed_at = ?, suppressed_reason = ? WHERE id = ?", unix(now), reason, id); err != nil {
				return err
			}
			if err := dropQueued(ctx, tx, id); err != nil {
				return err
			}
			out.Outcome = store.OutcomeSuppressed
		case store.BounceComplaint:
			if complained.Valid && status == store.StatusUnsubscribed {
				break
			}
			if _, err := tx.ExecContext(ctx, `
UPDATE subscribers SET complained_at = ?1,
    unsubscribed_at = CASE WHEN status = 'unsubscribed' THEN unsubscribed_at ELSE ?1 END,
    status = 'unsubscribed'
WHERE id = ?2`, unix(now), id); err != nil {
				return err
			}
			if err := dropQueued(ctx, tx, id); err != nil {
				return err
			}
			out.Outcome = store.OutcomeUnsubscribed
		}
		_, err = tx.ExecContext(ctx, "UPDATE bounce_events SET outcome = ? WHERE id = ?", out.Outcome, out.ID)
		return err
	})
	if err != nil {
		return store.BounceEvent{}, err
	}
	return out, nil
}

// softCount counts the subscriber's soft bounces that count towards the
// limit at now (see RecordBounce), the one being recorded included.
func softCount(ctx context.Context, tx *sql.Tx, id int64, now time.Time, p store.BouncePolicy) (int, error) {
	var lastOK int64
	err := tx.QueryRowContext(ctx, `
SELECT coalesce(max(d.sent_at), 0) FROM deliveries d
WHERE d.subscriber_id = ?1 AND d.state = 'sent' AND d.sent_at IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM bounce_events b
                  WHERE b.subscriber_id = ?1 AND b.mailing_id = d.mailing_id AND b.type IN ('hard', 'soft'))`, id).
		Scan(&lastOK)
	if err != nil {
		return 0, err
	}
	var n int
	err = tx.QueryRowContext(ctx, `
SELECT count(DISTINCT coalesce(mailing_id, -id)) FROM bounce_events
WHERE subscriber_id = ?1 AND type = 'soft' AND received_at >= ?2 AND received_at > ?3`,
		id, unix(now.Add(-p.SoftWindow)), lastOK).Scan(&n)
	return n, err
}

// dropQueued deletes a subscriber's deliveries that have not been sent.
func dropQueued(ctx context.Context, tx *sql.Tx, id int64) error {
	_, err := tx.ExecContext(ctx, "DELETE FROM deliveries WHERE subscriber_id = ? AND state IN ('pending', 'retry')", id)
	return err
}

const selectBounces = `SELECT id, received_at, email, coalesce(subscriber_id, 0), coalesce(mailing_id, 0),
    type, source, action, status, diagnostic, outcome FROM bounce_events`

func scanBounces(rows *sql.Rows, withRaw bool) ([]store.BounceEvent, error) {
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

// Bounces returns the events received at or after since, newest first, at
// most limit of them (limit <= 0: all), without their raw messages.
func (db *DB) Bounces(ctx context.Context, since time.Time, limit int) ([]store.BounceEvent, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.sql.QueryContext(ctx, selectBounces+" WHERE received_at >= ? ORDER BY received_at DESC, id DESC LIMIT ?",
		unix(since), limit)
	if err != nil {
		return nil, db.wrap("list bounces", err)
	}
	list, err := scanBounces(rows, false)
	if err != nil {
		return nil, db.wrap("list bounces", err)
	}
	return list, nil
}

// BouncesFor returns every event about email (matched by its email key,
// so the domain's case does not matter), newest first, each with its raw
// message while it is kept. No events is an empty list, not an error.
func (db *DB) BouncesFor(ctx context.Context, email string) ([]store.BounceEvent, error) {
	rows, err := db.sql.QueryContext(ctx, `SELECT id, received_at, email, coalesce(subscriber_id, 0),
    coalesce(mailing_id, 0), type, source, action, status, diagnostic, outcome, raw
FROM bounce_events WHERE email_key = ? ORDER BY received_at DESC, id DESC`, store.EmailKey(email))
	if err != nil {
		return nil, db.wrap("bounces of "+email, err)
	}
	list, err := scanBounces(rows, true)
	if err != nil {
		return nil, db.wrap("bounces of "+email, err)
	}
	return list, nil
}

// SuppressionOf returns the bounce state of subscriber id. ErrNotFound when
// there is no such subscriber.
func (db *DB) SuppressionOf(ctx context.Context, id int64) (store.Suppression, error) {
	var (
		s                 store.Suppression
		suppr, complained sql.NullInt64
	)
	err := db.sql.QueryRowContext(ctx,
		"SELECT suppressed_at, suppressed_reason, complained_at FROM subscribers WHERE id = ?", id).
		Scan(&suppr, &s.Reason, &complained)
	if errors.Is(err, sql.ErrNoRows) {
		return s, fmt.Errorf("store: subscriber #%d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return s, db.wrap("suppression", err)
	}
	s.SuppressedAt, s.ComplainedAt = fromNullUnix(suppr), fromNullUnix(complained)
	return s, nil
}

// Unsuppress lifts email's suppression and forgets its complaint mark (the
// blogger's decision: `herald subscribers unsuppress`). The status is left
// as it is: a subscriber unsubscribed by a complaint stays unsubscribed
// until it subscribes again. It reports whether anything changed;
// ErrNotFound when the address is not a subscriber.
func (db *DB) Unsuppress(ctx context.Context, email string) (bool, error) {
	n, err := db.execAffected(ctx, `
UPDATE subscribers SET suppressed_at = NULL, suppressed_reason = '', complained_at = NULL
WHERE email_key = ? AND (suppressed_at IS NOT NULL OR complained_at IS NOT NULL)`, store.EmailKey(email))
	if err != nil {
		return false, db.wrap("unsuppress "+email, err)
	}
	if n == 0 {
		if _, err := db.Subscriber(ctx, email); err != nil {
			return false, err
		}
	}
	return n > 0, nil
}

// PruneBounceRaw drops the raw messages of events received before before
// (the events themselves stay) and returns how many it dropped.
func (db *DB) PruneBounceRaw(ctx context.Context, before time.Time) (int64, error) {
	n, err := db.execAffected(ctx, "UPDATE bounce_events SET raw = NULL WHERE raw IS NOT NULL AND received_at < ?", unix(before))
	if err != nil {
		return 0, db.wrap("prune bounce messages", err)
	}
	return n, nil
}

// BounceRates returns the counts behind the bounce and complaint rates:
// period covers deliveries sent and events received at or after since;
// mailings has one entry per mailing for the newest limit mailings that
// were not skipped (limit <= 0: all), newest first. Bounces and complaints
// count distinct subscribers; events that name no mailing count only in
// the period.
func (db *DB) BounceRates(ctx context.Context, since time.Time, limit int) (store.BounceRates, []store.BounceRates, error) {
	var period store.BounceRates
	s := unix(since)
	err := db.sql.QueryRowContext(ctx, `
SELECT (SELECT count(*) FROM deliveries WHERE state = 'sent' AND sent_at >= ?1),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events WHERE type = 'hard' AND received_at >= ?1 AND subscriber_id IS NOT NULL),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events WHERE type = 'soft' AND received_at >= ?1 AND subscriber_id IS NOT NULL),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events WHERE type = 'complaint' AND received_at >= ?1 AND subscriber_id IS NOT NULL)`, s).
		Scan(&period.Sent, &period.Hard, &period.Soft, &period.Complaints)
	if err != nil {
		return period, nil, db.wrap("bounce rates", err)
	}
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.sql.QueryContext(ctx, `
SELECT m.id, m.created_at,
    (SELECT count(*) FROM deliveries d WHERE d.mailing_id = m.id AND d.state = 'sent'),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events b WHERE b.mailing_id = m.id AND b.type = 'hard' AND b.subscriber_id IS NOT NULL),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events b WHERE b.mailing_id = m.id AND b.type = 'soft' AND b.subscriber_id IS NOT NULL),
    (SELECT count(DISTINCT subscriber_id) FROM bounce_events b WHERE b.mailing_id = m.id AND b.type = 'complaint' AND b.subscriber_id IS NOT NULL)
FROM (SELECT id, created_at FROM mailings WHERE skipped IS NULL ORDER BY id DESC LIMIT ?) m
ORDER BY m.id DESC`, limit)
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
