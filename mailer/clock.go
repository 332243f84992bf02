package mailer

import "time"

// Clock is the mailer's source of the time: delivery and subscription
// times, token expiry, the Date header. Options, WebOptions, BouncesOptions
// and NewComposer take one; nil means the system clock. Tests pass a
// settable clock (testkit.Clock).
type Clock interface {
	Now() time.Time
}

// systemClock is the machine's clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

// nowFunc returns c's Now, or the system clock's when c is nil.
func nowFunc(c Clock) func() time.Time {
	if c == nil {
		return systemClock{}.Now
	}
	return c.Now
}
