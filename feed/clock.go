package feed

import "time"

// Clock is the Loader's source of time: when a scan starts (a file whose
// mtime is that recent is read again by the next scan, see racyWindow),
// how long it took, and the posts.render_timeout deadline of a rendering.
// [LoaderOptions] takes one; nil means the system clock. Tests pass a
// settable clock (testkit.Clock, through a one-line adapter for NewTimer).
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock, like *time.Timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
}

// systemClock is the machine's clock.
type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time { return t.t.C }
func (t systemTimer) Stop() bool          { return t.t.Stop() }
