package mailer

import (
	"context"
	"errors"
	"sync"

	"herald/schedule/store"
)

// concurrency is how many connections (workers) a pass sends over:
// mail.smtp.concurrency.
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
	rec, err := m.newRecorder(ctx)
	if err != nil {
		return err
	}
	defer m.logProgress(t)()
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

// release returns claimed deliveries that were not sent to pending. When
// the ledger cannot be written (the pass stopped because of it), they are
// held in memory with the outcomes and released first when a write
// succeeds (flushHeld): left in flight, they would wait out their lease
// (and hold up their mailing) although they were never sent.
func (m *Mailer) release(ds ...store.Delivery) {
	if len(ds) == 0 {
		return
	}
	ids := make([]int64, len(ds))
	for i, d := range ds {
		ids[i] = d.ID
	}
	m.dbmu.Lock()
	_, err := m.db.ReleaseDeliveries(context.Background(), m.now(), m.lease.Owner, ids)
	m.dbmu.Unlock()
	if err != nil {
		m.heldMu.Lock()
		m.heldRelease = append(m.heldRelease, ids...)
		m.heldMu.Unlock()
		m.log.Error("releasing unsent deliveries: held in memory until a ledger write succeeds", "count", len(ids), "err", err)
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
