package store

import "time"

// Candidate is one subscriber as `herald send -dry-run POST` weighs them
// (Store.PostCandidates): the subscriber, whether bounces or a complaint
// suppressed them, and their deliveries of the post.
type Candidate struct {
	Subscriber
	SuppressedAt time.Time // zero: not suppressed
	// Deliveries are the subscriber's deliveries of the post, in any of
	// its mailings, oldest first; none when the post never reached the
	// ledger for them.
	Deliveries []PostDelivery
}

// PostDelivery is one delivery of a post to a subscriber, as the ledger
// holds it.
type PostDelivery struct {
	ID, MailingID int64
	State         DeliveryState
	Attempts      int
	NextAttemptAt time.Time // pending and retry: when it is due
	LeaseUntil    time.Time // sending: when its owner's lease ends (zero: no lease recorded)
	ClaimedBy     string    // sending: its owner
	UpdatedAt     time.Time
}
