-- 0001_posts: posts seen in the posts folder and their announcements.
--
-- Conventions for every migration in this folder (0002_mail.sql included):
--   * times are INTEGER Unix seconds, UTC; NULL means "not yet";
--   * tables are STRICT; rows that record history are never deleted.
--
-- Applied by Open in one transaction together with its schema_migrations row.

-- meta: small key/value settings of the database itself.
-- Keys used by package state: 'seeded' (RFC 3339 UTC time of the first run).
CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT, WITHOUT ROWID;

-- posts: every post Herald has ever seen, keyed by the post ID the caller
-- gives (rows are never deleted, so a deleted and re-added post keeps its
-- announced_at and is never announced twice).
CREATE TABLE posts (
    id           TEXT PRIMARY KEY,
    path         TEXT NOT NULL,
    slug         TEXT NOT NULL,
    title        TEXT NOT NULL,
    url          TEXT NOT NULL,
    hash         TEXT NOT NULL,     -- content hash, as given by the caller
    date         INTEGER NOT NULL,  -- publication date
    first_seen   INTEGER NOT NULL,  -- first Record/Announce that saw the post
    updated_at   INTEGER NOT NULL,  -- last time any column above changed
    announced_at INTEGER            -- NULL: never announced
) STRICT;

-- announcements: at most one 'auto' row (written by Record when the post
-- became due) and at most one 'manual' row (written by Announce, `herald
-- send POST`) per post.
--
-- Columns the mail tables (0002) may rely on:
--   id         INTEGER PRIMARY KEY, stable, increasing
--   post_id    -> posts(id); join for path, title, url, date
--   kind       'auto' | 'manual'
--   created_at when the announcement was recorded
--   queued     1: the newsletter must mail it; 0: recorded without mail
--              (first-run seeding without mail.backfill)
--   mailed_at  NULL until the mailer has handed it to its deliveries; the
--              mailer sets it. Pending work: queued = 1 AND mailed_at IS NULL
--              (index announcements_pending).
CREATE TABLE announcements (
    id         INTEGER PRIMARY KEY,
    post_id    TEXT NOT NULL REFERENCES posts(id),
    kind       TEXT NOT NULL CHECK (kind IN ('auto', 'manual')),
    created_at INTEGER NOT NULL,
    queued     INTEGER NOT NULL CHECK (queued IN (0, 1)),
    mailed_at  INTEGER,
    UNIQUE (post_id, kind)
) STRICT;

-- Announcements: newest first.
CREATE INDEX announcements_created ON announcements (created_at DESC, id DESC);

-- The newsletter queue.
CREATE INDEX announcements_pending ON announcements (id)
    WHERE queued = 1 AND mailed_at IS NULL;
