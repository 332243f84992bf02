package bounce

import "time"

// Clock is the time the webhooks check signatures and certificates
// against; nil in WebhookOptions and SNSVerifier means the system clock.
type Clock interface {
	Now() time.Time
}

// TimerClock is a Clock that also makes timers: the IMAP poller waits on
// it between polls (PollerOptions; nil: the system clock). Tests pass a
// settable clock (testkit.Clock, through a one-line adapter for NewTimer).
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

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time        { return t.t.C }
func (t systemTimer) Stop() bool                 { return t.t.Stop() }
func (t systemTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }
