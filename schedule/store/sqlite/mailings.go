package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"herald/schedule/store"
	"time"
)

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
WHERE s.status = 'confirmed' AND s.confirmed_at <= ?3 AND s.suppressed_at IS NULL
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
		_, err = tx.ExecContext(ctx, "UPDATE mailings SET expanded_at = ?, wait_reason = '', wait_until = NULL WHERE id = ?", unix(now), id)
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
		"UPDATE mailings SET expanded_at = ?, skipped = ?, wait_reason = '', wait_until = NULL WHERE id = ? AND expanded_at IS NULL",
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

// SetMailingWait records why unfinished mailing id waits and when it is
// looked at next; reason "" clears it. ErrNotFound when there is no such
// mailing.
func (db *DB) SetMailingWait(ctx context.Context, id int64, reason string, until time.Time) error {
	op := fmt.Sprintf("mailing #%d: wait", id)
	var u any
	if reason != "" {
		u = unix(until)
	}
	n, err := db.execAffected(ctx, "UPDATE mailings SET wait_reason = ?, wait_until = ? WHERE id = ?", reason, u, id)
	if err != nil {
		return db.wrap(op, err)
	}
	if n == 0 {
		return fmt.Errorf("store: mailing #%d: %w", id, store.ErrNotFound)
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
		expanded, until sql.NullInt64
		skipped         sql.NullString
	)
	err := db.sql.QueryRowContext(ctx,
		"SELECT id, kind, created_at, cutoff, expanded_at, skipped, wait_reason, wait_until FROM mailings WHERE id = ?", id).
		Scan(&m.ID, &m.Kind, &created, &cutoff, &expanded, &skipped, &m.WaitReason, &until)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Mailing{}, fmt.Errorf("store: mailing #%d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Mailing{}, db.wrap(op, err)
	}
	m.CreatedAt, m.Cutoff, m.ExpandedAt, m.Skipped = fromUnix(created), fromUnix(cutoff), fromNullUnix(expanded), skipped.String
	m.WaitUntil = fromNullUnix(until)
	if m.Posts, err = db.mailingPosts(ctx, id); err != nil {
		return store.Mailing{}, db.wrap(op, err)
	}
	return m, nil
}

// mailingPosts returns the posts of mailing id, oldest first.
func (db *DB) mailingPosts(ctx context.Context, id int64) ([]store.MailingPost, error) {
	rows, err := db.sql.QueryContext(ctx, `
SELECT a.id, p.id, p.path, p.title, p.url, p.date, a.snapshot
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
		if err := rows.Scan(&p.AnnouncementID, &p.PostID, &p.Path, &p.Title, &p.URL, &date, &p.Snapshot); err != nil {
			return nil, err
		}
		p.Date = fromUnix(date)
		posts = append(posts, p)
	}
	return posts, rows.Err()
}
