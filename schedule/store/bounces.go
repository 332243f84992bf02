package store

import (
	"context"
	"time"
)

// Bounce event types (BounceEvent.Type).
const (
	BounceHard      = "hard"      // permanent failure: suppresses the address at once
	BounceSoft      = "soft"      // transient failure: suppresses after BouncePolicy.SoftLimit
	BounceComplaint = "complaint" // spam complaint: unsubscribes at once, for good
	BounceAutoReply = "autoreply" // vacation reply: recorded, changes nothing
	BounceOther     = "other"     // delay notice and the like: recorded, changes nothing
)

// Outcomes of RecordBounce (BounceEvent.Outcome): what the event did.
const (
	OutcomeSuppressed   = "suppressed"   // the subscriber is now suppressed (hard, or the soft limit reached)
	OutcomeUnsubscribed = "unsubscribed" // a complaint: the subscriber is now unsubscribed (and marked complained)
	OutcomeCounted      = "counted"      // a soft bounce under the limit
	OutcomeRecorded     = "recorded"     // kept for the record only (auto-reply, other, or already suppressed/unsubscribed)
	OutcomeUnmatched    = "unmatched"    // no subscriber matched: kept for the record only
)

// Suppression reasons (Suppression.Reason).
const (
	SuppressHard = "hard" // a permanent bounce
	SuppressSoft = "soft" // SoftLimit transient bounces within SoftWindow
)

// NewBounce is one event to record (see RecordBounce).
type NewBounce struct {
	// SubscriberID is the subscriber the event is about, 0 when none
	// matched (the event is then only kept for the record).
	SubscriberID int64
	// MailingID is the mailing that bounced, 0 when unknown.
	MailingID int64
	// Email is the address the event names ("" when it names none); with
	// a subscriber, their address is stored instead.
	Email      string
	Type       string // BounceHard, BounceSoft, BounceComplaint, BounceAutoReply or BounceOther
	Source     string // where it came from: dsn, arf, heuristic, autoreply, ses, postmark, mailgun, sendgrid, smtp
	Action     string // DSN action or provider event name
	Status     string // enhanced status code, "5.1.1"
	Diagnostic string // the remote server's reply, one line
	Raw        []byte // the raw message (nil for webhooks); kept until PruneBounceRaw
}

// BouncePolicy is the [bounce] policy RecordBounce applies.
type BouncePolicy struct {
	// SoftLimit soft bounces within SoftWindow suppress the address. Only
	// soft bounces received after the subscriber's last success count: a
	// success is a sent delivery of a mailing that has no hard or soft
	// bounce from that subscriber. Bounces of one mailing count once.
	SoftLimit  int
	SoftWindow time.Duration
}

// BounceEvent is one recorded event.
type BounceEvent struct {
	ID           int64
	ReceivedAt   time.Time
	Email        string
	SubscriberID int64 // 0: none matched
	MailingID    int64 // 0: unknown
	Type         string
	Source       string
	Action       string
	Status       string
	Diagnostic   string
	Outcome      string // Outcome… constant
	Raw          []byte // only from BouncesFor; nil once pruned
}

// Suppression is a subscriber's bounce state (SuppressionOf).
type Suppression struct {
	SuppressedAt time.Time // zero: not suppressed
	Reason       string    // SuppressHard or SuppressSoft; "" when not suppressed
	ComplainedAt time.Time // zero: never complained
}

// BounceRates are the counts behind the bounce and complaint rates of
// one mailing (MailingID > 0) or of a period (MailingID 0).
type BounceRates struct {
	MailingID  int64
	CreatedAt  time.Time // the mailing's creation; zero for a period
	Sent       int       // deliveries sent
	Hard       int       // distinct subscribers with a hard bounce
	Soft       int       // distinct subscribers with a soft bounce
	Complaints int       // distinct subscribers who complained
}

// HardRate is Hard/Sent (0 when nothing was sent).
func (r BounceRates) HardRate() float64 { return ratio(r.Hard, r.Sent) }

// SoftRate is Soft/Sent.
func (r BounceRates) SoftRate() float64 { return ratio(r.Soft, r.Sent) }

// ComplaintRate is Complaints/Sent.
func (r BounceRates) ComplaintRate() float64 { return ratio(r.Complaints, r.Sent) }

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// BounceStore is the bounce and suppression part of the state (migration
// 0004_bounces in both backends), part of Store: every backend implements
// it, so Herald's bounce features (the receiver, the poller, the webhooks,
// `herald bounces`, the rates in status and metrics) work with any of them.
// storetest's bounce cases (storetest/bounces.go) are its conformance
// tests. The semantics every backend must keep are documented on schedule/store/sqlite.DB's methods of
// the same names (schedule/store/sqlite/bounces.go). Besides these methods,
// a backend must:
//   - leave suppressed subscribers out of ExpandMailing and
//     RequeueFailed (they get no mail);
//   - make SetSubscriberStatus(id, confirmed) on a confirmed but suppressed
//     subscriber clear the suppression and report a change (a new web
//     subscription, once confirmed, lifts it).
type BounceStore interface {
	RecordBounce(ctx context.Context, now time.Time, ev NewBounce, p BouncePolicy) (BounceEvent, error)
	Bounces(ctx context.Context, since time.Time, limit int) ([]BounceEvent, error)
	BouncesFor(ctx context.Context, email string) ([]BounceEvent, error)
	SuppressionOf(ctx context.Context, id int64) (Suppression, error)
	Unsuppress(ctx context.Context, email string) (bool, error)
	PruneBounceRaw(ctx context.Context, before time.Time) (int64, error)
	BounceRates(ctx context.Context, since time.Time, limit int) (BounceRates, []BounceRates, error)
}
