-- 0008_delivery_attempts: the SMTP reply of every failed attempt, not only
-- the last one a delivery keeps (deliveries.last_code/last_error), so that
-- `herald bounces show` can say what each server answered and when.
CREATE TABLE delivery_attempts (
    delivery_id INTEGER NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    code        INTEGER NOT NULL,
    error       TEXT NOT NULL,
    PRIMARY KEY (delivery_id, attempt)
) STRICT;
