package mailer

import (
	"sync"
	"time"
)

// rateLimiter is a set of in-memory token buckets, one per key (a client IP
// prefix, an address, or a single global key). Each bucket holds at most
// burst tokens and refills at burst tokens per period, so a key may make
// burst requests at once and then burst per period on average. State is
// lost on restart, which only makes the limits more lenient for a moment.
//
// The number of keys is capped (maxKeys): when the map is full, idle buckets
// (refilled completely) are pruned; if it is still full, requests with a new
// key are refused, so a flood of distinct keys cannot exhaust memory.
type rateLimiter struct {
	mu      sync.Mutex
	burst   float64
	period  time.Duration
	maxKeys int
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

// newRateLimiter returns a limiter allowing burst requests per period and
// key. burst <= 0 disables the limit (every request is allowed).
func newRateLimiter(burst int, period time.Duration, maxKeys int) *rateLimiter {
	if maxKeys <= 0 {
		maxKeys = 1 << 16
	}
	return &rateLimiter{
		burst:   float64(burst),
		period:  period,
		maxKeys: maxKeys,
		buckets: make(map[string]*bucket),
	}
}

// refill brings b up to date at now.
func (l *rateLimiter) refill(b *bucket, now time.Time) {
	if el := now.Sub(b.last); el > 0 {
		b.tokens += l.burst * float64(el) / float64(l.period)
		if b.tokens > l.burst {
			b.tokens = l.burst
		}
		b.last = now
	}
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
		b = &bucket{tokens: l.burst, last: now}
		l.buckets[key] = b
	}
	l.refill(b, now)
	if b.tokens < 1 {
		need := (1 - b.tokens) / l.burst * float64(l.period)
		return false, time.Duration(need) + time.Second
	}
	b.tokens--
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
		l.refill(b, now)
		if b.tokens >= l.burst {
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
