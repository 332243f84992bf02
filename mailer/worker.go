package mailer

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"herald/schedule/store"
)

// Summary counts what a Drain (or the latest pass of Run) did.
type Summary struct {
	Mailings int   // mailings expanded into deliveries
	Queued   int64 // deliveries created
	Total    int64 // deliveries due when sending started (sent + failed + retried + not reached)
	Sent     int64
	Failed   int64 // failed for good (5xx, or retries exhausted)
	Retried  int64 // temporary failures scheduled for a later attempt
	Waiting  int64 // deliveries still unfinished afterwards (retries not due yet)
}

// tally is a live Summary, updated by the workers.
type tally struct {
	mailings              atomic.Int64
	queued, total         atomic.Int64
	sent, failed, retried atomic.Int64
	waiting               atomic.Int64

	// The pass stops early when the server cannot be reached: dialFails
	// counts connection failures since the last successful send; past a
	// few, unreachable is set and the rest of the claimed deliveries go
	// back to pending without using an attempt.
	dialFails   atomic.Int64
	unreachable atomic.Pointer[error]
}

// giveUp records that the mail server is unreachable (err: the last error).
func (t *tally) giveUp(err error) { t.unreachable.CompareAndSwap(nil, &err) }

// unreachableErr is the error that stopped the pass, or nil.
func (t *tally) unreachableErr() error {
	if p := t.unreachable.Load(); p != nil {
		return *p
	}
	return nil
}

func (t *tally) summary() Summary {
	return Summary{
		Mailings: int(t.mailings.Load()), Queued: t.queued.Load(), Total: t.total.Load(),
		Sent: t.sent.Load(), Failed: t.failed.Load(), Retried: t.retried.Load(), Waiting: t.waiting.Load(),
	}
}

// Progress returns the counts of the delivery pass running now (or the last
// one): `herald send` draws its progress bar from it.
func (m *Mailer) Progress() Summary {
	if t := m.current.Load(); t != nil {
		return t.summary()
	}
	return Summary{}
}

// Run is the delivery worker; it returns nil when ctx is canceled, after the
// sends in flight have finished (bounded by a grace period), or an error when
// the ledger cannot be read at start.
//
// At start it requeues deliveries left in flight by a previous run (a crash:
// those few may be sent twice, never lost). Then, in a loop: unless in digest
// mode, it turns waiting announcements into mailings (in digest mode, Digest
// does, except for `herald send POST`); expands new mailings into one
// delivery per confirmed subscriber; claims due deliveries in batches and
// sends them over mail.smtp.concurrency connections, each reused for many
// messages, at most mail.smtp.rate messages per second overall; then sleeps
// until Wake or the next retry is due.
func (m *Mailer) Run(ctx context.Context) error {
	now := m.now()
	n, err := m.db.RequeueInFlight(ctx, now, now)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("mailer: run: %w", err)
	}
	if n > 0 {
		m.log.Warn("requeued deliveries that were in flight when herald stopped; these may reach their subscriber twice", "count", n)
	}
	m.log.Info("mail worker started", "digest", m.digest, "concurrency", m.concurrency(), "rate", m.cfg.SMTP.Rate)
	var down time.Duration // current pause while the server is unreachable
	for {
		if ctx.Err() != nil {
			return nil
		}
		t := new(tally)
		m.current.Store(t)
		// Deliveries a crashed `herald send` left in flight beside this
		// daemon are taken over once they are stale.
		if n, err := m.db.RequeueInFlight(ctx, m.now(), m.now().Add(-m.staleClaim)); err != nil && ctx.Err() == nil {
			m.log.Error("mail: requeue stale deliveries", "err", err)
		} else if n > 0 {
			m.log.Warn("requeued deliveries abandoned in flight by another herald process", "count", n)
		}
		if err := m.queue(ctx, t); err != nil && ctx.Err() == nil {
			m.log.Error("mail queue", "err", err)
		}
		if err := m.deliverDue(ctx, t); err != nil && ctx.Err() == nil {
			m.log.Error("mail delivery", "err", err)
		}
		if ctx.Err() != nil {
			return nil
		}
		wait := min(m.idleRecheck, m.staleClaim)
		next, err := m.db.NextRetry(ctx)
		switch {
		case err == nil:
			wait = min(max(next.Sub(m.now()), time.Second), wait)
		case !errors.Is(err, store.ErrNotFound):
			m.log.Error("mail: next retry", "err", err)
		}
		if err := t.unreachableErr(); err != nil {
			down = min(max(2*down, m.unreachablePause), 16*m.unreachablePause)
			wait = down
			m.log.Error("mail server unreachable; delivery paused", "err", err, "retry_in", down)
		} else {
			down = 0
		}
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-m.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// Drain does now everything that is due (`herald send`): it takes over
// deliveries abandoned in flight long ago, creates mailings from waiting
// announcements (in digest mode only manual ones), expands them, and sends
// every due delivery; retries that are not due yet are left for the daemon
// (Summary.Waiting). Safe to run beside a running daemon: deliveries are
// claimed atomically.
func (m *Mailer) Drain(ctx context.Context) (Summary, error) {
	t := new(tally)
	m.current.Store(t)
	now := m.now()
	if n, err := m.db.RequeueInFlight(ctx, now, now.Add(-m.staleClaim)); err != nil {
		return t.summary(), fmt.Errorf("mailer: drain: %w", err)
	} else if n > 0 {
		m.log.Warn("requeued deliveries abandoned in flight", "count", n)
	}
	if err := m.queue(ctx, t); err != nil {
		return t.summary(), fmt.Errorf("mailer: drain: %w", err)
	}
	if err := m.deliverDue(ctx, t); err != nil {
		return t.summary(), fmt.Errorf("mailer: drain: %w", err)
	}
	if err := t.unreachableErr(); err != nil {
		return t.summary(), fmt.Errorf("mailer: drain: mail server unreachable, stopped: %w", err)
	}
	return t.summary(), ctx.Err()
}

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
	ml, err := m.db.Mailing(ctx, id)
	if err != nil {
		return err
	}
	_, err = m.mailPosts(ctx, ml)
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

func (m *Mailer) concurrency() int {
	if c := m.cfg.SMTP.Concurrency; c > 0 {
		return c
	}
	return 1
}

// claimLimit is how many deliveries one claim takes: mail.batch_size, fewer
// when a rate limit would leave them waiting in state sending for long.
func (m *Mailer) claimLimit() int {
	n := m.cfg.BatchSize
	if n <= 0 {
		n = 100
	}
	if r := m.cfg.SMTP.Rate; r > 0 {
		n = min(n, max(m.concurrency(), int(r*30)))
	}
	return n
}

// deliverDue claims and sends every delivery due now, over concurrency
// workers that each keep one connection open for the whole pass. When ctx is
// canceled it stops claiming, returns claimed-but-unsent deliveries to
// pending and waits for the sends in flight (which may run shutdownGrace
// longer).
func (m *Mailer) deliverDue(ctx context.Context, t *tally) error {
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	stop := context.AfterFunc(ctx, func() {
		timer := time.NewTimer(m.shutdownGrace)
		defer timer.Stop()
		select {
		case <-timer.C:
			cancelSends()
		case <-sendCtx.Done():
		}
	})
	defer stop()

	if n, err := m.db.WaitingDeliveries(ctx); err == nil {
		t.total.Store(n)
	}
	rec, err := m.newRecorder(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	jobs := make(chan store.Delivery)
	cache := &prepCache{m: m, entries: map[int64]*prepEntry{}}
	var (
		wg       sync.WaitGroup // workers
		inflight sync.WaitGroup // deliveries handed out and not recorded yet
	)
	for i := range m.concurrency() {
		wg.Go(func() { m.worker(ctx, sendCtx, i, jobs, &inflight, rec, cache, t) })
	}
	var claimErr error
	handedOut := false // since the last inflight.Wait
claim:
	for ctx.Err() == nil && t.unreachableErr() == nil {
		m.dbmu.Lock()
		batch, err := m.db.ClaimDeliveries(ctx, m.now(), m.claimLimit())
		m.dbmu.Unlock()
		if err != nil {
			claimErr = err
			break
		}
		if len(batch) == 0 {
			if !handedOut {
				break
			}
			// Deliveries in flight may yet come back due (a retry
			// without delay): wait for them, then look once more.
			inflight.Wait()
			handedOut = false
			continue
		}
		m.log.Debug("claimed deliveries", "count", len(batch))
		for i, d := range batch {
			if t.unreachableErr() != nil {
				m.release(batch[i:])
				break claim
			}
			inflight.Add(1)
			select {
			case jobs <- d:
				handedOut = true
			case <-ctx.Done():
				inflight.Done()
				m.release(batch[i:])
				break claim
			}
		}
	}
	close(jobs)
	wg.Wait()
	rec.close()

	bg := context.WithoutCancel(ctx)
	if n, err := m.db.WaitingDeliveries(bg); err == nil {
		m.waiting.Store(n)
		t.waiting.Store(n)
	}
	if s := t.summary(); s.Sent+s.Failed+s.Retried > 0 {
		el := time.Since(start)
		m.log.Info("mail pass done", "sent", s.Sent, "failed", s.Failed, "retry_later", s.Retried,
			"waiting", s.Waiting, "seconds", el.Seconds(), "msgs_per_s", float64(s.Sent)/max(el.Seconds(), 1e-9))
	}
	if claimErr != nil && ctx.Err() == nil {
		return claimErr
	}
	return nil
}

// release returns claimed deliveries that were not sent to pending.
func (m *Mailer) release(ds []store.Delivery) {
	if len(ds) == 0 {
		return
	}
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	m.dbmu.Lock()
	defer m.dbmu.Unlock()
	if err := m.db.ReleaseDeliveries(context.Background(), m.now(), ids); err != nil {
		m.log.Error("releasing unsent deliveries (they are requeued at the next start)", "err", err)
	}
}

// worker sends the deliveries it receives over one connection, opened on
// first use and re-opened after it breaks.
func (m *Mailer) worker(ctx, sendCtx context.Context, n int, jobs <-chan store.Delivery, inflight *sync.WaitGroup, rec *recorder, cache *prepCache, t *tally) {
	w := &conn{m: m, n: n}
	defer w.close()
	for d := range jobs {
		if ctx.Err() != nil || t.unreachableErr() != nil {
			m.release([]store.Delivery{d})
		} else {
			m.deliver(ctx, sendCtx, w, rec, d, cache, t)
		}
		inflight.Done()
	}
}

// deliver sends one delivery and records its outcome.
func (m *Mailer) deliver(ctx, sendCtx context.Context, w *conn, rec *recorder, d store.Delivery, cache *prepCache, t *tally) {
	log := m.log.With("delivery", d.ID, "mailing", d.MailingID, "to", d.Email)
	prep, err := cache.get(sendCtx, d.MailingID)
	var msg *Message
	if err == nil {
		msg, err = prep.Message(Recipient{Email: d.Email, Name: d.Name, UnsubscribeURL: m.unsubscribeURL(d.SubscriberID)},
			m.messageID("mailing", d.MailingID, d.SubscriberID))
		m.setSender(msg, d.MailingID, d.SubscriberID)
		if err != nil { // a bad address or name in the database: no retry helps
			m.recordFailed(log, rec, d, 0, err.Error(), t)
			return
		}
	}
	var skip errSkip
	if errors.As(err, &skip) {
		m.recordFailed(log, rec, d, 0, "not sent: "+string(skip), t)
		return
	}
	if err != nil { // rendering failed: perhaps a post being edited; try later
		m.recordTemp(log, rec, d, 0, err.Error(), t)
		return
	}
	if err := m.pacer.wait(ctx); err != nil {
		m.release([]store.Delivery{d})
		return
	}
	dialErr, err := w.send(sendCtx, msg)
	if err == nil {
		t.dialFails.Store(0)
		m.recordSent(log, rec, d, t)
		return
	}
	if dialErr && t.dialFails.Add(1) >= int64(2*m.concurrency()) {
		t.giveUp(err)
	}
	var se *SendError
	if !errors.As(err, &se) {
		se = &SendError{Text: err.Error(), Temporary: true, Err: err}
	}
	if se.Throttle {
		m.pacer.throttle()
		log.Warn("mail server asks to slow down", "code", se.Code, "text", se.Text)
	}
	text := se.Error()
	switch {
	case dialErr:
		// Connecting failed (network, TLS, AUTH): a configuration or
		// server problem, not this recipient's. The delivery goes back
		// untouched (no attempt used up), so an outage never fails the
		// list; Run pauses and logs until the server answers again.
		log.Debug("not sent: cannot connect", "err", text)
		m.release([]store.Delivery{d})
	case se.Temporary || se.Code == 0:
		m.recordTemp(log, rec, d, se.Code, text, t)
	default:
		m.recordFailed(log, rec, d, se.Code, text, t)
	}
}
