-- 0006_leases: a claimed delivery names its owner and holds a lease.
--
--   claimed_by   the worker generation that claimed the row ("host:pid:random");
--                '' when the row is not in flight
--   lease_until  unix seconds: while state = 'sending', the owner holds the row
--                until then and renews it while it sends; a row whose lease has
--                expired (its owner died) is the only kind another worker takes
--                over. Outcomes are recorded only by the owner.
--
-- Rows left in flight by an older herald carry lease_until = 0: expired, so
-- the first worker takes them over, as RequeueInFlight did.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;

-- Rows in flight by lease end (take-over of expired leases, renewal).
DROP INDEX deliveries_sending;
CREATE INDEX deliveries_sending ON deliveries (lease_until, id) WHERE state = 'sending';
