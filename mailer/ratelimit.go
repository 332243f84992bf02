package mailer

import (
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// rateLimiter is a set of in-memory token buckets (golang.org/x/time/rate),
// one per key (a client IP prefix, an address, or a single global key).
// Each bucket holds at most burst tokens and refills at burst tokens per
// period, so a key may make burst requests at once and then burst per
// period on average. State is lost on restart, which only makes the limits
// more lenient for a moment. The time is always passed in (the Web's
// clock), never read by the buckets.
//
// The number of keys is capped (maxKeys): when the map is full, idle buckets
// (refilled completely) are pruned; if it is still full, requests with a new
// key are refused, so a flood of distinct keys cannot exhaust memory.
type rateLimiter struct {
	mu      sync.Mutex
	burst   int
	every   rate.Limit
	period  time.Duration
	maxKeys int
	buckets map[string]*rate.Limiter
}

// newRateLimiter returns a limiter allowing burst requests per period and
// key. burst <= 0 disables the limit (every request is allowed).
func newRateLimiter(burst int, period time.Duration, maxKeys int) *rateLimiter {
	if maxKeys <= 0 {
		maxKeys = 1 << 16
	}
	l := &rateLimiter{burst: burst, period: period, maxKeys: maxKeys, buckets: make(map[string]*rate.Limiter)}
	if burst > 0 {
		l.every = rate.Every(period / time.Duration(burst))
	}
	return l
}

// Allow takes one token from key's bucket at now and reports whether there
// was one. When it refuses, retry is how long until a token is available.
func (l *rateLimiter) Allow(key string, now time.Time) (ok bool, retry time.Duration) {
	if l.burst <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.buckets[key]
	if b == nil {
		if len(l.buckets) >= l.maxKeys {
			l.pruneLocked(now)
			if len(l.buckets) >= l.maxKeys {
				return false, l.period / time.Duration(l.burst)
			}
		}
		b = rate.NewLimiter(l.every, l.burst)
		l.buckets[key] = b
	}
	r := b.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now) // refused: the token stays in the bucket
		return false, d + time.Second
	}
	return true, 0
}

// Prune forgets the buckets that are full again at now (idle keys).
func (l *rateLimiter) Prune(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(now)
}

func (l *rateLimiter) pruneLocked(now time.Time) {
	for k, b := range l.buckets {
		if b.TokensAt(now) >= float64(l.burst) {
			delete(l.buckets, k)
		}
	}
}

// Len returns the number of keys tracked.
func (l *rateLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.buckets)
}
