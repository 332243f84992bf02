-- 0009_snapshots: what the newsletter sends is taken when a post is
-- announced, and the feeds know when a published post was edited.
--
-- announcements.snapshot: the mailer's snapshot of the post (its mailed
-- section rendered and capped, title, URL, date, and whether it is mailed
-- at all), written in the announcement's own transaction when the
-- announcement is queued for mail. The mailer composes from it and never
-- reads the posts folder again for this announcement: a post broken,
-- renamed or edited after it was announced is mailed as it was announced.
-- NULL: announced before this migration (or without a snapshot): the
-- mailer reads the post when it prepares the mailing.
ALTER TABLE announcements ADD COLUMN snapshot BLOB;

-- mailings.wait_reason / wait_until: why a mailing waits (a post announced
-- without a snapshot that cannot be read now) and when it is looked at
-- next, so that `herald status` and `herald send` tell the truth from any
-- process. '' / NULL: not waiting.
ALTER TABLE mailings ADD COLUMN wait_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE mailings ADD COLUMN wait_until INTEGER;

-- posts.edited_at: when a change of the post's content hash was first
-- recorded after the post was announced; the feeds' entry `updated`
-- (unless the post sets last_modified_at). NULL: not edited since it was
-- published (a post seen for the first time is never "edited").
ALTER TABLE posts ADD COLUMN edited_at INTEGER;
