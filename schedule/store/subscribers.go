package store

import (
	"fmt"
	"strings"
	"time"
)

// SubscriberStatus is a subscriber's state.
type SubscriberStatus string

// Subscriber states. Only confirmed subscribers receive newsletters.
const (
	StatusPending      SubscriberStatus = "pending"
	StatusConfirmed    SubscriberStatus = "confirmed"
	StatusUnsubscribed SubscriberStatus = "unsubscribed"
)

// valid reports whether s is one of the three states.
func (s SubscriberStatus) Valid() bool {
	return s == StatusPending || s == StatusConfirmed || s == StatusUnsubscribed
}

// SubscriberSource records how a subscriber was added.
type SubscriberSource string

// Subscriber sources.
const (
	SourceCLI    SubscriberSource = "cli"    // herald subscribers add
	SourceImport SubscriberSource = "import" // herald subscribers import
	SourceWeb    SubscriberSource = "web"    // the subscribe form
)

func (s SubscriberSource) Valid() bool {
	return s == SourceCLI || s == SourceImport || s == SourceWeb
}

// Subscriber is one subscriber row. Times are UTC, seconds; a zero time is
// "never".
type Subscriber struct {
	ID             int64
	Email          string // as given
	Name           string
	Status         SubscriberStatus
	Source         SubscriberSource
	CreatedAt      time.Time
	ConfirmedAt    time.Time // last time the status became confirmed
	UnsubscribedAt time.Time // last time the status became unsubscribed
}

// SubscriberCounts counts subscribers by status.
type SubscriberCounts struct {
	Pending, Confirmed, Unsubscribed int
}

// Total is the number of subscribers in any state.
func (c SubscriberCounts) Total() int { return c.Pending + c.Confirmed + c.Unsubscribed }

// EmailKey returns the de-duplication key of an address: the whole address
// in lower case. The local part keeps its case in Subscriber.Email (it is
// delivered as given) but two addresses that differ only in case are one
// subscriber, as every major mail provider treats them. The caller
// normalises the domain first (package mailer's ParseAddress lower-cases it
// and converts an internationalised domain to its ASCII form), so keys are
// ASCII. It does not validate the address.
func EmailKey(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// SubscriberMerge is one duplicate that the migration to case-insensitive
// addresses merged into an older row: the duplicate's row was deleted, its
// delivery history moved to the kept row. A forgotten kept subscriber takes
// its merges with it.
type SubscriberMerge struct {
	KeptID       int64
	KeptEmail    string
	MergedEmail  string
	MergedStatus SubscriberStatus // the duplicate's status when it was merged
	MergedAt     time.Time
	// Unsubscribed: the kept row was confirmed but the duplicate had
	// unsubscribed since, so the kept row became unsubscribed (an
	// unsubscription is never lost in a merge).
	Unsubscribed bool
}

// NewSubscriber is one address for AddSubscribers.
type NewSubscriber struct {
	Email, Name string
	Status      SubscriberStatus
	Source      SubscriberSource
}

func (s NewSubscriber) Validate() error {
	switch {
	case !strings.Contains(s.Email, "@"):
		return fmt.Errorf("%q: not an email address", s.Email)
	case !s.Status.Valid():
		return fmt.Errorf("%s: invalid status %q", s.Email, s.Status)
	case !s.Source.Valid():
		return fmt.Errorf("%s: invalid source %q", s.Email, s.Source)
	}
	return nil
}
