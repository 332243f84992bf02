package mailer

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
)

// mail.smtp.rate is for the whole cluster: n live daemons each take 1/n of
// it, a brake in force is scaled along, and an unlimited rate stays so.
func TestPacerShare(t *testing.T) {
	p := newPacer(nil, 90, 0)
	p.share(3)
	if p.base != 30 || p.rate != 30 {
		t.Errorf("3 daemons: base %g rate %g, want 30 30", p.base, p.rate)
	}
	p.throttle() // 15
	p.share(1)
	if p.base != 90 || p.rate != 45 {
		t.Errorf("alone again while braking: base %g rate %g, want 90 45", p.base, p.rate)
	}
	p.share(0) // never divides by zero: at least this daemon
	if p.base != 90 {
		t.Errorf("share(0): base %g, want 90", p.base)
	}
	u := newPacer(nil, 0, 0)
	u.share(4)
	if u.base != 0 || u.rate != 0 {
		t.Errorf("unlimited shared: base %g rate %g, want 0 0", u.base, u.rate)
	}
}

// The sends are spaced at the current rate: the cluster share, then the
// brake, then the recovery a minute after the last throttle (doubling back
// to the share, never above it). Run in a synctest bubble: the pacer's
// system clock is the bubble's, so the spacing is exact.
func TestPacerSpacing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		p := newPacer(nil, 100, 0)
		gap := func() time.Duration {
			t.Helper()
			if err := p.wait(ctx); err != nil { // the token of the previous slot
				t.Fatal(err)
			}
			start := time.Now()
			if err := p.wait(ctx); err != nil {
				t.Fatal(err)
			}
			return time.Since(start)
		}
		if g := gap(); g != 10*time.Millisecond {
			t.Errorf("100/s: gap %v, want 10ms", g)
		}
		p.share(2)
		if g := gap(); g != 20*time.Millisecond {
			t.Errorf("100/s shared by 2: gap %v, want 20ms", g)
		}
		p.throttle()
		if g := gap(); g != 40*time.Millisecond {
			t.Errorf("braked: gap %v, want 40ms (25/s)", g)
		}
		time.Sleep(61 * time.Second)
		if g := gap(); g != 20*time.Millisecond || p.rate != 50 {
			t.Errorf("a minute after the brake: gap %v at rate %g, want 20ms at the share (50/s)", g, p.rate)
		}
		// Idle: one send goes at once, the next is spaced (no burst).
		time.Sleep(time.Second)
		start := time.Now()
		if err := p.wait(ctx); err != nil || time.Since(start) != 0 {
			t.Errorf("first send after idle waited %v (%v), want none", time.Since(start), err)
		}
	})
}
