package mailer

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// Pause is why the delivery worker is not sending, for /healthz, `herald
// status` and /metrics: the mail server cannot be reached (connection, TLS
// or AUTH refused), or the ledger cannot be written.
type Pause struct {
	Since  time.Time `json:"since"`  // when the worker paused
	Reason string    `json:"reason"` // the last error
	Next   time.Time `json:"next"`   // the latest time of the next try; probes may resume it earlier
}

// MetaMailPaused is the meta key holding the worker's Pause as JSON while
// it is paused ("" when it sends), for `herald status` in another process.
// Written on a best-effort basis: a ledger that cannot be written cannot
// hold it either.
const MetaMailPaused = "mail_paused"

// Paused returns the worker's pause, or false while it sends normally.
func (m *Mailer) Paused() (Pause, bool) {
	if p := m.pause.Load(); p != nil {
		return *p, true
	}
	return Pause{}, false
}

// setPause records that the worker pauses for d because of err.
func (m *Mailer) setPause(ctx context.Context, err error, d time.Duration) {
	now := m.now()
	p := Pause{Since: now, Reason: err.Error(), Next: now.Add(d)}
	if old := m.pause.Load(); old != nil {
		p.Since = old.Since
	}
	m.pause.Store(&p)
	if b, err := json.Marshal(p); err == nil {
		m.dbmu.Lock()
		_ = m.db.SetMeta(ctx, MetaMailPaused, string(b))
		m.dbmu.Unlock()
	}
}

// clearPause records that the worker sends again.
func (m *Mailer) clearPause(ctx context.Context) {
	p := m.pause.Swap(nil)
	if p == nil {
		return
	}
	m.log.Info("mail resumed", "paused_for", m.now().Sub(p.Since).Round(time.Second).String())
	m.dbmu.Lock()
	_ = m.db.SetMeta(ctx, MetaMailPaused, "")
	m.dbmu.Unlock()
}

// probe says whether the worker can resume after t stopped the pass: the
// ledger takes a write (the held outcomes, or the pause record), and the
// mail server accepts a connection (dial, TLS, AUTH).
func (m *Mailer) probe(ctx context.Context, t *tally) error {
	if t.ledgerErr() != nil || m.heldOutcomes() > 0 {
		if err := m.flushHeld(ctx); err != nil {
			return err
		}
		p, _ := m.Paused()
		p.Reason = "probing"
		b, _ := json.Marshal(p)
		m.dbmu.Lock()
		err := m.db.SetMeta(ctx, MetaMailPaused, string(b))
		m.dbmu.Unlock()
		if err != nil {
			return err
		}
	}
	if t.unreachableErr() != nil {
		c, err := m.transport.Open(ctx)
		if err != nil {
			return err
		}
		_ = c.Close()
	}
	return nil
}

// sleepPaused waits up to d while paused, probing every m.probeEvery; it
// returns early when a probe succeeds, on Wake, or when ctx is canceled.
func (m *Mailer) sleepPaused(ctx context.Context, d time.Duration, t *tally) {
	deadline := m.now().Add(d)
	for {
		step := min(m.probeEvery, deadline.Sub(m.now()))
		if step <= 0 {
			return
		}
		timer := m.clock.NewTimer(step)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-m.wake:
			timer.Stop()
			return
		case <-timer.C():
		}
		if !m.now().Before(deadline) {
			return
		}
		err := m.probe(ctx, t)
		if err == nil {
			m.log.Info("mail: probe succeeded, resuming")
			return
		}
		if !errors.Is(err, context.Canceled) {
			m.log.Debug("mail: probe failed, still paused", "err", err)
		}
	}
}
