package postgres

import (
	"context"

	"herald/schedule/store"
)

// PostCandidates is sqlite.DB.PostCandidates: every subscriber that is
// not forgotten, by id, with their suppression and their deliveries of
// post postID; fn runs between queries.
func (db *DB) PostCandidates(ctx context.Context, postID string, fn func(store.Candidate) error) error {
	op := "candidates for " + postID
	var after int64
	batch := make([]store.Candidate, 0, subscriberBatch)
	for {
		batch = batch[:0]
		rows, err := db.pool.Query(ctx, `
SELECT s.id, s.email, s.name, s.status, s.source, s.created_at, s.confirmed_at, s.unsubscribed_at, s.suppressed_at,
    d.id, d.mailing_id, d.state, d.attempts, d.next_attempt_at, nullif(d.lease_until, 0), d.claimed_by, d.updated_at
FROM (SELECT * FROM subscribers WHERE id > $1 AND forgotten_at IS NULL ORDER BY id LIMIT $2) s
LEFT JOIN deliveries d ON d.subscriber_id = s.id
    AND d.mailing_id IN (SELECT mailing_id FROM announcements WHERE post_id = $3 AND mailing_id IS NOT NULL)
ORDER BY s.id, d.id`, after, subscriberBatch, postID)
		if err != nil {
			return db.wrap(op, err)
		}
		for rows.Next() {
			var (
				c                          store.Candidate
				status, source             string
				created                    int64
				confirmed, unsubbed, suppr *int64
				did, mid, updated          *int64
				attempts                   *int32
				next, lease                *int64
				state, owner               *string
			)
			if err := rows.Scan(&c.ID, &c.Email, &c.Name, &status, &source, &created, &confirmed, &unsubbed, &suppr,
				&did, &mid, &state, &attempts, &next, &lease, &owner, &updated); err != nil {
				rows.Close()
				return db.wrap(op, err)
			}
			if n := len(batch); n == 0 || batch[n-1].ID != c.ID {
				c.Status, c.Source = store.SubscriberStatus(status), store.SubscriberSource(source)
				c.CreatedAt, c.ConfirmedAt, c.UnsubscribedAt = fromUnix(created), fromNullUnix(confirmed), fromNullUnix(unsubbed)
				c.SuppressedAt = fromNullUnix(suppr)
				batch = append(batch, c)
			}
			if did != nil {
				last := &batch[len(batch)-1]
				last.Deliveries = append(last.Deliveries, store.PostDelivery{
					ID: *did, MailingID: *mid, State: store.DeliveryState(*state), Attempts: int(*attempts),
					NextAttemptAt: fromNullUnix(next), LeaseUntil: fromNullUnix(lease), ClaimedBy: *owner, UpdatedAt: fromNullUnix(updated),
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
