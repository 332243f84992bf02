package postgres

import (
	"context"
	"errors"
	"fmt"
	"herald/schedule/store"
	"time"

	"github.com/jackc/pgx/v5"
)

// mailingMode selects the announcements createMailings takes.
type mailingMode int

const (
	modePerPost mailingMode = iota // every waiting announcement, one mailing each
	modeDigest                     // auto: one digest; manual: one mailing each
	modeManual                     // manual announcements only, one mailing each
)

// CreateMailings is sqlite.DB.CreateMailings: it takes the queued
// announcements off the queue at now and returns the new mailings' ids.
// Daemons doing it at once each take different announcements.
func (db *DB) CreateMailings(ctx context.Context, now time.Time, digest bool) ([]int64, error) {
	mode := modePerPost
	if digest {
		mode = modeDigest
	}
	return db.createMailings(ctx, now, mode)
}

// CreateManualMailings is CreateMailings for manual announcements only.
func (db *DB) CreateManualMailings(ctx context.Context, now time.Time) ([]int64, error) {
	return db.createMailings(ctx, now, modeManual)
}

func (db *DB) createMailings(ctx context.Context, now time.Time, mode mailingMode) ([]int64, error) {
	now = now.UTC().Truncate(time.Second)
	var ids []int64
	err := db.inTx(ctx, "create mailings", func(tx pgx.Tx) error {
		ids = nil
		// Cheap check first: most calls find nothing waiting and take no lock.
		var waiting bool
		if err := tx.QueryRow(ctx,
			"SELECT EXISTS (SELECT 1 FROM announcements WHERE queued AND mailed_at IS NULL)").Scan(&waiting); err != nil || !waiting {
			return err
		}
		if err := lockAnnouncing(ctx, tx); err != nil {
			return err
		}
		type entry struct {
			id      int64
			manual  bool
			created int64
		}
		rows, err := tx.Query(ctx, `
SELECT id, kind = 'manual', created_at FROM announcements
WHERE queued AND mailed_at IS NULL ORDER BY id`)
		if err != nil {
			return err
		}
		var list []entry
		for rows.Next() {
			var w entry
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
			err := tx.QueryRow(ctx,
				"INSERT INTO mailings (kind, created_at, cutoff) VALUES ($1, $2, $3) RETURNING id",
				string(kind), unix(now), cutoff).Scan(&id)
			if err == nil {
				ids = append(ids, id)
			}
			return id, err
		}
		take := func(announcement, mailing int64) error {
			_, err := tx.Exec(ctx,
				"UPDATE announcements SET mailing_id = $1, mailed_at = $2 WHERE id = $3", mailing, unix(now), announcement)
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
	rows, err := db.pool.Query(ctx, "SELECT id FROM mailings WHERE expanded_at IS NULL ORDER BY id")
	if err != nil {
		return nil, db.wrap("unexpanded mailings", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, db.wrap("unexpanded mailings", err)
	}
	return ids, nil
}

// ExpandMailing is sqlite.DB.ExpandMailing: it creates mailing id's
// deliveries in one statement and returns how many. The mailing's row is
// locked first, so two daemons expanding it at once create them once.
func (db *DB) ExpandMailing(ctx context.Context, now time.Time, id int64) (int64, error) {
	now = now.UTC().Truncate(time.Second)
	var n int64
	err := db.inTx(ctx, fmt.Sprintf("expand mailing #%d", id), func(tx pgx.Tx) error {
		n = 0
		var (
			kind     string
			cutoff   int64
			expanded *int64
		)
		err := tx.QueryRow(ctx, "SELECT kind, cutoff, expanded_at FROM mailings WHERE id = $1 FOR UPDATE", id).
			Scan(&kind, &cutoff, &expanded)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("store: mailing #%d: %w", id, store.ErrNotFound)
		}
		if err != nil || expanded != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `
INSERT INTO deliveries
    (mailing_id, subscriber_id, state, next_attempt_at, queued_at, created_at, updated_at)
SELECT $1::bigint, s.id, 'pending', $2::bigint, $2::bigint, $2::bigint, $2::bigint
FROM subscribers s
WHERE s.status = 'confirmed' AND s.confirmed_at <= $3 AND s.suppressed_at IS NULL
  AND ($4::text = 'digest' OR NOT EXISTS (
      SELECT 1 FROM deliveries d
      WHERE d.subscriber_id = s.id
        AND d.mailing_id IN (
            SELECT o.mailing_id FROM announcements o
            WHERE o.mailing_id <> $1::bigint
              AND o.post_id IN (SELECT post_id FROM announcements WHERE mailing_id = $1::bigint))))
ORDER BY s.id
ON CONFLICT (mailing_id, subscriber_id) DO NOTHING`, id, unix(now), cutoff, kind)
		if err != nil {
			return err
		}
		n = tag.RowsAffected()
		_, err = tx.Exec(ctx, "UPDATE mailings SET expanded_at = $1, wait_reason = '', wait_until = NULL WHERE id = $2", unix(now), id)
		return err
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// SkipMailing marks mailing id as done at now without deliveries, recording
// why. A mailing already expanded is left alone. ErrNotFound when there is
// no such mailing.
func (db *DB) SkipMailing(ctx context.Context, now time.Time, id int64, reason string) error {
	if reason == "" {
		reason = "skipped"
	}
	tag, err := db.pool.Exec(ctx,
		"UPDATE mailings SET expanded_at = $1, skipped = $2, wait_reason = '', wait_until = NULL WHERE id = $3 AND expanded_at IS NULL",
		unix(now), reason, id)
	if err != nil {
		return db.wrap(fmt.Sprintf("skip mailing #%d", id), err)
	}
	if tag.RowsAffected() == 0 {
		if _, err := db.Mailing(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// SetMailingWait is sqlite.DB.SetMailingWait: it records why unfinished
// mailing id waits and when it is looked at next ("" clears it).
func (db *DB) SetMailingWait(ctx context.Context, id int64, reason string, until time.Time) error {
	var u *int64
	if reason != "" {
		v := unix(until)
		u = &v
	}
	tag, err := db.pool.Exec(ctx, "UPDATE mailings SET wait_reason = $1, wait_until = $2 WHERE id = $3", reason, u, id)
	if err != nil {
		return db.wrap(fmt.Sprintf("mailing #%d: wait", id), err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("store: mailing #%d: %w", id, store.ErrNotFound)
	}
	return nil
}

// Mailing returns mailing id with its posts in date order, or ErrNotFound.
func (db *DB) Mailing(ctx context.Context, id int64) (store.Mailing, error) {
	op := fmt.Sprintf("mailing #%d", id)
	var (
		m               store.Mailing
		kind            string
		created, cutoff int64
		expanded, until *int64
		skipped         *string
	)
	err := db.pool.QueryRow(ctx,
		"SELECT id, kind, created_at, cutoff, expanded_at, skipped, wait_reason, wait_until FROM mailings WHERE id = $1", id).
		Scan(&m.ID, &kind, &created, &cutoff, &expanded, &skipped, &m.WaitReason, &until)
	if errors.Is(err, pgx.ErrNoRows) {
		return store.Mailing{}, fmt.Errorf("store: mailing #%d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return store.Mailing{}, db.wrap(op, err)
	}
	m.Kind = store.MailingKind(kind)
	m.CreatedAt, m.Cutoff, m.ExpandedAt = fromUnix(created), fromUnix(cutoff), fromNullUnix(expanded)
	m.WaitUntil = fromNullUnix(until)
	if skipped != nil {
		m.Skipped = *skipped
	}
	if m.Posts, err = db.mailingPosts(ctx, id); err != nil {
		return store.Mailing{}, db.wrap(op, err)
	}
	return m, nil
}

// mailingPosts returns the posts of mailing id, oldest first.
func (db *DB) mailingPosts(ctx context.Context, id int64) ([]store.MailingPost, error) {
	rows, err := db.pool.Query(ctx, `
SELECT a.id, p.id, p.path, p.title, p.url, p.date, a.snapshot
FROM announcements a JOIN posts p ON p.id = a.post_id
WHERE a.mailing_id = $1 ORDER BY p.date, p.id`, id)
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
