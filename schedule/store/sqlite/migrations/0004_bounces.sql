-- 0004_bounces: bounces, complaints and the suppression list.
--
-- bounce_events: every bounce, complaint and auto-reply Herald took in
-- (from the LMTP/SMTP receiver, the IMAP poller, `herald bounces process`
-- or a webhook), matched to a subscriber or not. Rows are history and are
-- never deleted; only raw (the message as received) is dropped after
-- [bounce] keep_raw (PruneBounceRaw).
--   subscriber_id  NULL: no subscriber matched (kept for the record only).
--                  No foreign key: the history outlives a removed subscriber.
--   mailing_id     NULL: the event does not say which mailing bounced.
--   email_key      as subscribers.email_key, '' when the event names no address
--   type           hard | soft | complaint | autoreply | other
--   outcome        what recording it did: suppressed | unsubscribed |
--                  counted | recorded | unmatched
CREATE TABLE bounce_events (
    id            INTEGER PRIMARY KEY,
    received_at   INTEGER NOT NULL,
    email         TEXT NOT NULL,
    email_key     TEXT NOT NULL,
    subscriber_id INTEGER,
    mailing_id    INTEGER,
    type          TEXT NOT NULL CHECK (type IN ('hard', 'soft', 'complaint', 'autoreply', 'other')),
    source        TEXT NOT NULL,
    action        TEXT NOT NULL DEFAULT '',
    status        TEXT NOT NULL DEFAULT '',
    diagnostic    TEXT NOT NULL DEFAULT '',
    outcome       TEXT NOT NULL DEFAULT '',
    raw           BLOB
) STRICT;

CREATE INDEX bounce_events_received ON bounce_events (received_at);
CREATE INDEX bounce_events_email ON bounce_events (email_key, received_at);
CREATE INDEX bounce_events_subscriber ON bounce_events (subscriber_id, type, received_at) WHERE subscriber_id IS NOT NULL;
CREATE INDEX bounce_events_mailing ON bounce_events (mailing_id, type) WHERE mailing_id IS NOT NULL;
CREATE INDEX bounce_events_raw ON bounce_events (received_at) WHERE raw IS NOT NULL;

-- The suppression list is two columns of subscribers:
--   suppressed_at      NULL: not suppressed. Set by a hard bounce or by the
--                      soft limit; a suppressed subscriber keeps its status
--                      but gets no mail (expansion skips it) until
--                      `herald subscribers unsuppress` or a new web
--                      subscription is confirmed.
--   suppressed_reason  'hard' | 'soft' | '' (not suppressed)
--   complained_at      NULL: never complained. A complaint also sets the
--                      status to unsubscribed; `subscribers add`/`import`
--                      never change a known address, so it stays so.
ALTER TABLE subscribers ADD COLUMN suppressed_at INTEGER;
ALTER TABLE subscribers ADD COLUMN suppressed_reason TEXT NOT NULL DEFAULT '';
ALTER TABLE subscribers ADD COLUMN complained_at INTEGER;
