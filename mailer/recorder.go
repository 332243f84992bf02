package mailer

import (
	"context"
	"fmt"
	"herald/schedule/store"
	"log/slog"
	"math/rand/v2"
	"time"
)

func (m *Mailer) recordSent(log *slog.Logger, rec *recorder, d store.Delivery, t *tally) {
	m.record(rec, store.Outcome{ID: d.ID, State: store.DeliverySent}, t)
	t.sent.Add(1)
	m.sent.Add(1)
	m.noted(t, d, store.DeliverySent)
	log.Debug("sent")
}

// recordTemp schedules another attempt after a temporary failure, or fails
// the delivery when mail.max_attempts or mail.retry_for is used up.
func (m *Mailer) recordTemp(log *slog.Logger, rec *recorder, d store.Delivery, code int, text string, t *tally) {
	now := m.now()
	next := now.Add(m.backoff(d.Attempts))
	maxAttempts := m.cfg.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = 10
	}
	retryFor := m.cfg.RetryFor.Duration
	if retryFor <= 0 {
		retryFor = 72 * time.Hour
	}
	if d.Attempts >= maxAttempts || next.After(d.QueuedAt.Add(retryFor)) {
		m.recordFailed(log, rec, d, code, fmt.Sprintf("gave up after %d attempts: %s", d.Attempts, text), t)
		return
	}
	m.record(rec, store.Outcome{ID: d.ID, State: store.DeliveryRetry, Next: next, Code: code, Text: text}, t)
	t.retried.Add(1)
	m.retries.Add(1)
	m.noted(t, d, store.DeliveryRetry)
	log.Info("temporary failure, will retry", "code", code, "err", text, "attempt", d.Attempts, "next", next)
}

func (m *Mailer) recordFailed(log *slog.Logger, rec *recorder, d store.Delivery, code int, text string, t *tally) {
	m.record(rec, store.Outcome{ID: d.ID, State: store.DeliveryFailed, Code: code, Text: text}, t)
	t.failed.Add(1)
	m.failed.Add(1)
	m.noted(t, d, store.DeliveryFailed)
	log.Warn("delivery failed", "code", code, "err", text)
	m.smtpBounce(log, d, code, text)
}

// record commits outcome o. When the ledger cannot be written (a full
// disk, a read-only file), the outcome is held in memory, to be recorded
// as soon as a write succeeds (flushHeld), and the pass stops taking new
// deliveries: only the ones already in flight are uncertain, and only if
// the process dies before the ledger is writable again.
func (m *Mailer) record(rec *recorder, o store.Outcome, t *tally) {
	err := rec.record(o)
	if err == nil {
		return
	}
	m.heldMu.Lock()
	m.held = append(m.held, o)
	m.heldMu.Unlock()
	if t.ledgerFailed(err) {
		m.log.Error("the ledger cannot be written: stopping delivery; outcomes held in memory until a write succeeds",
			"delivery", o.ID, "err", err)
	}
}

// flushHeld records the outcomes held while the ledger could not be
// written. It runs before anything else in a pass (above all before the
// take-over of expired leases, which would otherwise re-send them).
func (m *Mailer) flushHeld(ctx context.Context) error {
	m.heldMu.Lock()
	defer m.heldMu.Unlock()
	if len(m.held) > 0 {
		m.dbmu.Lock()
		n, err := m.db.RecordOutcomes(ctx, m.now(), m.lease.Owner, m.held)
		m.dbmu.Unlock()
		if err != nil {
			return err
		}
		m.log.Info("the ledger is writable again: recorded the outcomes held in memory", "held", len(m.held), "recorded", n)
		m.held = nil
	}
	if len(m.heldRelease) > 0 {
		m.dbmu.Lock()
		n, err := m.db.ReleaseDeliveries(ctx, m.now(), m.lease.Owner, m.heldRelease)
		m.dbmu.Unlock()
		if err != nil {
			return err
		}
		m.log.Info("the ledger is writable again: released the unsent deliveries held in memory", "held", len(m.heldRelease), "released", n)
		m.heldRelease = nil
	}
	return nil
}

// settle is the last try, when Run or a drain stops, to write what is held
// in memory (outcomes not recorded, unsent deliveries not released) on a
// short deadline that outlives ctx: a stop right after the disk came back
// then leaves nothing to be taken over and sent twice. What still cannot be
// written is logged with its number.
func (m *Mailer) settle(ctx context.Context) {
	if m.heldOutcomes() == 0 {
		return
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleFor)
	defer cancel()
	if err := m.flushHeld(sctx); err != nil {
		m.log.Error("stopping with outcomes the ledger could not record: those deliveries are taken over when their lease runs out and may reach their subscribers twice",
			"count", m.heldOutcomes(), "err", err)
	}
}

// settleFor bounds settle's last ledger write.
const settleFor = 5 * time.Second

// heldOutcomes counts the outcomes (and unsent deliveries to release)
// waiting in memory for a ledger write.
func (m *Mailer) heldOutcomes() int {
	m.heldMu.Lock()
	defer m.heldMu.Unlock()
	return len(m.held) + len(m.heldRelease)
}

// recorder writes the outcomes of sends to the ledger with group commit:
// each sender hands over its outcome and waits until it is committed
// (before it sends again, so at most one uncommitted send per worker: the
// crash bound), while the outcomes that arrive during one commit go
// together into the next.
type recorder struct {
	m      *Mailer
	ledger store.Ledger
	reqs   chan recordReq
	done   chan struct{}
}

type recordReq struct {
	o    store.Outcome
	errc chan error
}

// maxGroup bounds the outcomes committed together.
const maxGroup = 256

func (m *Mailer) newRecorder(ctx context.Context) (*recorder, error) {
	l, err := m.db.Ledger(ctx, m.lease.Owner)
	if err != nil {
		return nil, err
	}
	r := &recorder{m: m, ledger: l, reqs: make(chan recordReq, maxGroup), done: make(chan struct{})}
	go r.loop()
	return r, nil
}

// record commits o and returns when it is durable in the ledger.
func (r *recorder) record(o store.Outcome) error {
	errc := make(chan error, 1)
	r.reqs <- recordReq{o: o, errc: errc}
	return <-errc
}

// close stops the recorder after the outcomes handed over are committed.
func (r *recorder) close() {
	close(r.reqs)
	<-r.done
	if err := r.ledger.Close(); err != nil {
		r.m.log.Warn("closing the ledger", "err", err)
	}
}

func (r *recorder) loop() {
	defer close(r.done)
	group := make([]recordReq, 0, maxGroup)
	outs := make([]store.Outcome, 0, maxGroup)
	for req := range r.reqs {
		group = append(group[:0], req)
	more:
		for len(group) < maxGroup {
			select {
			case q, ok := <-r.reqs:
				if !ok {
					break more
				}
				group = append(group, q)
			default:
				break more
			}
		}
		outs = outs[:0]
		for _, q := range group {
			outs = append(outs, q.o)
		}
		r.m.dbmu.Lock()
		// Not the caller's context: an outcome must be recorded even
		// during shutdown.
		_, err := r.ledger.RecordOutcomes(context.Background(), r.m.now(), outs)
		r.m.dbmu.Unlock()
		for _, q := range group {
			q.errc <- err
		}
	}
}

// defaultBackoff is the delay before retry number attempt: 1m, 2m, 4m, …
// capped at 1h, plus up to 25% jitter so that a list deferred together does
// not come back all at once.
func defaultBackoff(attempt int) time.Duration {
	d := time.Minute << min(max(attempt-1, 0), 6)
	d = min(d, time.Hour)
	return d + rand.N(d/4+1)
}
