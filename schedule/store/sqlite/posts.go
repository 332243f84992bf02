package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"herald/schedule/store"
	"slices"
	"time"
)

// metaSeeded is the meta key holding the time of the first Record (RFC 3339).
const metaSeeded = store.MetaSeeded

// upsertPost inserts a post, or updates the columns that describe it when
// they changed (updated_at moves only then). first_seen and announced_at of
// an existing row are kept. edited_at moves to now when the content hash
// of a post announced before changes (a new row is never edited).
const upsertPost = `
INSERT INTO posts (id, path, slug, title, url, hash, date, first_seen, updated_at)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)
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

// Record upserts the given posts (callers pass new or changed posts and due,
// unannounced ones) and, in ONE transaction, marks each Due post that was never
// announced as announced and inserts its announcement row (queued for mail,
// or not when seeding). Idempotent: a post is announced at most once, ever
// (rows are never deleted, so a deleted and re-added post is not re-announced).
//
// The first Record on a database stores the first-run time (meta
// "first_run_at"). The first Record that holds a due post seeds the
// database (meta "seeded"): due posts dated before the first run are the
// blog's archive and are recorded with Queued = backfill; posts dated after
// it became due while Herald was watching and are queued. So a first run on
// an empty or not yet mounted posts folder never mails the archive found
// later, and a new blog's first post is still mailed. Once the database is
// seeded, a Record with no posts runs no query.
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
		announcing bool // false: not seeded yet and nothing due
	)
	err := db.inTx(ctx, "record", func(tx *sql.Tx) error {
		res = store.RecordResult{}
		// seeding: the archive found on the first run, posts dated
		// before firstRun, is recorded without mail (unless backfill).
		seeding, firstRun := false, time.Time{}
		announcing = true
		if !db.seeded.Load() {
			var v string
			err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", metaSeeded).Scan(&v)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				if firstRun, err = firstRunAt(ctx, tx, now); err != nil {
					return err
				}
				// Nothing published yet (a new blog, or a posts folder
				// that is empty or not mounted yet): stay unseeded, so
				// that the archive seen later is not mailed, while posts
				// dated after firstRun will be.
				if announcing = anyDue(posts); !announcing {
					break
				}
				if _, err := tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?)",
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

		upsert, err := tx.PrepareContext(ctx, upsertPost)
		if err != nil {
			return err
		}
		defer upsert.Close()
		var mark, insert *sql.Stmt
		for i := range posts {
			p := &posts[i]
			if _, err := upsert.ExecContext(ctx, upsertArgs(p, now)...); err != nil {
				return fmt.Errorf("post %s: %w", p.ID, err)
			}
			if !p.Due || !announcing {
				continue
			}
			if mark == nil {
				if mark, err = tx.PrepareContext(ctx,
					"UPDATE posts SET announced_at = ? WHERE id = ? AND announced_at IS NULL"); err != nil {
					return err
				}
				defer mark.Close()
				if insert, err = tx.PrepareContext(ctx, `
INSERT INTO announcements (post_id, kind, created_at, queued, snapshot) VALUES (?, 'auto', ?, ?, ?)
ON CONFLICT (post_id, kind) DO NOTHING`); err != nil {
					return err
				}
				defer insert.Close()
			}
			r, err := mark.ExecContext(ctx, unix(now), p.ID)
			if err != nil {
				return fmt.Errorf("post %s: %w", p.ID, err)
			}
			if n, err := r.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				continue // announced before
			}
			queued := queuedFor(p)
			if queued {
				// A renamed post file gets a new path and, through its
				// permalink, a new id: the same content (or title and
				// date) as a post announced before is not mailed again.
				var one int
				err := tx.QueryRowContext(ctx, `
SELECT 1 FROM posts WHERE id <> ?1 AND announced_at IS NOT NULL
  AND (hash = ?2 OR (title = ?3 AND date = ?4)) LIMIT 1`, p.ID, p.Hash, p.Title, unix(p.Date)).Scan(&one)
				switch {
				case err == nil:
					queued = false
				case !errors.Is(err, sql.ErrNoRows):
					return fmt.Errorf("post %s: %w", p.ID, err)
				}
			}
			var snap []byte // kept only for mail: a post recorded without mail needs none
			if queued {
				snap = p.Mail
			}
			r, err = insert.ExecContext(ctx, p.ID, unix(now), queued, blob(snap))
			if err != nil {
				return fmt.Errorf("post %s: %w", p.ID, err)
			}
			if n, err := r.RowsAffected(); err != nil {
				return err
			} else if n == 0 {
				continue // an 'auto' row already exists (announced_at was cleared by hand)
			}
			id, err := r.LastInsertId()
			if err != nil {
				return err
			}
			res.Announced = append(res.Announced, store.Announcement{
				ID: id, PostID: p.ID, Path: p.Path, Title: p.Title, URL: p.URL,
				Date: fromUnix(unix(p.Date)), CreatedAt: now, Queued: queued, Snapshot: snap != nil,
			})
		}
		var err2 error
		res.Edited, err2 = editedTimes(ctx, tx, posts)
		return err2
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

// Announce is `herald send POST`: it upserts p and queues a manual
// announcement of it, unless a queued announcement of p already exists; then
// it returns that one and false. The post counts as announced from then on
// (Record will not announce it again), whether or not it is due.
func (db *DB) Announce(ctx context.Context, now time.Time, p store.SeenPost) (store.Announcement, bool, error) {
	if p.ID == "" {
		return store.Announcement{}, false, fmt.Errorf("store: announce: post %q: empty ID", p.Path)
	}
	now = now.UTC().Truncate(time.Second)
	var (
		a       store.Announcement
		created bool
	)
	err := db.inTx(ctx, "announce "+p.ID, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, upsertPost, upsertArgs(&p, now)...); err != nil {
			return err
		}
		row := tx.QueryRowContext(ctx, selectAnnouncements+`
WHERE a.post_id = ? AND a.queued = 1 ORDER BY a.id LIMIT 1`, p.ID)
		var err error
		a, err = scanAnnouncement(row)
		if err == nil {
			if !a.Manual && a.MailedAt.IsZero() {
				// An automatic announcement still waiting (for the
				// digest tick): `herald send` means now, so it becomes
				// the manual one, which is mailed at once.
				r, err := tx.ExecContext(ctx, `
UPDATE announcements SET kind = 'manual' WHERE id = ? AND mailing_id IS NULL
  AND NOT EXISTS (SELECT 1 FROM announcements m WHERE m.post_id = ? AND m.kind = 'manual')`, a.ID, p.ID)
				if err != nil {
					return err
				}
				if n, _ := r.RowsAffected(); n == 1 {
					a.Manual = true
				}
			}
			if !a.Snapshot && p.Mail != nil {
				// Announced without a snapshot (before snapshots existed)
				// and not taken off the queue yet: take it now.
				r, err := tx.ExecContext(ctx,
					"UPDATE announcements SET snapshot = ? WHERE id = ? AND snapshot IS NULL AND mailing_id IS NULL", blob(p.Mail), a.ID)
				if err != nil {
					return err
				}
				if n, _ := r.RowsAffected(); n == 1 {
					a.Snapshot = true
				}
			}
			return nil // already queued
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		var id int64
		if err := tx.QueryRowContext(ctx, `
INSERT INTO announcements (post_id, kind, created_at, queued, snapshot) VALUES (?, 'manual', ?, 1, ?)
RETURNING id`, p.ID, unix(now), blob(p.Mail)).Scan(&id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx,
			"UPDATE posts SET announced_at = ? WHERE id = ? AND announced_at IS NULL", unix(now), p.ID); err != nil {
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
	rows, err := db.sql.QueryContext(ctx, `
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
			announced, edited sql.NullInt64
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
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := db.sql.QueryContext(ctx, selectAnnouncements+`
ORDER BY a.created_at DESC, a.id DESC LIMIT ?`, limit)
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

// AnnouncementSnapshot returns the mail snapshot announcement id keeps
// (SeenPost.Mail when it was queued), nil when it keeps none: what its
// mailing sends, also before that mailing exists (`herald send -dry-run`).
// ErrNotFound when there is no such announcement.
func (db *DB) AnnouncementSnapshot(ctx context.Context, id int64) ([]byte, error) {
	var snap []byte
	err := db.sql.QueryRowContext(ctx, "SELECT snapshot FROM announcements WHERE id = ?", id).Scan(&snap)
	if errors.Is(err, sql.ErrNoRows) {
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

// scanAnnouncement scans one row of selectAnnouncements.
func scanAnnouncement(row interface{ Scan(...any) error }) (store.Announcement, error) {
	var (
		a             store.Announcement
		date, created int64
		kind          string
		mailed, until sql.NullInt64
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

// blob is b as an SQL argument: NULL when nil.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// editedTimes returns the edit times (posts.edited_at) of the given posts
// that have one.
func editedTimes(ctx context.Context, tx *sql.Tx, posts []store.SeenPost) (map[string]time.Time, error) {
	if len(posts) == 0 {
		return nil, nil
	}
	if len(posts) > 64 {
		// Many posts (a first run): one pass over the few edited ones.
		rows, err := tx.QueryContext(ctx, "SELECT id, edited_at FROM posts WHERE edited_at IS NOT NULL")
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		all := map[string]time.Time{}
		for rows.Next() {
			var (
				id string
				at int64
			)
			if err := rows.Scan(&id, &at); err != nil {
				return nil, err
			}
			all[id] = fromUnix(at)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
		var m map[string]time.Time
		for i := range posts {
			if at, ok := all[posts[i].ID]; ok {
				if m == nil {
					m = map[string]time.Time{}
				}
				m[posts[i].ID] = at
			}
		}
		return m, nil
	}
	st, err := tx.PrepareContext(ctx, "SELECT edited_at FROM posts WHERE id = ? AND edited_at IS NOT NULL")
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var m map[string]time.Time
	for i := range posts {
		var at int64
		err := st.QueryRowContext(ctx, posts[i].ID).Scan(&at)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("post %s: edited: %w", posts[i].ID, err)
		}
		if m == nil {
			m = map[string]time.Time{}
		}
		m[posts[i].ID] = fromUnix(at)
	}
	return m, nil
}

const metaFirstRun = store.MetaFirstRun

// firstRunAt returns the first-run time, storing now when there is none.
func firstRunAt(ctx context.Context, tx *sql.Tx, now time.Time) (time.Time, error) {
	var v string
	err := tx.QueryRowContext(ctx, "SELECT value FROM meta WHERE key = ?", metaFirstRun).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		_, err = tx.ExecContext(ctx, "INSERT INTO meta (key, value) VALUES (?, ?)", metaFirstRun, now.Format(time.RFC3339))
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
