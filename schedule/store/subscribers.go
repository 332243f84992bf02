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

// EmailKey returns the de-duplication key of an address: the local part as
// given, "@", and the domain in lower case (only the domain is
// case-insensitive, RFC 5321). It does not validate the address (package
// mailer does); an address without "@" is returned lower-cased.
func EmailKey(email string) string {
	email = strings.TrimSpace(email)
	i := strings.LastIndexByte(email, '@')
	if i < 0 {
		return strings.ToLower(email)
	}
	return email[:i] + "@" + strings.ToLower(email[i+1:])
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
