package mailer

import (
	"time"

	"herald/feed/testkit"
)

// fakeClock is a settable testkit.Clock as the mailer's TimerClock.
type fakeClock struct{ *testkit.Clock }

func (c fakeClock) NewTimer(d time.Duration) Timer { return c.Clock.NewTimer(d) }
