package mailer

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// pacer is the global send rate limit (mail.smtp.rate messages per second,
// 0 = unlimited) and the brake applied when the server throttles (421,
// 454): every worker pauses, and a configured rate is halved, recovering
// (doubling) once a minute while the server stops complaining.
//
// The token bucket is a golang.org/x/time/rate Limiter holding one token
// (no burst: the sends are spaced evenly); the time is always passed in
// from the pacer's clock (the *At and *N methods), never read by the
// limiter. It paces on the Mailer's clock (the waits are its timers), so
// tests move the time themselves. The pacer itself keeps only the policy: the cluster share, the
// brake and the pause.
type pacer struct {
	clock        TimerClock
	mu           sync.Mutex
	lim          *rate.Limiter // at rate messages per second (rate.Inf when unlimited)
	conf         float64       // mail.smtp.rate, for the whole cluster; 0 = unlimited
	base, rate   float64       // this daemon's share of conf, and its current rate
	pausedUntil  time.Time
	lastThrottle time.Time
	pause        time.Duration
}

func newPacer(clock TimerClock, r float64, pause time.Duration) *pacer {
	return &pacer{clock: orSystem(clock), lim: rate.NewLimiter(limit(r), 1), conf: r, base: r, rate: r, pause: pause}
}

// limit is the Limiter's rate for r messages per second (0: unlimited).
func limit(r float64) rate.Limit {
	if r <= 0 {
		return rate.Inf
	}
	return rate.Limit(r)
}

// setRate changes the current rate at now. Called with p.mu held. The
// limiter is told at the end of a pause in force, the time its latest
// reservation was made at (see wait), so that its own clock never steps
// back.
func (p *pacer) setRate(now time.Time, r float64) {
	p.rate = r
	if p.pausedUntil.After(now) {
		now = p.pausedUntil
	}
	p.lim.SetLimitAt(now, limit(r))
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
	r := p.rate * base / p.base
	p.base = base
	p.setRate(p.clock.Now(), r)
}

// wait blocks until the caller may send one message.
func (p *pacer) wait(ctx context.Context) error {
	p.mu.Lock()
	now := p.clock.Now()
	if p.rate < p.base && now.Sub(p.lastThrottle) > time.Minute {
		p.setRate(now, min(p.base, p.rate*2))
		p.lastThrottle = now
	}
	// The message's slot: the next token at or after the end of a pause.
	// While paused every reservation is made at the pause's end, so the
	// sends after it are spaced from there.
	from := now
	if p.pausedUntil.After(from) {
		from = p.pausedUntil
	}
	d := p.lim.ReserveN(from, 1).DelayFrom(now)
	p.mu.Unlock()
	if d <= 0 {
		return ctx.Err()
	}
	timer := p.clock.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C():
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
		p.setRate(now, max(p.rate/2, p.base/16))
	}
	p.lastThrottle = now
}
