package feed

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// renderCalls are the renders in flight, by cache key: a post that is
// still rendering when its deadline passes is not rendered a second time
// by the next scan, which waits for the first rendering instead.
type renderCalls struct {
	mu    sync.Mutex
	calls map[string]*renderCall
}

// renderCall is one rendering in flight.
type renderCall struct {
	started time.Time
	done    chan struct{} // closed when out and err are set
	out     *Rendered
	err     error
}

// Render renders p's body for feeds: HTML with Liquid resolved, absolute
// URLs, no <style> or <script>, and the summary. Results are cached by
// content hash and URL (a bounded cache), so an unchanged post is rendered,
// and its warnings logged, once; the returned value is shared and must not
// be modified. Safe for concurrent use.
//
// A post that takes longer than posts.render_timeout (counted from when
// its rendering started) gives an error wrapping ErrRenderTimeout, so that
// one slow post does not hold back the others; its rendering goes on and
// is cached, and a later Render returns it.
func (l *Loader) Render(ctx context.Context, p *Post) (*Rendered, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("feed: render %s: %w", p.File, err)
	}
	key := p.Hash + "\x00" + p.URL
	if v, ok := l.r.cached(key); ok {
		return v, nil
	}
	c := l.renders.start(key, l.clock.Now(), func() (*Rendered, error) { return l.render(context.WithoutCancel(ctx), p, key) })
	t := l.clock.NewTimer(c.started.Add(l.renderTimeout).Sub(l.clock.Now()))
	defer t.Stop()
	select {
	case <-c.done:
		return c.out, c.err
	case <-ctx.Done():
		return nil, fmt.Errorf("feed: render %s: %w", p.File, ctx.Err())
	case <-t.C():
		return nil, fmt.Errorf("feed: %s: %w (%s); left out until it is done", p.File, ErrRenderTimeout, l.renderTimeout)
	}
}

// render reads and renders p, caching the result under key.
func (l *Loader) render(ctx context.Context, p *Post, key string) (*Rendered, error) {
	in, buf, err := l.input(ctx, p, l.logWarn(p))
	if err != nil {
		return nil, err
	}
	out, err := l.r.render(in)
	l.putBody(buf)
	if err != nil {
		return nil, err
	}
	l.r.store(key, out)
	return out, nil
}

// start returns the rendering in flight for key, or starts fn as it at
// now.
func (rc *renderCalls) start(key string, now time.Time, fn func() (*Rendered, error)) *renderCall {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if c := rc.calls[key]; c != nil {
		return c
	}
	if rc.calls == nil {
		rc.calls = map[string]*renderCall{}
	}
	c := &renderCall{started: now, done: make(chan struct{})}
	rc.calls[key] = c
	go func() {
		defer func() {
			if r := recover(); r != nil {
				c.out, c.err = nil, fmt.Errorf("feed: render panicked: %v", r)
			}
			rc.mu.Lock()
			delete(rc.calls, key)
			rc.mu.Unlock()
			close(c.done)
		}()
		c.out, c.err = fn()
	}()
	return c
}
