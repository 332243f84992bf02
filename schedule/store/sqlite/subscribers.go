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

// selectSubscribers is the SELECT that scanSubscriber reads.
const selectSubscribers = `
SELECT id, email, name, status, source, created_at, confirmed_at, unsubscribed_at FROM subscribers`

func scanSubscriber(row interface{ Scan(...any) error }) (store.Subscriber, error) {
	var (
		s                   store.Subscriber
		created             int64
		confirmed, unsubbed sql.NullInt64
	)
	if err := row.Scan(&s.ID, &s.Email, &s.Name, &s.Status, &s.Source, &created, &confirmed, &unsubbed); err != nil {
		return store.Subscriber{}, err
	}
	s.CreatedAt, s.ConfirmedAt, s.UnsubscribedAt = fromUnix(created), fromNullUnix(confirmed), fromNullUnix(unsubbed)
	return s, nil
}

// AddSubscriber adds the address email with name, status and source at now
// and returns the row and true. When the address is already known (same
// EmailKey) it changes nothing and returns the existing row and false:
// adding or importing never re-subscribes someone who unsubscribed, nor
// downgrades a confirmed subscriber to pending; SetSubscriberStatus does that
// on purpose.
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
	err := db.inTx(ctx, op, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, insertSubscriber+" RETURNING id", insertArgs(ns, now)...).Scan(&id)
		created = err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		s, err = scanSubscriber(tx.QueryRowContext(ctx, selectSubscribers+" WHERE email_key = ?", store.EmailKey(ns.Email)))
		return err
	})
	if err != nil {
		return store.Subscriber{}, false, err
	}
	return s, created, nil
}

// insertSubscriber adds a subscriber unless the address is known; the
// confirmation or unsubscription time is the creation time for those states.
const insertSubscriber = `
INSERT INTO subscribers (email, email_key, name, status, source, created_at, confirmed_at, unsubscribed_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6,
        CASE WHEN ?4 = 'confirmed' THEN ?6 END,
        CASE WHEN ?4 = 'unsubscribed' THEN ?6 END)
ON CONFLICT (email_key) DO NOTHING`

// insertArgs are insertSubscriber's arguments.
func insertArgs(s store.NewSubscriber, now time.Time) []any {
	return []any{s.Email, store.EmailKey(s.Email), s.Name, s.Status, s.Source, unix(now)}
}

// AddSubscribers is AddSubscriber for many addresses in one transaction
// (an import of a large list): created[i] reports whether subs[i] was new;
// known addresses are left unchanged. An invalid entry fails the whole call
// before anything is written.
func (db *DB) AddSubscribers(ctx context.Context, now time.Time, subs []store.NewSubscriber) ([]bool, error) {
	for i := range subs {
		subs[i].Email = strings.TrimSpace(subs[i].Email)
		if err := subs[i].Validate(); err != nil {
			return nil, fmt.Errorf("store: add subscribers: %w", err)
		}
	}
	now = now.UTC().Truncate(time.Second)
	created := make([]bool, len(subs))
	err := db.inTx(ctx, fmt.Sprintf("add %d subscribers", len(subs)), func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, insertSubscriber)
		if err != nil {
			return err
		}
		defer st.Close()
		for i, s := range subs {
			r, err := st.ExecContext(ctx, insertArgs(s, now)...)
			if err != nil {
				return fmt.Errorf("%s: %w", s.Email, err)
			}
			n, err := r.RowsAffected()
			if err != nil {
				return err
			}
			created[i] = n == 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return created, nil
}

// Subscriber returns the subscriber with the address email (matched by
// EmailKey), or ErrNotFound.
func (db *DB) Subscriber(ctx context.Context, email string) (store.Subscriber, error) {
	s, err := scanSubscriber(db.sql.QueryRowContext(ctx, selectSubscribers+" WHERE email_key = ?", store.EmailKey(email)))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Subscriber{}, fmt.Errorf("store: subscriber %s: %w", email, store.ErrNotFound)
	}
	if err != nil {
		return store.Subscriber{}, db.wrap("subscriber "+email, err)
	}
	return s, nil
}

// SubscriberByID returns the subscriber with the given id, or ErrNotFound
// (also for a forgotten subscriber).
func (db *DB) SubscriberByID(ctx context.Context, id int64) (store.Subscriber, error) {
	s, err := scanSubscriber(db.sql.QueryRowContext(ctx, selectSubscribers+" WHERE id = ? AND forgotten_at IS NULL", id))
	if errors.Is(err, sql.ErrNoRows) {
		return store.Subscriber{}, fmt.Errorf("store: subscriber #%d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Subscriber{}, db.wrap(fmt.Sprintf("subscriber #%d", id), err)
	}
	return s, nil
}

// SetSubscriberStatus moves subscriber id to status at now and reports
// whether it changed (false: it already had that status; nothing is
// written). Becoming confirmed sets confirmed_at (so the subscriber receives
// posts announced from now on, not earlier ones); becoming unsubscribed sets
// unsubscribed_at. Leaving confirmed also drops the subscriber's deliveries
// that were not sent yet (pending or retry), in the same transaction.
// ErrNotFound when there is no such subscriber.
func (db *DB) SetSubscriberStatus(ctx context.Context, now time.Time, id int64, status store.SubscriberStatus) (bool, error) {
	op := fmt.Sprintf("set subscriber #%d status %s", id, status)
	if !status.Valid() {
		return false, fmt.Errorf("store: %s: invalid status", op)
	}
	now = now.UTC().Truncate(time.Second)
	var changed bool
	err := db.inTx(ctx, op, func(tx *sql.Tx) error {
		var cur store.SubscriberStatus
		err := tx.QueryRowContext(ctx, "SELECT status FROM subscribers WHERE id = ?", id).Scan(&cur)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: subscriber #%d: %w", id, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		if cur == status {
			if status != store.StatusConfirmed {
				return nil
			}
			// Confirming again (a new web subscription) lifts a
			// suppression (bounces.go).
			r, err := tx.ExecContext(ctx, `
UPDATE subscribers SET suppressed_at = NULL, suppressed_reason = '' WHERE id = ? AND suppressed_at IS NOT NULL`, id)
			if err != nil {
				return err
			}
			n, err := r.RowsAffected()
			changed = n > 0
			return err
		}
		changed = true
		// ?2 is the time; it is written only to the column of the new state.
		// Becoming confirmed lifts a suppression (bounces.go).
		if _, err := tx.ExecContext(ctx, `
UPDATE subscribers SET status = ?1,
    confirmed_at    = CASE WHEN ?1 = 'confirmed'    THEN ?2 ELSE confirmed_at END,
    unsubscribed_at = CASE WHEN ?1 = 'unsubscribed' THEN ?2 ELSE unsubscribed_at END,
    suppressed_at   = CASE WHEN ?1 = 'confirmed'    THEN NULL ELSE suppressed_at END,
    suppressed_reason = CASE WHEN ?1 = 'confirmed'  THEN '' ELSE suppressed_reason END
WHERE id = ?3`, status, unix(now), id); err != nil {
			return err
		}
		if cur == store.StatusConfirmed {
			_, err := tx.ExecContext(ctx,
				"DELETE FROM deliveries WHERE subscriber_id = ? AND state IN ('pending', 'retry')", id)
			return err
		}
		return nil
	})
	if err != nil {
		return false, err
	}
	return changed, nil
}

// ForgetSubscriber erases the address email and the personal data about it
// (a GDPR erasure request), in one transaction: the row's address and name
// are blanked (its key becomes "forgotten:ID", which no address matches),
// its status unsubscribed, forgotten_at set; its waiting deliveries (pending,
// retry) are deleted and the error texts of the others cleared (an SMTP
// error often quotes the address); the merge records naming it are
// deleted, its bounce events keep their type and time but lose the
// address, the diagnostic and the raw message. The row and its sent and failed deliveries stay, anonymous, so
// the counts of past mailings do not change. A forgotten subscriber is not
// returned by Subscriber, SubscriberByID, EachSubscriber or
// FailedDeliveries, nor counted by CountSubscribers; adding the address
// again creates a new subscriber with no history. ErrNotFound when the
// address is not known.
func (db *DB) ForgetSubscriber(ctx context.Context, now time.Time, email string) error {
	op := "forget subscriber " + email
	return db.inTx(ctx, op, func(tx *sql.Tx) error {
		var id int64
		err := tx.QueryRowContext(ctx, "SELECT id FROM subscribers WHERE email_key = ? AND forgotten_at IS NULL", store.EmailKey(email)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("store: subscriber %s: %w", email, store.ErrNotFound)
		}
		if err != nil {
			return err
		}
		now := unix(now.UTC().Truncate(time.Second))
		for _, q := range []string{
			`UPDATE subscribers SET email = '', email_key = 'forgotten:' || id, name = '',
    status = 'unsubscribed', unsubscribed_at = coalesce(unsubscribed_at, ?2), forgotten_at = ?2
WHERE id = ?1`,
			"DELETE FROM deliveries WHERE subscriber_id = ?1 AND state IN ('pending', 'retry')",
			"UPDATE deliveries SET last_error = '' WHERE subscriber_id = ?1 AND last_error <> ''",
			"UPDATE delivery_attempts SET error = '' WHERE delivery_id IN (SELECT id FROM deliveries WHERE subscriber_id = ?1)",
			"DELETE FROM subscriber_merges WHERE kept_id = ?1",
			// Bounce reports quote the address and the message.
			"UPDATE bounce_events SET email = '', email_key = '', diagnostic = '', raw = NULL WHERE subscriber_id = ?1",
		} {
			if _, err := tx.ExecContext(ctx, q, id, now); err != nil {
				return err
			}
		}
		return nil
	})
}

// SubscriberMerges lists the duplicate addresses that migration 0005_subscriber_identity (one
// subscriber per address whatever its case) merged, oldest first.
func (db *DB) SubscriberMerges(ctx context.Context) ([]store.SubscriberMerge, error) {
	rows, err := db.sql.QueryContext(ctx, `
SELECT kept_id, kept_email, merged_email, merged_status, merged_at, unsubscribed
FROM subscriber_merges ORDER BY id`)
	if err != nil {
		return nil, db.wrap("subscriber merges", err)
	}
	defer rows.Close()
	var ms []store.SubscriberMerge
	for rows.Next() {
		var (
			m  store.SubscriberMerge
			at int64
		)
		if err := rows.Scan(&m.KeptID, &m.KeptEmail, &m.MergedEmail, &m.MergedStatus, &at, &m.Unsubscribed); err != nil {
			return nil, db.wrap("subscriber merges", err)
		}
		m.MergedAt = fromUnix(at)
		ms = append(ms, m)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap("subscriber merges", err)
	}
	return ms, nil
}

// DeletePending deletes the pending subscriptions created before olderThan
// (never confirmed: the confirmation link expired) and returns how many.
func (db *DB) DeletePending(ctx context.Context, olderThan time.Time) (int64, error) {
	n, err := db.execAffected(ctx, "DELETE FROM subscribers WHERE status = 'pending' AND created_at < ?", olderThan.Unix())
	if err != nil {
		return 0, db.wrap("delete pending subscribers", err)
	}
	return n, nil
}

// subscriberBatch is how many subscribers EachSubscriber reads per query.
const subscriberBatch = 500

// EachSubscriber calls fn for every subscriber with the given status ("" =
// every status), in id order, forgotten subscribers excepted. It reads the table in keyset-paginated batches,
// so memory does not grow with the list and no read transaction is held
// while fn runs (fn may write to the database). An error from fn stops the
// walk and is returned as it is.
func (db *DB) EachSubscriber(ctx context.Context, status store.SubscriberStatus, fn func(store.Subscriber) error) error {
	if status != "" && !status.Valid() {
		return fmt.Errorf("store: each subscriber: invalid status %q", status)
	}
	var after int64
	batch := make([]store.Subscriber, 0, subscriberBatch)
	for {
		batch = batch[:0]
		rows, err := db.sql.QueryContext(ctx, selectSubscribers+`
WHERE id > ?1 AND (?2 = '' OR status = ?2) AND forgotten_at IS NULL ORDER BY id LIMIT ?3`, after, status, subscriberBatch)
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
		err = rows.Err()
		rows.Close()
		if err != nil {
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

// CountSubscribers counts subscribers by status (not the forgotten ones).
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

// InitMeta stores value under key unless the key already has a value, and
// returns the stored value: two processes initialising the same key at once
// both get the one that won. Used for generated secrets.
func (db *DB) InitMeta(ctx context.Context, key, value string) (string, error) {
	var v string
	err := db.inTx(ctx, "init meta "+key, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx,
			"INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", key, value); err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", key).Scan(&v)
	})
	if err != nil {
		return "", err
	}
	return v, nil
}
