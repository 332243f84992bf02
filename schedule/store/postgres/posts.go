package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"herald/schedule/store"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

const (
	metaSeeded   = store.MetaSeeded   // the time of the first Record holding a due post (RFC 3339)
	metaFirstRun = store.MetaFirstRun // the time of the first Record (RFC 3339)
)

// upsertPost inserts a post, or updates the columns that describe it when
// they changed (updated_at moves only then).
const upsertPost = `
INSERT INTO posts (id, path, slug, title, url, hash, date, first_seen, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)
ON CONFLICT (id) DO UPDATE SET
    path = excluded.path, slug = excluded.slug, title = excluded.title,
    url = excluded.url, hash = excluded.hash, date = excluded.date,
    updated_at = excluded.updated_at,
    edited_at = CASE WHEN posts.hash <> excluded.hash AND posts.announced_at IS NOT NULL
                     THEN excluded.updated_at ELSE posts.edited_at END
WHERE posts.path <> excluded.path OR posts.slug <> excluded.slug
   OR posts.title <> excluded.title OR posts.url <> excluded.url
   OR posts.hash <> excluded.hash OR posts.date <> excluded.date`

func upsertArgs(p *store.SeenPost, now time.Time) []any {
	return []any{p.ID, p.Path, p.Slug, p.Title, p.URL, p.Hash, unix(p.Date), unix(now)}
}

// announcePost announces one due post: $1 now, $2 post id, $3 queued
// (false when seeding), $4 hash, $5 title, $6 date, $7 the mail snapshot
// (kept only when queued). No row: the post was announced before (or has
// an 'auto' announcement already).
const announcePost = `
WITH mark AS (
    UPDATE posts SET announced_at = $1 WHERE id = $2 AND announced_at IS NULL RETURNING id),
q AS (
    SELECT id, $3::boolean AND NOT EXISTS (
        SELECT 1 FROM posts o WHERE o.id <> $2 AND o.announced_at IS NOT NULL
          AND (o.hash = $4 OR (o.title = $5 AND o.date = $6))) AS queued
    FROM mark)
INSERT INTO announcements (post_id, kind, created_at, queued, snapshot)
SELECT id, 'auto', $1, queued, CASE WHEN queued THEN $7::bytea END
FROM q
ON CONFLICT (post_id, kind) DO NOTHING
RETURNING id, queued, snapshot IS NOT NULL`

// lockAnnouncing serialises the transactions that announce posts and take
// announcements off the queue, across every daemon on the database (as
// SQLite's write lock does): the seeding decision and the queue are read
// and written by one of them at a time. The unique (post_id, kind) and the
// conditional UPDATE of announced_at would keep a post announced once even
// without it.
func lockAnnouncing(ctx context.Context, tx pgx.Tx) error {
	_, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockAnnounce)
	return err
}

// Record is sqlite.DB.Record: it upserts the given posts and, in one
// transaction, announces each due post never announced (queued for mail,
// or not when seeding). A post is announced once across every daemon.
func (db *DB) Record(ctx context.Context, now time.Time, posts []store.SeenPost, backfill bool) (store.RecordResult, error) {
	if len(posts) == 0 && db.seeded.Load() {
		return store.RecordResult{}, nil
	}
	for i := range posts {
		if posts[i].ID == "" {
			return store.RecordResult{}, fmt.Errorf("store: record: post %q: empty ID", posts[i].Path)
		}
	}
	now = now.UTC().Truncate(time.Second)
	var (
		res        store.RecordResult
		announcing bool
	)
	err := db.inTx(ctx, "record", func(tx pgx.Tx) error {
		res = store.RecordResult{}
		if err := lockAnnouncing(ctx, tx); err != nil {
			return err
		}
		seeding, firstRun := false, time.Time{}
		announcing = true
		if !db.seeded.Load() {
			var v string
			err := tx.QueryRow(ctx, "SELECT value FROM meta WHERE key = $1", metaSeeded).Scan(&v)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				if firstRun, err = firstRunAt(ctx, tx, now); err != nil {
					return err
				}
				if announcing = anyDue(posts); !announcing {
					break
				}
				if _, err := tx.Exec(ctx, "INSERT INTO meta (key, value) VALUES ($1, $2)",
					metaSeeded, now.Format(time.RFC3339)); err != nil {
					return err
				}
				seeding, res.Seeded = true, true
			case err != nil:
				return err
			}
		}
		if len(posts) == 0 {
			return nil
		}
		queuedFor := func(p *store.SeenPost) bool {
			return backfill || !seeding || !p.Date.Before(firstRun)
		}
		// One round trip for the upserts.
		b := &pgx.Batch{}
		for i := range posts {
			b.Queue(upsertPost, upsertArgs(&posts[i], now)...)
		}
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if !announcing {
			return db.editedTimes(ctx, tx, posts, &res)
		}
		// One statement per due post, all in one round trip: mark the post
		// announced unless it was, and insert its announcement (queued
		// unless seeding or a renamed post announced before under another
		// id: the same content, or title and date). Statements of a batch
		// run in order, so each sees the marks of the posts before it.
		var due []*store.SeenPost
		b = &pgx.Batch{}
		for i := range posts {
			p := &posts[i]
			if !p.Due {
				continue
			}
			due = append(due, p)
			b.Queue(announcePost, unix(now), p.ID, queuedFor(p), p.Hash, p.Title, unix(p.Date), p.Mail)
		}
		if len(due) == 0 {
			return db.editedTimes(ctx, tx, posts, &res)
		}
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		for _, p := range due {
			var (
				id           int64
				queued, snap bool
			)
			err := br.QueryRow().Scan(&id, &queued, &snap)
			if errors.Is(err, pgx.ErrNoRows) {
				continue // announced before
			}
			if err != nil {
				return fmt.Errorf("post %s: %w", p.ID, err)
			}
			res.Announced = append(res.Announced, store.Announcement{
				ID: id, PostID: p.ID, Path: p.Path, Title: p.Title, URL: p.URL,
				Date: fromUnix(unix(p.Date)), CreatedAt: now, Queued: queued, Snapshot: snap,
			})
		}
		if err := br.Close(); err != nil {
			return err
		}
		return db.editedTimes(ctx, tx, posts, &res)
	})
	if err != nil {
		return store.RecordResult{}, err
	}
	if announcing {
		db.seeded.Store(true)
	}
	slices.SortStableFunc(res.Announced, func(a, b store.Announcement) int {
		return cmp.Or(a.Date.Compare(b.Date), cmp.Compare(a.PostID, b.PostID))
	})
	return res, nil
}

// Announce is sqlite.DB.Announce (`herald send POST`): it upserts p and
// queues a manual announcement of it unless a queued one exists.
func (db *DB) Announce(ctx context.Context, now time.Time, p store.SeenPost) (store.Announcement, bool, error) {
	if p.ID == "" {
		return store.Announcement{}, false, fmt.Errorf("store: announce: post %q: empty ID", p.Path)
	}
	now = now.UTC().Truncate(time.Second)
	var (
		a       store.Announcement
		created bool
	)
	err := db.inTx(ctx, "announce "+p.ID, func(tx pgx.Tx) error {
		created = false
		if err := lockAnnouncing(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, upsertPost, upsertArgs(&p, now)...); err != nil {
			return err
		}
		var err error
		a, err = scanAnnouncement(tx.QueryRow(ctx, selectAnnouncements+`
WHERE a.post_id = $1 AND a.queued ORDER BY a.id LIMIT 1`, p.ID))
		if err == nil {
			if !a.Manual && a.MailedAt.IsZero() {
				tag, err := tx.Exec(ctx, `
UPDATE announcements SET kind = 'manual' WHERE id = $1 AND mailing_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM announcements m WHERE m.post_id = $2 AND m.kind = 'manual')`, a.ID, p.ID)
				if err != nil {
					return err
				}
				if tag.RowsAffected() == 1 {
					a.Manual = true
				}
			}
			if !a.Snapshot && p.Mail != nil {
				// Announced without a snapshot (before snapshots existed)
				// and not taken off the queue yet: take it now.
				tag, err := tx.Exec(ctx,
					"UPDATE announcements SET snapshot = $1 WHERE id = $2 AND snapshot IS NULL AND mailing_id IS NULL", p.Mail, a.ID)
				if err != nil {
					return err
				}
				if tag.RowsAffected() == 1 {
					a.Snapshot = true
				}
			}
			return nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		var id int64
		if err := tx.QueryRow(ctx, `
INSERT INTO announcements (post_id, kind, created_at, queued, snapshot) VALUES ($1, 'manual', $2, true, $3)
RETURNING id`, p.ID, unix(now), p.Mail).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx,
			"UPDATE posts SET announced_at = $1 WHERE id = $2 AND announced_at IS NULL", unix(now), p.ID); err != nil {
			return err
		}
		a = store.Announcement{
			ID: id, PostID: p.ID, Path: p.Path, Title: p.Title, URL: p.URL,
			Date: fromUnix(unix(p.Date)), CreatedAt: now, Queued: true, Manual: true, Snapshot: p.Mail != nil,
		}
		created = true
		return nil
	})
	if err != nil {
		return store.Announcement{}, false, err
	}
	return a, created, nil
}

// Posts returns every post the database has seen, keyed by ID.
func (db *DB) Posts(ctx context.Context) (map[string]store.PostState, error) {
	rows, err := db.pool.Query(ctx, `
SELECT id, path, slug, title, url, hash, date, first_seen, announced_at, edited_at FROM posts`)
	if err != nil {
		return nil, db.wrap("posts", err)
	}
	defer rows.Close()
	m := make(map[string]store.PostState)
	for rows.Next() {
		var (
			p                 store.PostState
			date, firstSeen   int64
			announced, edited *int64
		)
		if err := rows.Scan(&p.ID, &p.Path, &p.Slug, &p.Title, &p.URL, &p.Hash, &date, &firstSeen, &announced, &edited); err != nil {
			return nil, db.wrap("posts", err)
		}
		p.Date, p.FirstSeen, p.AnnouncedAt = fromUnix(date), fromUnix(firstSeen), fromNullUnix(announced)
		p.EditedAt = fromNullUnix(edited)
		m[p.ID] = p
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap("posts", err)
	}
	return m, nil
}

// Announcements returns the newest limit announcements, newest first
// (limit <= 0: all of them).
func (db *DB) Announcements(ctx context.Context, limit int) ([]store.Announcement, error) {
	var lim *int
	if limit > 0 {
		lim = &limit
	}
	rows, err := db.pool.Query(ctx, selectAnnouncements+`
ORDER BY a.created_at DESC, a.id DESC LIMIT $1`, lim)
	if err != nil {
		return nil, db.wrap("announcements", err)
	}
	defer rows.Close()
	list := []store.Announcement{}
	for rows.Next() {
		a, err := scanAnnouncement(rows)
		if err != nil {
			return nil, db.wrap("announcements", err)
		}
		list = append(list, a)
	}
	if err := rows.Err(); err != nil {
		return nil, db.wrap("announcements", err)
	}
	return list, nil
}

// AnnouncementSnapshot is sqlite.DB.AnnouncementSnapshot.
func (db *DB) AnnouncementSnapshot(ctx context.Context, id int64) ([]byte, error) {
	var snap []byte
	err := db.pool.QueryRow(ctx, "SELECT snapshot FROM announcements WHERE id = $1", id).Scan(&snap)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("store: announcement #%d: %w", id, store.ErrNotFound)
	}
	if err != nil {
		return nil, db.wrap(fmt.Sprintf("snapshot of announcement #%d", id), err)
	}
	return snap, nil
}

// selectAnnouncements is the SELECT that scanAnnouncement reads.
const selectAnnouncements = `
SELECT a.id, a.post_id, p.path, p.title, p.url, p.date, a.created_at, a.queued, a.kind, a.mailed_at,
       a.snapshot IS NOT NULL, coalesce(m.id, 0), m.expanded_at IS NOT NULL, coalesce(m.skipped, ''),
       coalesce(m.wait_reason, ''), m.wait_until
FROM announcements a JOIN posts p ON p.id = a.post_id LEFT JOIN mailings m ON m.id = a.mailing_id`

func scanAnnouncement(row pgx.Row) (store.Announcement, error) {
	var (
		a             store.Announcement
		date, created int64
		kind          string
		mailed, until *int64
	)
	if err := row.Scan(&a.ID, &a.PostID, &a.Path, &a.Title, &a.URL, &date, &created, &a.Queued, &kind, &mailed,
		&a.Snapshot, &a.MailingID, &a.Expanded, &a.Skipped, &a.WaitReason, &until); err != nil {
		return store.Announcement{}, err
	}
	a.Date, a.CreatedAt, a.MailedAt = fromUnix(date), fromUnix(created), fromNullUnix(mailed)
	a.WaitUntil = fromNullUnix(until)
	a.Manual = kind == "manual"
	return a, nil
}

// editedTimes sets res.Edited to the edit times (posts.edited_at) of the
// given posts that have one.
func (db *DB) editedTimes(ctx context.Context, tx pgx.Tx, posts []store.SeenPost, res *store.RecordResult) error {
	if len(posts) == 0 {
		return nil
	}
	ids := make([]string, len(posts))
	for i := range posts {
		ids[i] = posts[i].ID
	}
	rows, err := tx.Query(ctx, "SELECT id, edited_at FROM posts WHERE id = ANY($1) AND edited_at IS NOT NULL", ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id string
			at int64
		)
		if err := rows.Scan(&id, &at); err != nil {
			return err
		}
		if res.Edited == nil {
			res.Edited = map[string]time.Time{}
		}
		res.Edited[id] = fromUnix(at)
	}
	return rows.Err()
}

// firstRunAt returns the first-run time, storing now when there is none.
func firstRunAt(ctx context.Context, tx pgx.Tx, now time.Time) (time.Time, error) {
	var v string
	err := tx.QueryRow(ctx, "SELECT value FROM meta WHERE key = $1", metaFirstRun).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		_, err = tx.Exec(ctx, "INSERT INTO meta (key, value) VALUES ($1, $2)", metaFirstRun, now.Format(time.RFC3339))
		return now, err
	}
	if err != nil {
		return time.Time{}, err
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("meta %s: %w", metaFirstRun, err)
	}
	return t, nil
}

func anyDue(posts []store.SeenPost) bool {
	for i := range posts {
		if posts[i].Due {
			return true
		}
	}
	return false
}
