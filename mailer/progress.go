package mailer

import (
	"context"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	"herald/schedule/store"
)

// PostCounts is one post's part of a delivery pass (DrainPost): only the
// deliveries of that post's mailings, whatever else the pass sent.
type PostCounts struct {
	Total   int64 // the post's unfinished deliveries when sending started
	Sent    int64
	Failed  int64 // failed for good
	Retried int64 // temporary failures scheduled for a later attempt
	Waiting int64 // the post's deliveries still unfinished afterwards
}

// Done is how many of the post's deliveries the pass decided.
func (c PostCounts) Done() int64 { return c.Sent + c.Failed + c.Retried }

// postTally is the live PostCounts of a pass; mailings is set before the
// workers start and only read afterwards.
type postTally struct {
	id                    string
	mailings              map[int64]bool
	total, waiting        atomic.Int64
	sent, failed, retried atomic.Int64
}

func (p *postTally) counts() PostCounts {
	return PostCounts{Total: p.total.Load(), Sent: p.sent.Load(), Failed: p.failed.Load(), Retried: p.retried.Load(), Waiting: p.waiting.Load()}
}

// DefaultProgressEvery is how often a long delivery pass logs its progress
// (Options.ProgressEvery).
const DefaultProgressEvery = 10 * time.Second

// noted counts one outcome of delivery d towards its post (DrainPost).
func (m *Mailer) noted(t *tally, d store.Delivery, state store.DeliveryState) {
	p := t.post
	if p == nil || !p.mailings[d.MailingID] {
		return
	}
	switch state {
	case store.DeliverySent:
		p.sent.Add(1)
	case store.DeliveryFailed:
		p.failed.Add(1)
	default:
		p.retried.Add(1)
	}
}

// logProgress logs the progress of pass t every ProgressEvery of the
// Mailer's clock, from now until stop is called: sent/total, rate and ETA
// (the post's, for DrainPost), for the daemon's long mailings and `herald
// send` without a terminal. A pass stalled on a slow server is logged too.
func (m *Mailer) logProgress(t *tally) (stop func()) {
	every := m.progressEvery
	if every <= 0 {
		return func() {}
	}
	start := m.now()
	timer := m.clock.NewTimer(every)
	done, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		defer timer.Stop()
		for {
			select {
			case <-done:
				return
			case <-timer.C():
			}
			m.progressLine(t, m.now().Sub(start))
			timer.Reset(every)
		}
	}()
	return func() { close(done); <-exited }
}

// progressLine logs pass t's progress after elapsed.
func (m *Mailer) progressLine(t *tally, elapsed time.Duration) {
	s := t.summary()
	rate := Rate(s.Sent+s.Failed+s.Retried, elapsed)
	var attrs []any
	left := s.Total - (s.Sent + s.Failed + s.Retried)
	if p := t.post; p != nil {
		c := p.counts()
		left = c.Total - c.Done()
		attrs = append(attrs, "post", p.id, "sent", c.Sent, "failed", c.Failed, "retry_later", c.Retried, "total", c.Total)
	} else {
		attrs = append(attrs, "sent", s.Sent, "failed", s.Failed, "retry_later", s.Retried, "total", s.Total)
	}
	attrs = append(attrs, "msgs_per_s", fmt.Sprintf("%.1f", rate), "eta", ETA(left, rate))
	m.log.Info("mail progress", attrs...)
}

// Rate is the pace of a pass that decided done deliveries in elapsed, in
// messages per second.
func Rate(done int64, elapsed time.Duration) float64 {
	if elapsed <= 0 || done <= 0 {
		return 0
	}
	return float64(done) / elapsed.Seconds()
}

// ETA is the time left for left deliveries at rate messages per second,
// rounded to the second; "?" when it cannot be told yet.
func ETA(left int64, rate float64) string {
	switch {
	case left <= 0:
		return "0s"
	case rate <= 0:
		return "?"
	}
	return time.Duration(float64(left) / rate * float64(time.Second)).Round(time.Second).String()
}

// DrainPost is Drain for `herald send POST`: it does everything that is
// due, as Drain, and counts apart the deliveries of post postID's mailings
// (Summary.Post), so that what `herald send` reports is the post's alone.
// Interrupted (ctx canceled), it stops claiming, lets the sends in flight
// finish (the claimed rows not sent go back to pending) and returns the
// counts so far with ctx's error.
func (m *Mailer) DrainPost(ctx context.Context, postID string) (Summary, error) {
	return m.drain(ctx, &postTally{id: postID, mailings: map[int64]bool{}})
}

// drain is Drain, and DrainPost when post is not nil.
func (m *Mailer) drain(ctx context.Context, post *postTally) (Summary, error) {
	defer m.settle(ctx)
	t := &tally{post: post}
	m.current.Store(t)
	if err := m.takeOver(ctx); err != nil {
		return t.summary(), fmt.Errorf("mailer: drain: %w", err)
	}
	if err := m.queue(ctx, t); err != nil {
		return t.summary(), fmt.Errorf("mailer: drain: %w", err)
	}
	if post != nil {
		total, err := m.postUnfinished(ctx, post, true)
		if err != nil {
			return t.summary(), fmt.Errorf("mailer: drain: %w", err)
		}
		post.total.Store(total)
	}
	err := m.deliverDue(ctx, t)
	if post != nil {
		if n, err := m.postUnfinished(context.WithoutCancel(ctx), post, false); err == nil {
			post.waiting.Store(n)
		}
	}
	if err != nil {
		return t.summary(), fmt.Errorf("mailer: drain: %w", err)
	}
	if err := t.unreachableErr(); err != nil {
		return t.summary(), fmt.Errorf("mailer: drain: mail server unreachable, stopped: %w", err)
	}
	return t.summary(), ctx.Err()
}

// postUnfinished counts the unfinished deliveries (pending, sending or
// waiting to retry) of post's mailings; find first records which mailings
// those are.
func (m *Mailer) postUnfinished(ctx context.Context, post *postTally, find bool) (int64, error) {
	stats, err := m.db.DeliveryStats(ctx, 0)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, s := range stats {
		if find && slices.ContainsFunc(s.Posts, func(p store.MailingPost) bool { return p.PostID == post.id }) {
			post.mailings[s.MailingID] = true
		}
		if post.mailings[s.MailingID] {
			n += int64(s.Pending + s.Retrying)
		}
	}
	return n, nil
}
