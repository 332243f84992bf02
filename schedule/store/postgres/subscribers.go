package postgres

import (
	"context"
	"errors"
	"fmt"
	"herald/schedule/store"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// selectSubscribers is the SELECT that scanSubscriber reads.
const selectSubscribers = `
SELECT id, email, name, status, source, created_at, confirmed_at, unsubscribed_at FROM subscribers`

func scanSubscriber(row pgx.Row) (store.Subscriber, error) {
	var (
		s                   store.Subscriber
		status, source      string
		created             int64
		confirmed, unsubbed *int64
	)
	if err := row.Scan(&s.ID, &s.Email, &s.Name, &status, &source, &created, &confirmed, &unsubbed); err != nil {
		return store.Subscriber{}, err
	}
	s.Status, s.Source = store.SubscriberStatus(status), store.SubscriberSource(source)
	s.CreatedAt, s.ConfirmedAt, s.UnsubscribedAt = fromUnix(created), fromNullUnix(confirmed), fromNullUnix(unsubbed)
	return s, nil
}

// insertSubscriber adds a subscriber unless the address is known; the
// confirmation or unsubscription time is the creation time for those states.
const insertSubscriber = `
INSERT INTO subscribers (email, email_key, name, status, source, created_at, confirmed_at, unsubscribed_at)
VALUES ($1, $2, $3, $4::text, $5, $6::bigint,
        CASE WHEN $4::text = 'confirmed' THEN $6::bigint END,
        CASE WHEN $4::text = 'unsubscribed' THEN $6::bigint END)
ON CONFLICT (email_key) DO NOTHING`

func insertArgs(s store.NewSubscriber, now time.Time) []any {
	return []any{s.Email, store.EmailKey(s.Email), s.Name, string(s.Status), string(s.Source), unix(now)}
}

// AddSubscriber is sqlite.DB.AddSubscriber: it adds the address unless it
// is known, and returns the row and whether it was created.
func (db *DB) AddSubscriber(ctx context.Context, now time.Time, email, name string, status store.SubscriberStatus, source store.SubscriberSource) (store.Subscriber, bool, error) {
	ns := store.NewSubscriber{Email: strings.TrimSpace(email), Name: name, Status: status, Source: source}
	op := "add subscriber " + ns.Email
	if err := ns.Validate(); err != nil {
		return store.Subscriber{}, false, fmt.Errorf("store: %s: %w", op, err)
	}
	now = now.UTC().Truncate(time.Second)
	var (
		s       store.Subscriber
		created bool
	)
	err := db.inTx(ctx, op, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, insertSubscriber, insertArgs(ns, now)...)
		if err != nil {
			return err
		}
		created = tag.RowsAffected() == 1
		s, err = scanSubscriber(tx.QueryRow(ctx, selectSubscribers+" WHERE email_key = $1", store.EmailKey(ns.Email)))
		return err
	})
	if err != nil {
		return store.Subscriber{}, false, err
	}
	return s, created, nil
}

// AddSubscribers is AddSubscriber for many addresses in one transaction
// and one round trip; created[i] reports whether subs[i] was new.
func (db *DB) AddSubscribers(ctx context.Context, now time.Time, subs []store.NewSubscriber) ([]bool, error) {
	for i := range subs {
		subs[i].Email = strings.TrimSpace(subs[i].Email)
		if err := subs[i].Validate(); err != nil {
			return nil, fmt.Errorf("store: add subscribers: %w", err)
		}
	}
	now = now.UTC().Truncate(time.Second)
	created := make([]bool, len(subs))
	err := db.inTx(ctx, fmt.Sprintf("add %d subscribers", len(subs)), func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, s := range subs {
			b.Queue(insertSubscriber, insertArgs(s, now)...)
		}
		br := tx.SendBatch(ctx, b)
		for i, s := range subs {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return fmt.Errorf("%s: %w", s.Email, err)
			}
			created[i] = tag.RowsAffected() == 1
		}
		return br.Close()
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}

// Subscriber returns the subscriber with the address email (matched by
// EmailKey), or ErrNotFound.
func (db *DB) Subscriber(ctx context.Context, email string) (store.Subscriber, error) {
	s, err := scanSubscriber(db.pool.QueryRow(ctx, selectSubscribers+" WHERE email_key = $1", store.EmailKey(email)))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Subscriber{}, fmt.Errorf("store: subscriber %s: %w", email, store.ErrNotFound)
	}
	if err != nil {
		return store.Subscriber{}, db.wrap("subscriber "+email, err)
	}
	return s, nil
}

// SubscriberByID returns the subscriber with the given id, or ErrNotFound.
func (db *DB) SubscriberByID(ctx context.Context, id int64) (store.Subscriber, error) {
	s, err := scanSubscriber(db.pool.QueryRow(ctx, selectSubscribers+" WHERE id = $1 AND forgotten_at IS NULL", id))
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Subscriber{}, fmt.Errorf("store: subscriber #%d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Subscriber{}, db.wrap(fmt.Sprintf("subscriber #%d", id), err)
	}
	return s, nil
}

// SetSubscriberStatus is sqlite.DB.SetSubscriberStatus: it moves subscriber
// id to status and reports whether it changed; leaving confirmed drops the
// subscriber's unsent deliveries in the same transaction.
func (db *DB) SetSubscriberStatus(ctx context.Context, now time.Time, id int64, status store.SubscriberStatus) (bool, error) {
	op := fmt.Sprintf("set subscriber #%d status %s", id, status)
	if !status.Valid() {
		return false, fmt.Errorf("store: %s: invalid status", op)
	}
	now = now.UTC().Truncate(time.Second)
	var changed bool
	err := db.inTx(ctx, op, func(tx pgx.Tx) error {
		changed = false
		var cur string
		err := tx.QueryRow(ctx, "SELECT status FROM subscribers WHERE id = $1 FOR UPDATE", id).Scan(&cur)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("store: subscriber #%d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if store.SubscriberStatus(cur) == status {
			if status != store.StatusConfirmed {
				return nil
			}
			// Confirming again (a new web subscription) lifts a
			// suppression (bounces.go).
			tag, err := tx.Exec(ctx, `
UPDATE subscribers SET suppressed_at = NULL, suppressed_reason = '' WHERE id = $1 AND suppressed_at IS NOT NULL`, id)
			changed = err == nil && tag.RowsAffected() > 0
			return err
		}
		changed = true
		// Becoming confirmed lifts a suppression (bounces.go).
		if _, err := tx.Exec(ctx, `
UPDATE subscribers SET status = $1::text,
    confirmed_at    = CASE WHEN $1::text = 'confirmed'    THEN $2::bigint ELSE confirmed_at END,
    unsubscribed_at = CASE WHEN $1::text = 'unsubscribed' THEN $2::bigint ELSE unsubscribed_at END,
    suppressed_at   = CASE WHEN $1::text = 'confirmed'    THEN NULL ELSE suppressed_at END,
    suppressed_reason = CASE WHEN $1::text = 'confirmed'  THEN '' ELSE suppressed_reason END
WHERE id = $3`, string(status), unix(now), id); err != nil {
			return err
		}
		if store.SubscriberStatus(cur) == store.StatusConfirmed {
			_, err := tx.Exec(ctx,
				"DELETE FROM deliveries WHERE subscriber_id = $1 AND state IN ('pending', 'retry')", id)
			return err
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return changed, nil
}

// ForgetSubscriber is sqlite.DB.ForgetSubscriber: it erases the address
// email and its personal data (address, name, the error texts of its
// deliveries, the merge records naming it), drops its waiting deliveries
// and keeps the row and its other deliveries, anonymous, for the counts.
// ErrNotFound when the address is not known.
func (db *DB) ForgetSubscriber(ctx context.Context, now time.Time, email string) error {
	return db.inTx(ctx, "forget subscriber "+email, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, "SELECT id FROM subscribers WHERE email_key = $1 AND forgotten_at IS NULL FOR UPDATE", store.EmailKey(email)).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("store: subscriber %s: %w", email, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		at := unix(now.UTC().Truncate(time.Second))
		if _, err := tx.Exec(ctx, `
UPDATE subscribers SET email = '', email_key = 'forgotten:' || id, name = '',
    status = 'unsubscribed', unsubscribed_at = coalesce(unsubscribed_at, $2), forgotten_at = $2
WHERE id = $1`, id, at); err != nil {
			return err
		}
		for _, q := range []string{
			"DELETE FROM deliveries WHERE subscriber_id = $1 AND state IN ('pending', 'retry')",
			"UPDATE deliveries SET last_error = '' WHERE subscriber_id = $1 AND last_error <> ''",
			"UPDATE delivery_attempts SET error = '' WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscriber_id = $1)",
			"DELETE FROM subscriber_merges WHERE kept_id = $1",
			// Bounce reports quote the address and the message.
			"UPDATE bounce_events SET email = '', email_key = '', diagnostic = '', raw = NULL WHERE subscriber_id = $1",
		} {
			if _, err := tx.Exec(ctx, q, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// SubscriberMerges lists the duplicate addresses that migration 0002
// merged, oldest first.
func (db *DB) SubscriberMerges(ctx context.Context) ([]store.SubscriberMerge, error) {
	rows, err := db.pool.Query(ctx, `
SELECT kept_id, kept_email, merged_email, merged_status, merged_at, unsubscribed
FROM subscriber_merges ORDER BY id`)
	if err != nil {
		return nil, db.wrap("subscriber merges", err)
	}
	defer rows.Close()
	var ms []store.SubscriberMerge
	for rows.Next() {
		var (
			m      store.SubscriberMerge
			status string
			at     int64
		)
		if err := rows.Scan(&m.KeptID, &m.KeptEmail, &m.MergedEmail, &status, &at, &m.Unsubscribed); err != nil {
			return nil, db.wrap("subscriber merges", err)
		}
		m.MergedStatus, m.MergedAt = store.SubscriberStatus(status), fromUnix(at)
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap("subscriber merges", err)
	}
	return ms, nil
}

// DeletePending deletes the pending subscriptions created before olderThan
// and returns how many.
func (db *DB) DeletePending(ctx context.Context, olderThan time.Time) (int64, error) {
	tag, err := db.pool.Exec(ctx, "DELETE FROM subscribers WHERE status = 'pending' AND created_at < $1", olderThan.Unix())
	if err != nil {
		return 0, db.wrap("delete pending subscribers", err)
	}
	return tag.RowsAffected(), nil
}

// subscriberBatch is how many subscribers EachSubscriber reads per query.
const subscriberBatch = 500

// EachSubscriber calls fn for every subscriber with the given status ("" =
// every status), in id order, reading keyset-paginated batches and holding
// nothing open while fn runs.
func (db *DB) EachSubscriber(ctx context.Context, status store.SubscriberStatus, fn func(store.Subscriber) error) error {
	if status != "" && !status.Valid() {
		return fmt.Errorf("store: each subscriber: invalid status %q", status)
	}
	var after int64
	batch := make([]store.Subscriber, 0, subscriberBatch)
	for {
		batch = batch[:0]
		rows, err := db.pool.Query(ctx, selectSubscribers+`
WHERE id > $1 AND ($2::text = '' OR status = $2::text) AND forgotten_at IS NULL ORDER BY id LIMIT $3`, after, string(status), subscriberBatch)
		if err != nil {
			return db.wrap("each subscriber", err)
		}
		for rows.Next() {
			s, err := scanSubscriber(rows)
			if err != nil {
				rows.Close()
				return db.wrap("each subscriber", err)
			}
			batch = append(batch, s)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return db.wrap("each subscriber", err)
		}
		for _, s := range batch {
			if err := fn(s); err != nil {
				return err
			}
		}
		if len(batch) < subscriberBatch {
			return nil
		}
		after = batch[len(batch)-1].ID
	}
}

// CountSubscribers counts subscribers by status.
func (db *DB) CountSubscribers(ctx context.Context) (store.SubscriberCounts, error) {
	n, err := db.countGroups(ctx, "count subscribers", "SELECT status, count(*) FROM subscribers WHERE forgotten_at IS NULL GROUP BY status")
	if err != nil {
		return store.SubscriberCounts{}, err
	}
	return store.SubscriberCounts{
		Pending:      int(n[string(store.StatusPending)]),
		Confirmed:    int(n[string(store.StatusConfirmed)]),
		Unsubscribed: int(n[string(store.StatusUnsubscribed)]),
	}, nil
}

// countGroups runs query, a "SELECT key, count(*) … GROUP BY key", and
// returns the counts by key.
func (db *DB) countGroups(ctx context.Context, op, query string) (map[string]int64, error) {
	rows, err := db.pool.Query(ctx, query)
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
