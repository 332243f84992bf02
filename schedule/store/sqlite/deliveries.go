package sqlite

import (
	"context"
	"database/sql"
	"errors"
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

// mailingMode selects the announcements createMailings takes.
type mailingMode int

const (
	modePerPost mailingMode = iota // every waiting announcement, one mailing each
	modeDigest                     // auto: one digest; manual: one mailing each
	modeManual                     // manual announcements only, one mailing each
)

// CreateMailings takes the queued announcements that have no mailing yet
// (queued = 1, mailed_at NULL) off the queue at now, in one transaction,
// and returns the new mailings' ids (none when nothing waits). digest false:
// one mailing per announcement. digest true: one digest mailing holding
// every waiting automatic announcement; manual ones (`herald send POST`)
// still get one mailing each, since they were asked for now.
func (db *DB) CreateMailings(ctx context.Context, now time.Time, digest bool) ([]int64, error) {
	mode := modePerPost
	if digest {
		mode = modeDigest
	}
	return db.createMailings(ctx, now, mode)
}

// CreateManualMailings is CreateMailings for manual announcements only (made
// by Announce, `herald send POST`): one mailing each. The worker in digest
// mode uses it, so that an explicit send does not wait for the digest tick.
func (db *DB) CreateManualMailings(ctx context.Context, now time.Time) ([]int64, error) {
	return db.createMailings(ctx, now, modeManual)
}

func (db *DB) createMailings(ctx context.Context, now time.Time, mode mailingMode) ([]int64, error) {
	now = now.UTC().Truncate(time.Second)
	var ids []int64
	err := db.inTx(ctx, "create mailings", func(tx *sql.Tx) error {
		ids = nil
		type waiting struct {
			id      int64
			manual  bool
			created int64
		}
		rows, err := tx.QueryContext(ctx, `
SELECT id, kind = 'manual', created_at FROM announcements
WHERE queued = 1 AND mailed_at IS NULL ORDER BY id`)
		if err != nil {
			return err
		}
		var list []waiting
		for rows.Next() {
			var w waiting
			if err := rows.Scan(&w.id, &w.manual, &w.created); err != nil {
				rows.Close()
				return err
			}
			if mode == modeManual && !w.manual {
				continue
			}
			list = append(list, w)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		insert := func(kind store.MailingKind, cutoff int64) (int64, error) {
			var id int64
			err := tx.QueryRowContext(ctx,
				"INSERT INTO mailings (kind, created_at, cutoff) VALUES (?, ?, ?) RETURNING id",
				kind, unix(now), cutoff).Scan(&id)
			if err == nil {
				ids = append(ids, id)
			}
			return id, err
		}
		take := func(announcement, mailing int64) error {
			_, err := tx.ExecContext(ctx,
				"UPDATE announcements SET mailing_id = ?, mailed_at = ? WHERE id = ?", mailing, unix(now), announcement)
			return err
		}
		var digestID int64
		for _, w := range list {
			if mode == modeDigest && !w.manual {
				if digestID == 0 {
					if digestID, err = insert(store.KindDigest, unix(now)); err != nil {
						return err
					}
				}
				if err := take(w.id, digestID); err != nil {
					return err
				}
				continue
			}
			id, err := insert(store.KindPost, w.created)
			if err != nil {
				return err
			}
			if err := take(w.id, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// UnexpandedMailings returns the ids of mailings whose deliveries were not
// created yet, oldest first.
func (db *DB) UnexpandedMailings(ctx context.Context) ([]int64, error) {
	rows, err := db.sql.QueryContext(ctx, "SELECT id FROM mailings WHERE expanded_at IS NULL ORDER BY id")
	if err != nil {
		return nil, db.wrap("unexpanded mailings", err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, db.wrap("unexpanded mailings", err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap("unexpanded mailings", err)
	}
	return ids, nil
}

// ExpandMailing creates mailing id's deliveries at now, in one statement and
// one transaction, and returns how many it created: one pending delivery per
// subscriber that is confirmed and was confirmed at or before the mailing's
// Cutoff. For a post mailing, subscribers that already have a delivery of
// the same post in another mailing (in any state) are left out, so a post
// announced again (`herald send POST`) never reaches anyone twice. A mailing
// already expanded (or skipped) is left alone: 0, nil. ErrNotFound when
// there is no such mailing.
func (db *DB) ExpandMailing(ctx context.Context, now time.Time, id int64) (int64, error) {
	now = now.UTC().Truncate(time.Second)
	var n int64
	op := fmt.Sprintf("expand mailing #%d", id)
	err := db.inTx(ctx, op, func(tx *sql.Tx) error {
		n = 0
		var (
			kind     store.MailingKind
			cutoff   int64
			expanded sql.NullInt64
		)
		err := tx.QueryRowContext(ctx, "SELECT kind, cutoff, expanded_at FROM mailings WHERE id = ?", id).
			Scan(&kind, &cutoff, &expanded)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: mailing #%d: %w", id, store.ErrNotFound)
		}
		if err != nil || expanded.Valid {
			return err
		}
		r, err := tx.ExecContext(ctx, `
INSERT OR IGNORE INTO deliveries
    (mailing_id, subscriber_id, state, next_attempt_at, queued_at, created_at, updated_at)
SELECT ?1, s.id, 'pending', ?2, ?2, ?2, ?2
FROM subscribers s
WHERE s.status = 'confirmed' AND s.confirmed_at <= ?3
  AND (?4 = 'digest' OR NOT EXISTS (
      SELECT 1 FROM deliveries d
      WHERE d.subscriber_id = s.id
        AND d.mailing_id IN (
            SELECT o.mailing_id FROM announcements o
            WHERE o.mailing_id <> ?1
              AND o.post_id IN (SELECT post_id FROM announcements WHERE mailing_id = ?1))))
ORDER BY s.id`, id, unix(now), cutoff, kind)
		if err != nil {
			return err
		}
		if n, err = r.RowsAffected(); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, "UPDATE mailings SET expanded_at = ? WHERE id = ?", unix(now), id)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// SkipMailing marks mailing id as done at now without deliveries, recording
// why (for example "newsletter: false"). A mailing already expanded is left
// alone. ErrNotFound when there is no such mailing.
func (db *DB) SkipMailing(ctx context.Context, now time.Time, id int64, reason string) error {
	op := fmt.Sprintf("skip mailing #%d", id)
	if reason == "" {
		reason = "skipped"
	}
	r, err := db.sql.ExecContext(ctx,
		"UPDATE mailings SET expanded_at = ?, skipped = ? WHERE id = ? AND expanded_at IS NULL",
		unix(now), reason, id)
	if err != nil {
		return db.wrap(op, err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return db.wrap(op, err)
	} else if n == 0 {
		if _, err := db.Mailing(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// Mailing returns mailing id with its posts in date order (oldest first),
// or ErrNotFound.
func (db *DB) Mailing(ctx context.Context, id int64) (store.Mailing, error) {
	op := fmt.Sprintf("mailing #%d", id)
	var (
		m               store.Mailing
		created, cutoff int64
		expanded        sql.NullInt64
		skipped         sql.NullString
	)
	err := db.sql.QueryRowContext(ctx,
		"SELECT id, kind, created_at, cutoff, expanded_at, skipped FROM mailings WHERE id = ?", id).
		Scan(&m.ID, &m.Kind, &created, &cutoff, &expanded, &skipped)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Mailing{}, fmt.Errorf("store: mailing #%d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Mailing{}, db.wrap(op, err)
	}
	m.CreatedAt, m.Cutoff, m.ExpandedAt, m.Skipped = fromUnix(created), fromUnix(cutoff), fromNullUnix(expanded), skipped.String
	if m.Posts, err = db.mailingPosts(ctx, id); err != nil {
		return store.Mailing{}, db.wrap(op, err)
	}
	return m, nil
}

// mailingPosts returns the posts of mailing id, oldest first.
func (db *DB) mailingPosts(ctx context.Context, id int64) ([]store.MailingPost, error) {
	rows, err := db.sql.QueryContext(ctx, `
SELECT a.id, p.id, p.path, p.title, p.url, p.date
FROM announcements a JOIN posts p ON p.id = a.post_id
WHERE a.mailing_id = ? ORDER BY p.date, p.id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var posts []store.MailingPost
	for rows.Next() {
		var (
			p    store.MailingPost
			date int64
		)
		if err := rows.Scan(&p.AnnouncementID, &p.PostID, &p.Path, &p.Title, &p.URL, &date); err != nil {
			return nil, err
		}
		p.Date = fromUnix(date)
		posts = append(posts, p)
	}
	return posts, rows.Err()
}

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

// CountDeliveries counts every delivery of the ledger by state.
func (db *DB) CountDeliveries(ctx context.Context) (store.DeliveryCounts, error) {
	n, err := db.countGroups(ctx, "count deliveries", "SELECT state, count(*) FROM deliveries GROUP BY state")
	if err != nil {
		return store.DeliveryCounts{}, err
	}
	return store.DeliveryCounts{
		Pending: n[string(store.DeliveryPending)],
		Sending: n[string(store.DeliverySending)],
		Sent:    n[string(store.DeliverySent)],
		Retry:   n[string(store.DeliveryRetry)],
		Failed:  n[string(store.DeliveryFailed)],
	}, nil
}

// countGroups runs query, a "SELECT key, count(*) … GROUP BY key", and
// returns the counts by key.
func (db *DB) countGroups(ctx context.Context, op, query string) (map[string]int64, error) {
	rows, err := db.sql.QueryContext(ctx, query)
	if err != nil {
		return nil, db.wrap(op, err)
	}
	defer rows.Close()
	counts := map[string]int64{}
	for rows.Next() {
		var (
			key string
			n   int64
		)
		if err := rows.Scan(&key, &n); err != nil {
			return nil, db.wrap(op, err)
		}
		counts[key] = n
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap(op, err)
	}
	return counts, nil
}

// WaitingDeliveries counts the deliveries not finished yet (pending, retry
// or sending). Cheap: it reads the partial indexes.
func (db *DB) WaitingDeliveries(ctx context.Context) (int64, error) {
	var n int64
	err := db.sql.QueryRowContext(ctx, `
SELECT (SELECT count(*) FROM deliveries WHERE state IN ('pending', 'retry'))
     + (SELECT count(*) FROM deliveries WHERE state = 'sending')`).Scan(&n)
	if err != nil {
		return 0, db.wrap("waiting deliveries", err)
	}
	return n, nil
}

// DeliveryStats counts the deliveries of the newest limit mailings (limit
// <= 0: all) by state, newest mailing first, each with its posts.
func (db *DB) DeliveryStats(ctx context.Context, limit int) ([]store.MailingStats, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.sql.QueryContext(ctx, `
SELECT m.id, m.kind, m.created_at, coalesce(m.skipped, ''),
    count(CASE WHEN d.state = 'sent' THEN 1 END),
    count(CASE WHEN d.state IN ('pending', 'sending') THEN 1 END),
    count(CASE WHEN d.state = 'retry' THEN 1 END),
    count(CASE WHEN d.state = 'failed' THEN 1 END)
FROM (SELECT * FROM mailings ORDER BY id DESC LIMIT ?) m
LEFT JOIN deliveries d ON d.mailing_id = m.id
GROUP BY m.id ORDER BY m.id DESC`, limit)
	if err != nil {
		return nil, db.wrap("delivery stats", err)
	}
	var list []store.MailingStats
	for rows.Next() {
		var (
			s       store.MailingStats
			created int64
		)
		if err := rows.Scan(&s.MailingID, &s.Kind, &created, &s.Skipped, &s.Sent, &s.Pending, &s.Retrying, &s.Failed); err != nil {
			rows.Close()
			return nil, db.wrap("delivery stats", err)
		}
		s.CreatedAt = fromUnix(created)
		list = append(list, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, db.wrap("delivery stats", err)
	}
	for i := range list {
		if list[i].Posts, err = db.mailingPosts(ctx, list[i].MailingID); err != nil {
			return nil, db.wrap("delivery stats", err)
		}
	}
	return list, nil
}

// FailedDeliveries returns up to limit failed deliveries (limit <= 0: all),
// most recently failed first, with their last error.
func (db *DB) FailedDeliveries(ctx context.Context, limit int) ([]store.FailedDelivery, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.sql.QueryContext(ctx, `
SELECT d.id, d.mailing_id, d.subscriber_id, s.email, d.attempts, d.last_code, d.last_error, d.updated_at,
    (SELECT group_concat(a.post_id, char(31)) FROM announcements a WHERE a.mailing_id = d.mailing_id)
FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
WHERE d.state = 'failed'
ORDER BY d.updated_at DESC, d.id DESC LIMIT ?`, limit)
	if err != nil {
		return nil, db.wrap("failed deliveries", err)
	}
	defer rows.Close()
	var list []store.FailedDelivery
	for rows.Next() {
		var (
			f       store.FailedDelivery
			updated int64
			posts   sql.NullString
		)
		if err := rows.Scan(&f.ID, &f.MailingID, &f.SubscriberID, &f.Email, &f.Attempts, &f.Code, &f.Error, &updated, &posts); err != nil {
			return nil, db.wrap("failed deliveries", err)
		}
		f.UpdatedAt = fromUnix(updated)
		if posts.String != "" {
			f.PostIDs = strings.Split(posts.String, "\x1f")
		}
		list = append(list, f)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap("failed deliveries", err)
	}
	return list, nil
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
  AND subscriber_id IN (SELECT id FROM subscribers WHERE status = 'confirmed')`, unix(now), postID)
	if err != nil {
		return 0, db.wrap("requeue failed deliveries of "+postID, err)
	}
	n, err := r.RowsAffected()
	if err != nil {
		return 0, db.wrap("requeue failed deliveries of "+postID, err)
	}
	return n, nil
}

// PostRecipients answers "who would receive post postID if it were sent
// now": the confirmed subscribers (confirmed at or before now) that have no
// delivery of that post yet, counted, and the first sample of them by id.
func (db *DB) PostRecipients(ctx context.Context, now time.Time, postID string, sample int) (int, []store.Subscriber, error) {
	const where = `
WHERE status = 'confirmed' AND confirmed_at <= ?1
  AND NOT EXISTS (
      SELECT 1 FROM deliveries d
      WHERE d.subscriber_id = subscribers.id
        AND d.mailing_id IN (SELECT mailing_id FROM announcements WHERE post_id = ?2 AND mailing_id IS NOT NULL))`
	op := "recipients of " + postID
	var n int
	if err := db.sql.QueryRowContext(ctx, "SELECT count(*) FROM subscribers"+where, unix(now), postID).Scan(&n); err != nil {
		return 0, nil, db.wrap(op, err)
	}
	if sample <= 0 {
		return n, nil, nil
	}
	rows, err := db.sql.QueryContext(ctx, selectSubscribers+where+" ORDER BY id LIMIT ?3", unix(now), postID, sample)
	if err != nil {
		return 0, nil, db.wrap(op, err)
	}
	defer rows.Close()
	var list []store.Subscriber
	for rows.Next() {
		s, err := scanSubscriber(rows)
		if err != nil {
			return 0, nil, db.wrap(op, err)
		}
		list = append(list, s)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, db.wrap(op, err)
	}
	return n, list, nil
}
