package sqlite

import (
	"context"
	"database/sql"

	"herald/schedule/store"
)

// PostCandidates calls fn once per subscriber that is not forgotten, in id
// order, with their suppression and their deliveries of post postID (in
// any of its mailings, oldest first): what `herald send -dry-run POST`
// weighs. It reads subscriberBatch subscribers per query and calls fn
// between queries, so fn may use the database.
func (db *DB) PostCandidates(ctx context.Context, postID string, fn func(store.Candidate) error) error {
	op := "candidates for " + postID
	var after int64
	batch := make([]store.Candidate, 0, subscriberBatch)
	for {
		batch = batch[:0]
		rows, err := db.sql.QueryContext(ctx, `
SELECT s.id, s.email, s.name, s.status, s.source, s.created_at, s.confirmed_at, s.unsubscribed_at, s.suppressed_at,
    d.id, d.mailing_id, d.state, d.attempts, d.next_attempt_at, nullif(d.lease_until, 0), coalesce(d.claimed_by, ''), d.updated_at
FROM (SELECT * FROM subscribers WHERE id > ?1 AND forgotten_at IS NULL ORDER BY id LIMIT ?2) s
LEFT JOIN deliveries d ON d.subscriber_id = s.id
    AND d.mailing_id IN (SELECT mailing_id FROM announcements WHERE post_id = ?3 AND mailing_id IS NOT NULL)
ORDER BY s.id, d.id`, after, subscriberBatch, postID)
		if err != nil {
			return db.wrap(op, err)
		}
		for rows.Next() {
			var (
				c                           store.Candidate
				created                     int64
				confirmed, unsubbed, suppr  sql.NullInt64
				did, mid, attempts, updated sql.NullInt64
				next, lease                 sql.NullInt64
				state, owner                sql.NullString
			)
			if err := rows.Scan(&c.ID, &c.Email, &c.Name, &c.Status, &c.Source, &created, &confirmed, &unsubbed, &suppr,
				&did, &mid, &state, &attempts, &next, &lease, &owner, &updated); err != nil {
				rows.Close()
				return db.wrap(op, err)
			}
			if n := len(batch); n == 0 || batch[n-1].ID != c.ID {
				c.CreatedAt, c.ConfirmedAt, c.UnsubscribedAt = fromUnix(created), fromNullUnix(confirmed), fromNullUnix(unsubbed)
				c.SuppressedAt = fromNullUnix(suppr)
				batch = append(batch, c)
			}
			if did.Valid {
				last := &batch[len(batch)-1]
				last.Deliveries = append(last.Deliveries, store.PostDelivery{
					ID: did.Int64, MailingID: mid.Int64, State: store.DeliveryState(state.String), Attempts: int(attempts.Int64),
					NextAttemptAt: fromNullUnix(next), LeaseUntil: fromNullUnix(lease), ClaimedBy: owner.String, UpdatedAt: fromNullUnix(updated),
				})
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return db.wrap(op, err)
		}
		for _, c := range batch {
			if err := fn(c); err != nil {
				return err
			}
		}
		if len(batch) < subscriberBatch {
			return nil
		}
		after = batch[len(batch)-1].ID
	}
}
