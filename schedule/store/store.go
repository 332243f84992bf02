package store

import (
	"context"
	"time"
)

// Store is the contract every backend satisfies (schedule/store/sqlite,
// and any other backend below this package): the whole state of a Herald
// installation. The packages that use the state do not take a Store: they
// declare the few methods they need (schedule.Store, mailer.Store,
// mailer.WebStore, …), so a backend only has to satisfy this one interface
// for all of them. Each backend asserts it at compile time.
//
// The methods' meaning is documented on the SQLite backend, the reference
// implementation: schedule/store/sqlite.DB.
type Store interface {
	// AttemptsFor returns the failed attempts of subscriber id's
	// deliveries, newest first (limit <= 0: all).
	AttemptsFor(ctx context.Context, subscriberID int64, limit int) ([]Attempt, error)
	AddSubscriber(ctx context.Context, now time.Time, email, name string, status SubscriberStatus, source SubscriberSource) (Subscriber, bool, error)
	AddSubscribers(ctx context.Context, now time.Time, subs []NewSubscriber) ([]bool, error)
	Announce(ctx context.Context, now time.Time, p SeenPost) (Announcement, bool, error)
	Announcements(ctx context.Context, limit int) ([]Announcement, error)
	// AnnouncementSnapshot returns the newsletter's snapshot of the post
	// that announcement id keeps (SeenPost.Mail; what its mailing sends),
	// nil when it keeps none. ErrNotFound when there is no such
	// announcement.
	AnnouncementSnapshot(ctx context.Context, id int64) ([]byte, error)
	ClaimDeliveries(ctx context.Context, now time.Time, lease Lease, limit int) ([]Delivery, error)
	Close() error
	CountDeliveries(ctx context.Context) (DeliveryCounts, error)
	CountSubscribers(ctx context.Context) (SubscriberCounts, error)
	CreateMailings(ctx context.Context, now time.Time, digest bool) ([]int64, error)
	CreateManualMailings(ctx context.Context, now time.Time) ([]int64, error)
	DeletePending(ctx context.Context, olderThan time.Time) (int64, error)
	DeliveryStats(ctx context.Context, limit int) ([]MailingStats, error)
	EachSubscriber(ctx context.Context, status SubscriberStatus, fn func(Subscriber) error) error
	ExpandMailing(ctx context.Context, now time.Time, id int64) (int64, error)
	FailedDeliveries(ctx context.Context, limit int) ([]FailedDelivery, error)
	// ForgetSubscriber erases the address email and everything personal
	// about it (a GDPR erasure request): the row keeps no address, no name
	// and no error texts of its deliveries (which may quote the address),
	// and is never returned by Subscriber, SubscriberByID or
	// EachSubscriber, nor counted by CountSubscribers; its waiting
	// deliveries are dropped; its sent and failed deliveries stay, without
	// a person, so the counts of past mailings do not change. Adding the
	// address again creates a new subscriber with no history.
	// ErrNotFound when the address is not known.
	ForgetSubscriber(ctx context.Context, now time.Time, email string) error
	InitMeta(ctx context.Context, key, value string) (string, error)
	Ledger(ctx context.Context, owner string) (Ledger, error)
	Mailing(ctx context.Context, id int64) (Mailing, error)
	Meta(ctx context.Context, key string) (string, error)
	NextRetry(ctx context.Context) (time.Time, error)
	Ping(ctx context.Context) error
	// PostCandidates calls fn once per subscriber that is not forgotten,
	// by id, with their suppression and their deliveries of post postID
	// (`herald send -dry-run`). fn runs outside any query, so it may call
	// the store.
	PostCandidates(ctx context.Context, postID string, fn func(Candidate) error) error
	Posts(ctx context.Context) (map[string]PostState, error)
	Record(ctx context.Context, now time.Time, posts []SeenPost, backfill bool) (RecordResult, error)
	RecordOutcomes(ctx context.Context, now time.Time, owner string, outcomes []Outcome) (int, error)
	ReleaseDeliveries(ctx context.Context, now time.Time, owner string, ids []int64) (int64, error)
	RenewLeases(ctx context.Context, now time.Time, lease Lease) (int64, error)
	RequeueFailed(ctx context.Context, now time.Time, postID string) (int64, error)
	RequeueExpired(ctx context.Context, now time.Time) ([]Expired, error)
	SchemaVersion(ctx context.Context) (int, error)
	SetMeta(ctx context.Context, key, value string) error
	SetSubscriberStatus(ctx context.Context, now time.Time, id int64, status SubscriberStatus) (bool, error)
	SkipMailing(ctx context.Context, now time.Time, id int64, reason string) error
	// SetMailingWait records why unfinished mailing id waits (reason) and
	// when it is looked at next (until); reason "" clears it. It changes
	// nothing else. ErrNotFound when there is no such mailing.
	SetMailingWait(ctx context.Context, id int64, reason string, until time.Time) error
	Subscriber(ctx context.Context, email string) (Subscriber, error)
	SubscriberByID(ctx context.Context, id int64) (Subscriber, error)
	// SubscriberMerges lists, oldest first, the duplicate addresses that the
	// migration to case-insensitive addresses merged.
	SubscriberMerges(ctx context.Context) ([]SubscriberMerge, error)
	UnexpandedMailings(ctx context.Context) ([]int64, error)
	WaitingDeliveries(ctx context.Context) (int64, error)
	// Beat records a heartbeat of daemon m at now (creating its row).
	Beat(ctx context.Context, now time.Time, m Member) error
	// Members returns the daemons whose last heartbeat is at or after
	// since, oldest first, each with the deliveries it holds.
	Members(ctx context.Context, since time.Time) ([]Member, error)
	// Leave removes daemon id (a clean stop); its leases expire as usual.
	Leave(ctx context.Context, id string) error
	// Location names the database for messages (a file path, or a URL without its password).
	Location() string
	// BounceStore: bounces, complaints and the suppression list.
	BounceStore
}
