package testkit

import (
	"sort"
	"sync"
	"time"
)

// Clock is a clock whose time moves only when told to (Advance, Set). Its
// timers fire, in deadline order, when the clock reaches their deadline; a
// timer made or reset with d <= 0 fires at once. It is safe for concurrent
// use. It provides what the packages' clock interfaces ask for: Now, and
// NewTimer (a package whose interface returns its own Timer type wraps it
// in a one-line adapter).
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers map[*Timer]struct{} // armed timers
}

// NewClock returns a Clock standing at t.
func NewClock(t time.Time) *Clock {
	return &Clock{now: t, timers: map[*Timer]struct{}{}}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer returns a timer firing when the clock reaches Now()+d.
func (c *Clock) NewTimer(d time.Duration) *Timer {
	t := &Timer{c: c, ch: make(chan time.Time, 1)}
	t.Reset(d)
	return t
}

// Advance moves the clock by d (back when d < 0), firing the timers that
// fall due.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	to := c.now.Add(d)
	c.mu.Unlock()
	c.Set(to)
}

// Set moves the clock to t, firing the timers that fall due, earliest
// first; each timer's channel receives its own deadline. An earlier t moves
// the clock back (a wall clock stepped back) and fires nothing. Now returns
// t once Set returns.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var due []*Timer
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
	c.now = t
}

// Timers returns how many timers are armed (waiting to fire).
func (c *Clock) Timers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers)
}

// Timer is a timer of a Clock, used like a time.Timer.
type Timer struct {
	c    *Clock
	ch   chan time.Time
	when time.Time // guarded by c.mu
}

// C is the channel the timer delivers its deadline on.
func (t *Timer) C() <-chan time.Time { return t.ch }

// fire delivers now without blocking; like a time.Timer the channel holds
// at most one value. Called with c.mu held.
func (t *Timer) fire(now time.Time) {
	select {
	case t.ch <- now:
	default:
	}
}

// Stop disarms the timer; it reports whether the timer was armed.
func (t *Timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	_, armed := t.c.timers[t]
	delete(t.c.timers, t)
	return armed
}

// Reset arms the timer for Now()+d; it reports whether it was armed.
func (t *Timer) Reset(d time.Duration) bool {
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
