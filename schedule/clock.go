package schedule

import (
	"sort"
	"sync"
	"time"
)

// Clock is the daemon's source of time. Production code uses SystemClock;
// tests use a FakeClock so that scheduling is tested without sleeping.
type Clock interface {
	Now() time.Time
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock, like *time.Timer.
type Timer interface {
	C() <-chan time.Time
	Stop() bool
	Reset(d time.Duration) bool
}

// SystemClock returns the Clock of the machine (time.Now, time.NewTimer).
func SystemClock() Clock { return systemClock{} }

type systemClock struct{}

func (systemClock) Now() time.Time { return time.Now() }

func (systemClock) NewTimer(d time.Duration) Timer { return systemTimer{time.NewTimer(d)} }

type systemTimer struct{ t *time.Timer }

func (t systemTimer) C() <-chan time.Time        { return t.t.C }
func (t systemTimer) Stop() bool                 { return t.t.Stop() }
func (t systemTimer) Reset(d time.Duration) bool { return t.t.Reset(d) }

// FakeClock is a Clock whose time moves only when told to (Advance, Set).
// Its timers fire, in deadline order, when the clock reaches their
// deadline; a timer made or reset with d <= 0 fires at once. It is safe for
// concurrent use and is meant for tests, also of other packages.
type FakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*fakeTimer]struct{} // armed timers
}

// NewFakeClock returns a FakeClock standing at t.
func NewFakeClock(t time.Time) *FakeClock {
	return &FakeClock{now: t, timers: map[*fakeTimer]struct{}{}}
}

// Now returns the fake time.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer firing when the clock reaches Now()+d.
func (c *FakeClock) NewTimer(d time.Duration) Timer {
	t := &fakeTimer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// Advance moves the clock forward by d, firing the timers that fall due.
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	to := c.now.Add(d)
	c.mu.Unlock()
	c.Set(to)
}

// Set moves the clock to t (never backwards: an earlier t only fires
// nothing), firing the timers that fall due, earliest first. Each timer's
// channel receives its own deadline; Now returns t once Set returns.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var due []*fakeTimer
	for ft := range c.timers {
		if !ft.when.After(t) {
			due = append(due, ft)
		}
	}
	sort.Slice(due, func(i, j int) bool { return due[i].when.Before(due[j].when) })
	for _, ft := range due {
		if ft.when.After(c.now) {
			c.now = ft.when
		}
		delete(c.timers, ft)
		ft.fire(c.now)
	}
	if t.After(c.now) {
		c.now = t
	}
}

// Timers returns how many timers are armed (waiting to fire).
func (c *FakeClock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

type fakeTimer struct {
	c    *FakeClock
	ch   chan time.Time
	when time.Time // guarded by c.mu
}

func (t *fakeTimer) C() <-chan time.Time { return t.ch }

// fire delivers now without blocking; like a time.Timer the channel holds
// at most one value. Called with c.mu held.
func (t *fakeTimer) fire(now time.Time) {
	select {
	case t.ch <- now:
	default:
	}
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, armed := t.c.timers[t]
	delete(t.c.timers, t)
	return armed
}

func (t *fakeTimer) Reset(d time.Duration) bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, armed := t.c.timers[t]
	// Like time.Timer since Go 1.23: a reset drains a pending value.
	select {
	case <-t.ch:
	default:
	}
	t.when = t.c.now.Add(d)
	if d <= 0 {
		delete(t.c.timers, t)
		t.fire(t.c.now)
		return armed
	}
	t.c.timers[t] = struct{}{}
	return armed
}
