-- 0006_snapshots: announcement snapshots, mailing waits and post edit
-- times, as SQLite's migration 0009_snapshots builds them (see there).
ALTER TABLE announcements ADD COLUMN snapshot BYTEA;
ALTER TABLE mailings ADD COLUMN wait_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE mailings ADD COLUMN wait_until BIGINT;
ALTER TABLE posts ADD COLUMN edited_at BIGINT;
