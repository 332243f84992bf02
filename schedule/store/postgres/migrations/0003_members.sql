-- 0003_members: the daemons running on this database, one row per daemon,
-- refreshed by its heartbeat (seen_at); a clean stop deletes it. herald
-- status lists the live ones; the send rate is shared among them.
CREATE TABLE members (
    id         TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    version    TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    seen_at    BIGINT NOT NULL
);
