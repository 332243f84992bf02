package testkit

import (
	"testing"
	"time"
)

func TestClock(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := NewClock(t0)
	a := c.NewTimer(2 * time.Second)
	b := c.NewTimer(time.Second)
	stopped := c.NewTimer(time.Second)
	if !stopped.Stop() {
		t.Error("Stop of an armed timer = false")
	}
	c.Advance(999 * time.Millisecond)
	select {
	case <-b.C():
		t.Fatal("timer fired early")
	default:
	}
	c.Advance(5 * time.Second)
	if got := <-b.C(); !got.Equal(t0.Add(time.Second)) {
		t.Errorf("b fired with %v", got)
	}
	if got := <-a.C(); !got.Equal(t0.Add(2 * time.Second)) {
		t.Errorf("a fired with %v", got)
	}
	select {
	case <-stopped.C():
		t.Error("a stopped timer fired")
	default:
	}
	if got := c.Now(); !got.Equal(t0.Add(5999 * time.Millisecond)) {
		t.Errorf("Now = %v", got)
	}
	if c.Timers() != 0 {
		t.Errorf("%d timers armed, want 0", c.Timers())
	}
	a.Reset(0)
	select {
	case <-a.C():
	default:
		t.Error("Reset(0) did not fire at once")
	}
	a.Reset(time.Minute)
	if c.Timers() != 1 {
		t.Errorf("%d timers armed after Reset, want 1", c.Timers())
	}
}
