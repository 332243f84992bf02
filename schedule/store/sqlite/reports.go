package sqlite

import (
	"context"
	"database/sql"
	"herald/schedule/store"
	"strings"
)

// Reports on the ledger: counts and lists for status, metrics and `herald send`.

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
SELECT m.id, m.kind, m.created_at, coalesce(m.skipped, ''), m.wait_reason, m.wait_until,
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
			until   sql.NullInt64
		)
		if err := rows.Scan(&s.MailingID, &s.Kind, &created, &s.Skipped, &s.WaitReason, &until, &s.Sent, &s.Pending, &s.Retrying, &s.Failed); err != nil {
			rows.Close()
			return nil, db.wrap("delivery stats", err)
		}
		s.CreatedAt, s.WaitUntil = fromUnix(created), fromNullUnix(until)
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
// most recently failed first, with their last error; those of forgotten
// subscribers are not listed.
func (db *DB) FailedDeliveries(ctx context.Context, limit int) ([]store.FailedDelivery, error) {
	if limit <= 0 {
		limit = -1
	}
	rows, err := db.sql.QueryContext(ctx, `
SELECT d.id, d.mailing_id, d.subscriber_id, s.email, d.attempts, d.last_code, d.last_error, d.updated_at,
    (SELECT group_concat(a.post_id, char(31)) FROM announcements a WHERE a.mailing_id = d.mailing_id)
FROM deliveries d JOIN subscribers s ON s.id = d.subscriber_id
WHERE d.state = 'failed' AND s.forgotten_at IS NULL
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
