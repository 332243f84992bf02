package store

import (
	"context"
	"time"
)

// MailingKind is the kind of a mailing.
type MailingKind string

// Mailing kinds.
const (
	KindPost   MailingKind = "post"   // one post
	KindDigest MailingKind = "digest" // every post that waited for the digest tick
)

// DeliveryState is the state of one delivery.
type DeliveryState string

// Delivery states: pending → sending → sent | retry | failed.
const (
	DeliveryPending DeliveryState = "pending"
	DeliverySending DeliveryState = "sending"
	DeliverySent    DeliveryState = "sent"
	DeliveryRetry   DeliveryState = "retry"
	DeliveryFailed  DeliveryState = "failed"
)

// Mailing is one email sent to every subscriber confirmed by its Cutoff.
type Mailing struct {
	ID        int64
	Kind      MailingKind
	CreatedAt time.Time
	// Cutoff: only subscribers confirmed at or before it receive the
	// mailing. For a post it is the announcement's time (a subscriber added
	// after a post was announced does not receive it); for a digest, the
	// digest's own creation time (the digest goes to everyone confirmed when
	// it was made).
	Cutoff     time.Time
	ExpandedAt time.Time // zero: deliveries not created yet
	Skipped    string    // why the mailing sends nothing; "" for a normal one
	// WaitReason says why the mailing waits (a post announced without a
	// snapshot that cannot be read now), and WaitUntil when it is looked
	// at next; "" when it does not wait (SetMailingWait).
	WaitReason string
	WaitUntil  time.Time
	Posts      []MailingPost
}

// MailingPost is one post of a mailing.
type MailingPost struct {
	AnnouncementID int64
	PostID         string
	Path, Title    string
	URL            string
	Date           time.Time
	// Snapshot is the announcement's SeenPost.Mail: what the newsletter
	// sends, as it was when the post was announced; nil for announcements
	// made without one (before snapshots existed).
	Snapshot []byte
}

// Delivery is a claimed delivery, ready to send.
type Delivery struct {
	ID           int64
	MailingID    int64
	SubscriberID int64
	Email, Name  string // the subscriber's
	// Attempts counts sends started, this one included.
	Attempts int
	// QueuedAt starts the retry window (mail.retry_for): creation, or the
	// last RequeueFailed.
	QueuedAt  time.Time
	CreatedAt time.Time
}

// MailingStats counts one mailing's deliveries by state.
type MailingStats struct {
	MailingID int64
	Kind      MailingKind
	CreatedAt time.Time
	Skipped   string
	// WaitReason and WaitUntil: Mailing's.
	WaitReason string
	WaitUntil  time.Time
	Posts      []MailingPost
	Sent       int
	Pending    int // pending, or sending right now
	Retrying   int
	Failed     int
}

// Total is the number of deliveries of the mailing.
func (s MailingStats) Total() int { return s.Sent + s.Pending + s.Retrying + s.Failed }

// FailedDelivery is a delivery that failed for good, with its last error.
type FailedDelivery struct {
	ID, MailingID, SubscriberID int64
	Email                       string
	PostIDs                     []string // the mailing's posts
	Attempts                    int
	Code                        int // SMTP code; 0 for a network error
	Error                       string
	UpdatedAt                   time.Time
}

// DeliveryCounts counts every delivery of the ledger by state.
type DeliveryCounts struct {
	Pending, Sending, Sent, Retry, Failed int64
}

// Lease is a worker's hold on the deliveries it claims. Owner names one
// worker generation ("host:pid:random": unique among every process that ever
// shares the database); For is how long a claim, or a renewal, holds
// (mail.lease). The owner renews its leases (RenewLeases) well before they
// end while it sends; a row whose lease ended is the only kind another
// worker takes over (RequeueExpired), and outcomes are recorded only by the
// row's owner.
type Lease struct {
	Owner string
	For   time.Duration // at least one second; stored in whole seconds
}

// Expired is a delivery taken over from an owner whose lease expired.
type Expired struct {
	ID    int64
	Owner string // the owner that held it; "" for a row claimed before leases existed
}

// Outcome is the result of one send, for RecordOutcomes.
type Outcome struct {
	ID    int64         // delivery id
	State DeliveryState // DeliverySent, DeliveryRetry or DeliveryFailed
	Next  time.Time     // DeliveryRetry: the next attempt
	Code  int           // SMTP code of a failure; 0 for a network error
	Text  string        // failure text
	// NotTried (with DeliveryRetry): the message was not handed to the
	// server (its mailing's post cannot be read now), so the attempt the
	// claim counted is given back and no attempt is recorded.
	NotTried bool
}

// Ledger records the outcomes of one owner's sends (Store.Ledger); a
// backend may prepare its statements once per Ledger. Close it when done.
// Safe for concurrent use.
type Ledger interface {
	// RecordOutcomes records several sends at now in one transaction, as
	// Store.RecordOutcomes with the Ledger's owner: outcomes of deliveries
	// no longer in flight or not the owner's are ignored, and the result
	// counts those recorded.
	RecordOutcomes(ctx context.Context, now time.Time, outcomes []Outcome) (int, error)
	Close() error
}

// Attempt is one failed send of a delivery, with the server's reply: the
// ledger keeps every one (a delivery itself keeps only the last).
type Attempt struct {
	DeliveryID, MailingID int64
	Attempt               int // the delivery's attempt number, from 1
	At                    time.Time
	Code                  int // SMTP code; 0 for a network error
	Text                  string
}
