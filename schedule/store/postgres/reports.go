package postgres

import (
	"context"
	"herald/schedule/store"
	"time"
)

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

// WaitingDeliveries counts the deliveries not finished yet (pending, retry
// or sending), from the partial indexes.
func (db *DB) WaitingDeliveries(ctx context.Context) (int64, error) {
	var n int64
	err := db.pool.QueryRow(ctx, `
SELECT (SELECT count(*) FROM deliveries WHERE state IN ('pending', 'retry'))
     + (SELECT count(*) FROM deliveries WHERE state = 'sending')`).Scan(&n)
	if err != nil {
		return 0, db.wrap("waiting deliveries", err)
	}
	return n, nil
}

// limitArg is a LIMIT argument: NULL (no limit) for limit <= 0.
func limitArg(limit int) *int {
	if limit <= 0 {
		return nil
	}
	return &limit
}

// DeliveryStats counts the deliveries of the newest limit mailings (limit
// <= 0: all) by state, newest mailing first, each with its posts.
func (db *DB) DeliveryStats(ctx context.Context, limit int) ([]store.MailingStats, error) {
	rows, err := db.pool.Query(ctx, `
SELECT m.id, m.kind, m.created_at, coalesce(m.skipped, ''), m.wait_reason, m.wait_until,
    count(*) FILTER (WHERE d.state = 'sent'),
    count(*) FILTER (WHERE d.state IN ('pending', 'sending')),
    count(*) FILTER (WHERE d.state = 'retry'),
    count(*) FILTER (WHERE d.state = 'failed')
FROM (SELECT * FROM mailings ORDER BY id DESC LIMIT $1) m
LEFT JOIN deliveries d ON d.mailing_id = m.id
GROUP BY m.id, m.kind, m.created_at, m.skipped, m.wait_reason, m.wait_until ORDER BY m.id DESC`, limitArg(limit))
	if err != nil {
		return nil, db.wrap("delivery stats", err)
	}
	var list []store.MailingStats
	for rows.Next() {
		var (
			s       store.MailingStats
			kind    string
			created int64
			until   *int64
		)
		if err := rows.Scan(&s.MailingID, &kind, &created, &s.Skipped, &s.WaitReason, &until, &s.Sent, &s.Pending, &s.Retrying, &s.Failed); err != nil {
			rows.Close()
			return nil, db.wrap("delivery stats", err)
		}
		s.Kind, s.CreatedAt, s.WaitUntil = store.MailingKind(kind), fromUnix(created), fromNullUnix(until)
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
	rows, err := db.pool.Query(ctx, `
SELECT d.id, d.mailing_id, d.subscriber_id, s.email, d.attempts, d.last_code, d.last_error, d.updated_at,
    (SELECT array_agg(a.post_id ORDER BY a.id) FROM announcements a WHERE a.mailing_id = d.mailing_id)
FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
WHERE d.state = 'failed' AND s.forgotten_at IS NULL
ORDER BY d.updated_at DESC, d.id DESC LIMIT $1`, limitArg(limit))
	if err != nil {
		return nil, db.wrap("failed deliveries", err)
	}
	defer rows.Close()
	var list []store.FailedDelivery
	for rows.Next() {
		var (
			f       store.FailedDelivery
			updated int64
		)
		if err := rows.Scan(&f.ID, &f.MailingID, &f.SubscriberID, &f.Email, &f.Attempts, &f.Code, &f.Error, &updated, &f.PostIDs); err != nil {
			return nil, db.wrap("failed deliveries", err)
		}
		f.UpdatedAt = fromUnix(updated)
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
	tag, err := db.pool.Exec(ctx, `
UPDATE deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1, queued_at = $1, updated_at = $1
WHERE state = 'failed'
  AND ($2::text = '' OR mailing_id IN (SELECT mailing_id FROM announcements WHERE post_id = $2::text AND mailing_id IS NOT NULL))
  AND subscriber_id IN (SELECT id FROM subscribers WHERE status = 'confirmed' AND suppressed_at IS NULL)`, unix(now), postID)
	if err != nil {
		return 0, db.wrap("requeue failed deliveries of "+postID, err)
	}
	return tag.RowsAffected(), nil
}
