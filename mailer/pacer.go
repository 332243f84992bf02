package mailer

import (
	"context"
	"sync"
	"time"
)

// pacer is the global send rate limit (mail.smtp.rate messages per second,
// 0 = unlimited) and the brake applied when the server throttles (421,
// 454): every worker pauses, and a configured rate is halved, recovering
// step by step once the server stops complaining.
//
// It paces real sends on the wire, so it runs on the system clock (its
// tests fake that clock with testing/synctest), not on the mailer's Clock.
type pacer struct {
	clock        Clock
	mu           sync.Mutex
	conf         float64 // mail.smtp.rate, for the whole cluster; 0 = unlimited
	base, rate   float64 // this daemon's share of conf, and its current rate
	next         time.Time
	pausedUntil  time.Time
	lastThrottle time.Time
	pause        time.Duration
}

func newPacer(rate float64, pause time.Duration) *pacer {
	return &pacer{clock: systemClock{}, conf: rate, base: rate, rate: rate, pause: pause}
}

// share makes this daemon's rate its part of the configured one when n
// daemons send at once (mail.smtp.rate is for the whole cluster): conf/n,
// with a brake in force scaled along.
func (p *pacer) share(n int) {
	n = max(n, 1)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conf == 0 {
		return
	}
	base := p.conf / float64(n)
	p.rate *= base / p.base
	p.base = base
}

// wait blocks until the caller may send one message.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := p.clock.Now()
	if p.rate < p.base && now.Sub(p.lastThrottle) > time.Minute {
		p.rate = min(p.base, p.rate*2)
		p.lastThrottle = now
	}
	slot := now
	if p.pausedUntil.After(slot) {
		slot = p.pausedUntil
	}
	if p.rate > 0 {
		if p.next.After(slot) {
			slot = p.next
		}
		p.next = slot.Add(time.Duration(float64(time.Second) / p.rate))
	}
	p.mu.Unlock()
	d := slot.Sub(now)
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// throttle applies the brake.
func (p *pacer) throttle() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.clock.Now()
	if until := now.Add(p.pause); until.After(p.pausedUntil) {
		p.pausedUntil = until
	}
	if p.rate > 0 {
		p.rate = max(p.rate/2, p.base/16)
	}
	p.lastThrottle = now
}
