-- 0005_subscriber_identity: addresses are unique whatever their case, and a
-- subscriber can be forgotten.
--
-- email_key becomes the whole address in lower case (it was the local part
-- as given and the domain in lower case): alice@example.org and
-- ALICE@Example.org are one subscriber, as every major provider treats
-- them. Existing duplicates are merged: each group keeps its oldest
-- confirmed row (else its oldest row) with its id (the unsubscribe links
-- already mailed name it), address and history; the other rows' deliveries
-- move to it (where it has none for the same mailing; a sent one wins over
-- one not sent), then those rows are deleted. When the kept row is
-- confirmed but a duplicate unsubscribed after the kept row was confirmed,
-- the kept row becomes unsubscribed: a merge never loses an unsubscription.
-- subscriber_merges records each merged duplicate (herald status shows it).
--
-- forgotten_at: set by ForgetSubscriber (herald subscribers forget ADDR):
-- the row keeps no address and no name, only its id for the anonymous
-- counts of the deliveries that stay.

ALTER TABLE subscribers ADD COLUMN forgotten_at INTEGER;

CREATE TABLE subscriber_merges (
    id            INTEGER PRIMARY KEY,
    kept_id       INTEGER NOT NULL,
    kept_email    TEXT NOT NULL,
    merged_email  TEXT NOT NULL,
    merged_status TEXT NOT NULL,
    merged_at     INTEGER NOT NULL,
    unsubscribed  INTEGER NOT NULL DEFAULT 0 -- the kept row became unsubscribed
) STRICT;

CREATE TEMP TABLE merge_keep AS
SELECT g.k AS k,
       (SELECT s.id FROM subscribers s WHERE lower(s.email_key) = g.k
        ORDER BY s.status = 'confirmed' DESC, s.created_at, s.id LIMIT 1) AS keep_id
FROM (SELECT lower(email_key) AS k FROM subscribers GROUP BY lower(email_key) HAVING count(*) > 1) g;

CREATE TEMP TABLE merge_dups AS
SELECT s.id AS dup_id, m.keep_id AS keep_id
FROM subscribers s JOIN merge_keep m ON lower(s.email_key) = m.k
WHERE s.id <> m.keep_id;

-- Kept confirmed rows that a duplicate's later unsubscription overrides.
CREATE TEMP TABLE merge_unsub AS
SELECT k.id AS keep_id, max(s.unsubscribed_at) AS at
FROM subscribers k
JOIN merge_dups d ON d.keep_id = k.id
JOIN subscribers s ON s.id = d.dup_id
WHERE k.status = 'confirmed' AND s.status = 'unsubscribed' AND s.unsubscribed_at > k.confirmed_at
GROUP BY k.id;

INSERT INTO subscriber_merges (kept_id, kept_email, merged_email, merged_status, merged_at, unsubscribed)
SELECT d.keep_id, k.email, s.email, s.status, CAST(strftime('%s', 'now') AS INTEGER),
       EXISTS (SELECT 1 FROM merge_unsub u WHERE u.keep_id = d.keep_id)
FROM merge_dups d
JOIN subscribers s ON s.id = d.dup_id
JOIN subscribers k ON k.id = d.keep_id
ORDER BY d.keep_id, d.dup_id;

UPDATE subscribers
SET status = 'unsubscribed', unsubscribed_at = (SELECT u.at FROM merge_unsub u WHERE u.keep_id = subscribers.id)
WHERE id IN (SELECT keep_id FROM merge_unsub);

-- A duplicate's sent delivery replaces the kept row's unsent one for the
-- same mailing (the person got that mail).
DELETE FROM deliveries
WHERE subscriber_id IN (SELECT keep_id FROM merge_dups) AND state <> 'sent'
  AND EXISTS (SELECT 1 FROM deliveries o JOIN merge_dups d ON o.subscriber_id = d.dup_id
              WHERE d.keep_id = deliveries.subscriber_id AND o.mailing_id = deliveries.mailing_id
                AND o.state = 'sent');

-- The duplicates' history moves to the kept row; a duplicate's unsent
-- delivery for a mailing the kept row already has is dropped.
UPDATE OR IGNORE deliveries
SET subscriber_id = (SELECT d.keep_id FROM merge_dups d WHERE d.dup_id = deliveries.subscriber_id)
WHERE subscriber_id IN (SELECT dup_id FROM merge_dups);
DELETE FROM deliveries WHERE subscriber_id IN (SELECT dup_id FROM merge_dups);

-- An unsubscribed row has no waiting deliveries.
DELETE FROM deliveries
WHERE subscriber_id IN (SELECT keep_id FROM merge_unsub) AND state IN ('pending', 'retry');

-- Bounce events of a duplicate belong to the kept row; they name
-- addresses by the same key.
UPDATE bounce_events
SET subscriber_id = (SELECT d.keep_id FROM merge_dups d WHERE d.dup_id = bounce_events.subscriber_id)
WHERE subscriber_id IN (SELECT dup_id FROM merge_dups);
UPDATE bounce_events SET email_key = lower(email_key) WHERE email_key <> lower(email_key);

DELETE FROM subscribers WHERE id IN (SELECT dup_id FROM merge_dups);

UPDATE subscribers SET email_key = lower(email_key);

DROP TABLE merge_unsub;
DROP TABLE merge_dups;
DROP TABLE merge_keep;
