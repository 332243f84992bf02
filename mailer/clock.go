package mailer

import "time"

// Clock is the mailer's source of the date: delivery and subscription
// times, token expiry, the Date header. NewComposer and BouncesOptions take
// one; nil means the system clock.
type Clock interface {
	Now() time.Time
}

// TimerClock is a Clock that also makes timers: the parts of the mailer
// that wait take their waits from it (the delivery worker between passes,
// its pauses and probes, the pacer's spacing, lease renewal and the
// shutdown grace; the subscription pages' janitor). Options and WebOptions
// take one; nil means the system clock. Tests pass a settable clock
// (testkit.Clock, through a one-line adapter for NewTimer) and move the
// time themselves.
type TimerClock interface {
	Clock
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a TimerClock, like *time.Timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// systemClock is the machine's clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time        { return t.t.C }
func (t systemTimer) Stop() bool                 { return t.t.Stop() }
func (t systemTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

// nowFunc returns c's Now, or the system clock's when c is nil.
func nowFunc(c Clock) func() time.Time {
	if c == nil {
		return systemClock{}.Now
	}
	return c.Now
}

// orSystem returns c, or the system clock when c is nil.
func orSystem(c TimerClock) TimerClock {
	if c == nil {
		return systemClock{}
	}
	return c
}
