-- 0002_mail: the newsletter's subscribers, mailings and delivery ledger.
--
-- Flow: an announcement waiting in the queue (queued = 1, mailed_at NULL)
-- becomes part of a mailing (one per post, or one digest holding several
-- posts); expanding a mailing inserts one delivery per confirmed subscriber;
-- the worker claims deliveries (pending → sending), sends, and records the
-- outcome (sent | retry | failed), each step its own transaction.

-- subscribers: one row per address. email_key de-duplicates: the local part
-- as given, "@", the domain lower-cased (RFC 5321: only the domain is
-- case-insensitive).
CREATE TABLE subscribers (
    id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: tokens name subscribers by id
    email           TEXT NOT NULL,
    email_key       TEXT NOT NULL UNIQUE,
    name            TEXT NOT NULL DEFAULT '',
    status          TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'unsubscribed')),
    source          TEXT NOT NULL CHECK (source IN ('cli', 'import', 'web')),
    created_at      INTEGER NOT NULL,
    confirmed_at    INTEGER,          -- last time the status became confirmed
    unsubscribed_at INTEGER           -- last time the status became unsubscribed
) STRICT;

-- Expansion reads confirmed subscribers by confirmation time.
CREATE INDEX subscribers_confirmed ON subscribers (confirmed_at) WHERE status = 'confirmed';

-- mailings: one email per subscriber. kind 'post' holds one announcement,
-- 'digest' every announcement that waited for the digest tick. cutoff: only
-- subscribers confirmed at or before it receive the mailing (the
-- announcement's created_at for a post, the mailing's created_at for a
-- digest). skipped: why the mailing sends nothing (e.g. newsletter: false);
-- NULL for a normal mailing.
CREATE TABLE mailings (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('post', 'digest')),
    created_at  INTEGER NOT NULL,
    cutoff      INTEGER NOT NULL,
    expanded_at INTEGER,              -- NULL: deliveries not created yet
    skipped     TEXT
) STRICT;

CREATE INDEX mailings_unexpanded ON mailings (id) WHERE expanded_at IS NULL;

-- An announcement belongs to at most one mailing (set together with
-- mailed_at when the mailer takes it off the queue).
ALTER TABLE announcements ADD COLUMN mailing_id INTEGER REFERENCES mailings(id);
CREATE INDEX announcements_mailing ON announcements (mailing_id) WHERE mailing_id IS NOT NULL;

-- deliveries: the ledger, one row per (mailing, subscriber).
--   state           pending → sending → sent | retry | failed
--   attempts        sends started (incremented by the claim)
--   next_attempt_at when a pending or retry row is due
--   queued_at       start of the mail.retry_for window (creation, or the
--                   last time a failed delivery was re-queued)
--   last_code       SMTP code of the last failure, 0 for a network error
CREATE TABLE deliveries (
    id              INTEGER PRIMARY KEY,
    mailing_id      INTEGER NOT NULL REFERENCES mailings(id),
    subscriber_id   INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'sending', 'sent', 'retry', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    queued_at       INTEGER NOT NULL,
    last_code       INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT NOT NULL DEFAULT '',
    sent_at         INTEGER,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (mailing_id, subscriber_id)
) STRICT;

-- The claim query: due rows in due order.
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state IN ('pending', 'retry');
-- Rows in flight (requeued at worker start).
CREATE INDEX deliveries_sending ON deliveries (id) WHERE state = 'sending';
-- Failed rows (status, re-queue).
CREATE INDEX deliveries_failed ON deliveries (mailing_id, id) WHERE state = 'failed';
-- Deleting a subscriber cascades to its deliveries.
CREATE INDEX deliveries_subscriber ON deliveries (subscriber_id);
