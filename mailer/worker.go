package mailer

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
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
	// Post counts the named post's deliveries alone (DrainPost; zero
	// otherwise).
	Post PostCounts
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
	// ledger is set when a ledger write failed: the pass stops taking
	// deliveries and Run pauses until a write succeeds.
	ledger atomic.Pointer[error]

	post *postTally // DrainPost's post; nil otherwise
	prog progressLog
}

// ledgerFailed records that a ledger write failed; true the first time.
func (t *tally) ledgerFailed(err error) bool { return t.ledger.CompareAndSwap(nil, &err) }

// ledgerErr is the ledger failure that stopped the pass, or nil.
func (t *tally) ledgerErr() error {
	if p := t.ledger.Load(); p != nil {
		return *p
	}
	return nil
}

// stopped reports whether the pass must stop taking deliveries.
func (t *tally) stopped() bool { return t.unreachableErr() != nil || t.ledgerErr() != nil }

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
	s := Summary{
		Mailings: int(t.mailings.Load()), Queued: t.queued.Load(), Total: t.total.Load(),
		Sent: t.sent.Load(), Failed: t.failed.Load(), Retried: t.retried.Load(), Waiting: t.waiting.Load(),
	}
	if t.post != nil {
		s.Post = t.post.counts()
	}
	return s
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

func (m *Mailer) concurrency() int {
	if c := m.cfg.SMTP.Concurrency; c > 0 {
		return c
	}
	return 1
}

// batchSize bounds one claim: mail.batch_size.
func (m *Mailer) batchSize() int {
	if n := m.cfg.BatchSize; n > 0 {
		return n
	}
	return 100
}

// deliverDue claims and sends every delivery due now, over concurrency
// workers that each keep one connection open for the whole pass. A worker
// asks for a delivery when it is ready to send (its rate-limit slot has
// come), and the deliveries are claimed for the workers asking at that
// moment: the rows in flight are the ones being handed to the server, at
// most concurrency, which bounds what a crash can leave uncertain. The
// leases are renewed while the pass runs. When ctx is canceled it stops
// claiming and waits for the sends in flight (which may run shutdownGrace
// longer).
func (m *Mailer) deliverDue(ctx context.Context, t *tally) error {
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()
	stop := context.AfterFunc(ctx, func() {
		timer := m.clock.NewTimer(m.shutdownGrace)
		defer timer.Stop()
		select {
		case <-timer.C():
			cancelSends()
		case <-sendCtx.Done():
		}
	})
	defer stop()

	if n, err := m.db.WaitingDeliveries(ctx); err == nil {
		t.total.Store(n)
	}
	t.begin(m.now())
	rec, err := m.newRecorder(ctx)
	if err != nil {
		return err
	}
	stopRenewing := m.renewLeases()
	start := m.now()
	asks := make(chan chan<- store.Delivery)
	done := make(chan struct{}) // the dispatcher stopped
	gone := make(chan struct{}) // every worker returned
	cache := &prepCache{m: m, entries: map[int64]*prepEntry{}}
	var wg sync.WaitGroup
	for i := range m.concurrency() {
		wg.Go(func() { m.worker(ctx, sendCtx, i, asks, done, rec, cache, t) })
	}
	go func() { wg.Wait(); close(gone) }()
	claimErr := m.dispatch(ctx, asks, gone, t)
	close(done)
	<-gone
	stopRenewing()
	rec.close()

	bg := context.WithoutCancel(ctx)
	if n, err := m.db.WaitingDeliveries(bg); err == nil {
		m.waiting.Store(n)
		t.waiting.Store(n)
	}
	if s := t.summary(); s.Sent+s.Failed+s.Retried > 0 {
		el := m.now().Sub(start)
		m.log.Info("mail pass done", "sent", s.Sent, "failed", s.Failed, "retry_later", s.Retried,
			"waiting", s.Waiting, "seconds", el.Seconds(), "msgs_per_s", float64(s.Sent)/max(el.Seconds(), 1e-9))
	}
	if claimErr != nil && ctx.Err() == nil {
		return claimErr
	}
	return nil
}

// dispatch answers the workers' requests for a delivery (a channel that
// receives one delivery, or is closed: no more). It claims as many
// deliveries as workers are asking at that moment (at most
// mail.batch_size) and hands each to one of them at once. It returns when
// nothing is due and every worker is waiting, when ctx is canceled, the
// server is unreachable, the workers are gone, or a claim fails (its
// error).
func (m *Mailer) dispatch(ctx context.Context, asks <-chan chan<- store.Delivery, gone <-chan struct{}, t *tally) error {
	var waiting []chan<- store.Delivery
	defer func() {
		for _, w := range waiting {
			close(w)
		}
	}()
	dry := false // the last claim found fewer deliveries than asked for: none is due now
	for {
		if len(waiting) == 0 || dry {
			// Wait for a worker; after a dry claim, for a busy one to
			// finish: its delivery may come back due (a retry without
			// delay).
			select {
			case w := <-asks:
				waiting = append(waiting, w)
			case <-ctx.Done():
				return nil
			case <-gone:
				return nil
			}
		}
		for more := true; more; {
			select {
			case w := <-asks:
				waiting = append(waiting, w)
			default:
				more = false
			}
		}
		if ctx.Err() != nil || t.stopped() {
			return nil
		}
		asked := min(len(waiting), m.batchSize())
		m.dbmu.Lock()
		batch, err := m.db.ClaimDeliveries(ctx, m.now(), m.lease, asked)
		m.dbmu.Unlock()
		if err != nil {
			if ctx.Err() == nil {
				t.ledgerFailed(err)
			}
			return err
		}
		if len(batch) > 0 {
			m.log.Debug("claimed deliveries", "count", len(batch))
		}
		for i, d := range batch {
			waiting[i] <- d // buffered: never blocks
		}
		waiting = waiting[len(batch):]
		dry = len(batch) < asked
		if dry && len(waiting) == m.concurrency() {
			return nil // nothing due, and no worker busy
		}
	}
}

// renewLeases renews this Mailer's leases every quarter lease until the
// returned stop is called.
func (m *Mailer) renewLeases() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := m.lease.For / 4
		tick := m.clock.NewTimer(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C():
				tick.Reset(every)
			}
			m.dbmu.Lock()
			_, err := m.db.RenewLeases(ctx, m.now(), m.lease)
			m.dbmu.Unlock()
			if err != nil && ctx.Err() == nil {
				m.log.Error("mail: renewing the leases of the deliveries in flight (when a lease runs out, another herald may send them again)", "err", err)
			}
		}
	}()
	return func() { cancel(); <-done }
}

// release returns claimed deliveries that were not sent to pending.
func (m *Mailer) release(ds ...store.Delivery) {
	if len(ds) == 0 {
		return
	}
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	m.dbmu.Lock()
	defer m.dbmu.Unlock()
	if _, err := m.db.ReleaseDeliveries(context.Background(), m.now(), m.lease.Owner, ids); err != nil {
		m.log.Error("releasing unsent deliveries (they are taken over when their lease runs out)", "err", err)
	}
}

// worker sends deliveries over one connection, opened on first use and
// re-opened after it breaks. It waits for its rate-limit slot, then asks
// the dispatcher for one delivery, until there is none or ctx is canceled.
func (m *Mailer) worker(ctx, sendCtx context.Context, n int, asks chan<- chan<- store.Delivery, done <-chan struct{}, rec *recorder, cache *prepCache, t *tally) {
	w := &conn{m: m, n: n}
	defer w.close()
	for {
		if err := m.pacer.wait(ctx); err != nil {
			return
		}
		reply := make(chan store.Delivery, 1)
		select {
		case asks <- reply:
		case <-done:
			return
		}
		d, ok := <-reply
		if !ok {
			return
		}
		if ctx.Err() != nil || t.stopped() {
			m.release(d)
			return
		}
		m.deliver(ctx, sendCtx, w, rec, d, cache, t)
	}
}

// deliver sends one delivery and records its outcome.
func (m *Mailer) deliver(ctx, sendCtx context.Context, w *conn, rec *recorder, d store.Delivery, cache *prepCache, t *tally) {
	log := m.log.With("delivery", d.ID, "mailing", d.MailingID, "to", d.Email)
	prep, posts, err := cache.get(sendCtx, d.MailingID)
	var msg *Message
	if err == nil {
		msg, err = prep.Message(Recipient{Email: d.Email, Name: d.Name, UnsubscribeURL: m.unsubscribeURL(d.SubscriberID)},
			m.mailingMessageID(d.MailingID, d.SubscriberID, posts))
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
	var unreadable *errUnreadable
	if errors.As(err, &unreadable) { // put off without failing: the post may be back soon
		m.recordWaiting(sendCtx, log, rec, d, unreadable, t)
		return
	}
	if err != nil { // rendering failed: perhaps a post being edited; try later
		m.recordTemp(log, rec, d, 0, err.Error(), t)
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
		m.release(d)
	case se.Temporary || se.Code == 0:
		m.recordTemp(log, rec, d, se.Code, text, t)
	default:
		m.recordFailed(log, rec, d, se.Code, text, t)
	}
}
