-- 0007_members: the daemons running on this database (on SQLite at most
-- one `herald run`), refreshed by its heartbeat (seen_at); a clean stop
-- deletes the row. herald status lists them.
CREATE TABLE members (
    id         TEXT PRIMARY KEY,
    host       TEXT NOT NULL,
    pid        INTEGER NOT NULL,
    version    TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    seen_at    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
