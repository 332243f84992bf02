package mailer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"herald/schedule/store"
)

// Run is the delivery worker; it returns nil when ctx is canceled, after the
// sends in flight have finished (bounded by a grace period), or an error when
// the ledger cannot be read at start.
//
// In a loop: it takes over the deliveries whose owner's lease ran out (a
// crashed herald: those few may be sent twice, never lost); unless in
// digest mode, it turns waiting announcements into mailings (in digest
// mode, Digest does, except for `herald send POST`); expands new mailings
// into one delivery per confirmed subscriber; claims due deliveries for the
// connections ready to send (mail.smtp.concurrency, each reused for many
// messages, at most mail.smtp.rate messages per second overall), renewing
// its leases while it sends; then sleeps until Wake or the next retry is
// due. Deliveries another live process holds (`herald send`, a second
// daemon on a shared database) are never taken.
func (m *Mailer) Run(ctx context.Context) error {
	defer m.settle(ctx)
	if err := m.takeOver(ctx); err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("mailer: run: %w", err)
	}
	m.log.Info("mail worker started", "digest", m.digest, "concurrency", m.concurrency(), "rate", m.cfg.SMTP.Rate, "owner", m.lease.Owner)
	var down time.Duration // current pause while the server is unreachable or the ledger unwritable
	for first := true; ; first = false {
		if ctx.Err() != nil {
			return nil
		}
		t := new(tally)
		m.current.Store(t)
		m.pass(ctx, t, first)
		if ctx.Err() != nil {
			return nil
		}
		if err := cmp.Or(t.ledgerErr(), t.unreachableErr()); err != nil {
			down = min(max(2*down, m.unreachablePause), 16*m.unreachablePause)
			m.setPause(ctx, err, down)
			what := "mail server unreachable"
			if t.ledgerErr() != nil {
				what = "the ledger cannot be written"
			}
			m.log.Error(what+"; delivery paused", "err", err, "retry_in", down, "probe_every", m.probeEvery)
			m.sleepPaused(ctx, down, t)
			continue
		}
		down = 0
		m.clearPause(ctx)
		// Look again within a lease: deliveries a dead process left in
		// flight are taken over soon after their lease runs out.
		wait := min(m.idleRecheck, m.lease.For)
		next, err := m.db.NextRetry(ctx)
		switch {
		case err == nil:
			wait = min(max(next.Sub(m.now()), time.Second), wait)
		case !errors.Is(err, store.ErrNotFound):
			m.log.Error("mail: next retry", "err", err)
		}
		if next, ok := m.nextWait(); ok { // a mailing waiting for its post
			wait = min(max(next.Sub(m.now()), time.Second), wait)
		}
		timer := m.clock.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-m.wake:
		case <-timer.C():
		}
		timer.Stop()
	}
}

// pass is one round of Run: record the outcomes held from a ledger
// failure, take over expired leases (except on the first pass, done at
// start), queue, deliver.
func (m *Mailer) pass(ctx context.Context, t *tally, first bool) {
	if err := m.flushHeld(ctx); err != nil {
		if ctx.Err() == nil {
			t.ledgerFailed(err)
		}
		return
	}
	if !first {
		if err := m.takeOver(ctx); err != nil && ctx.Err() == nil {
			m.log.Error("mail: take over expired deliveries", "err", err)
			t.ledgerFailed(err)
			return
		}
	}
	if err := m.queue(ctx, t); err != nil && ctx.Err() == nil {
		m.log.Error("mail queue", "err", err)
	}
	if err := m.deliverDue(ctx, t); err != nil && ctx.Err() == nil && t.ledgerErr() == nil {
		m.log.Error("mail delivery", "err", err)
	}
}

// takeOver returns to pending the deliveries whose owner's lease ran out:
// a herald process (this daemon before a restart, `herald send`, another
// daemon) died or hung with them in flight. Each may or may not have
// reached its subscriber; the warning gives their exact number.
func (m *Mailer) takeOver(ctx context.Context) error {
	m.dbmu.Lock()
	list, err := m.db.RequeueExpired(ctx, m.now())
	m.dbmu.Unlock()
	if err != nil {
		return err
	}
	if len(list) == 0 {
		return nil
	}
	var owners []string
	for _, e := range list {
		if o := cmp.Or(e.Owner, "unknown"); !slices.Contains(owners, o) {
			owners = append(owners, o)
		}
	}
	m.log.Warn("took over deliveries left in flight by a herald process that stopped (its lease ran out); each may reach its subscriber twice",
		"count", len(list), "owners", owners)
	return nil
}

// Drain does now everything that is due (`herald send`): it takes over
// deliveries whose owner's lease ran out, creates mailings from waiting
// announcements (in digest mode only manual ones), expands them, and sends
// every due delivery; retries that are not due yet are left for the daemon
// (Summary.Waiting). Safe to run beside a running daemon: deliveries are
// claimed atomically under a lease, and the daemon's are never taken.
func (m *Mailer) Drain(ctx context.Context) (Summary, error) { return m.drain(ctx, nil) }

// queue creates mailings from waiting announcements and expands every
// unexpanded mailing. A mailing that cannot be rendered now is logged and
// left for the next pass; the others go ahead.
func (m *Mailer) queue(ctx context.Context, t *tally) error {
	now := m.now()
	var err error
	if m.digest {
		_, err = m.db.CreateManualMailings(ctx, now)
	} else {
		_, err = m.db.CreateMailings(ctx, now, false)
	}
	if err != nil {
		return err
	}
	ids, err := m.db.UnexpandedMailings(ctx)
	if err != nil {
		return err
	}
	var errs []error
	for _, id := range ids {
		if err := m.expand(ctx, id, t); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// expand creates mailing id's deliveries, or skips it when none of its
// posts is to be mailed.
func (m *Mailer) expand(ctx context.Context, id int64, t *tally) error {
	if !m.waitDue(id) {
		return nil
	}
	ml, err := m.db.Mailing(ctx, id)
	if err != nil {
		return err
	}
	_, err = m.mailPosts(ctx, ml)
	var unreadable *errUnreadable
	if errors.As(err, &unreadable) {
		delay := m.waitMore(id)
		m.log.Warn("mailing waiting: its post cannot be read now (will try again)", "mailing", id,
			"post", unreadable.post, "err", unreadable.err, "retry_in", delay)
		m.noteWait(ctx, id, unreadable, m.now().Add(delay))
		return nil
	}
	m.waitDone(id)
	var skip errSkip
	if errors.As(err, &skip) {
		m.log.Info("mailing skipped", "mailing", id, "reason", string(skip))
		return m.db.SkipMailing(ctx, m.now(), id, string(skip))
	}
	if err != nil {
		return err
	}
	n, err := m.db.ExpandMailing(ctx, m.now(), id)
	if err != nil {
		return err
	}
	t.mailings.Add(1)
	t.queued.Add(n)
	var posts []string
	for _, p := range ml.Posts {
		posts = append(posts, p.PostID)
	}
	m.log.Info("mailing queued", "mailing", id, "kind", ml.Kind, "posts", posts, "deliveries", n)
	return nil
}
