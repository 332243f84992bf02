package mailer

import (
	"context"
	"log/slog"
	"time"

	"herald/schedule/store"
)

// postWait is the backoff of a mailing waiting for a post that cannot be
// read (errUnreadable).
type postWait struct {
	next  time.Time
	tries int
}

// waitDelay is the delay before the next look at a mailing whose post
// could not be read tries times: unreadableRetry (2s), doubling, up to 150×
// (5 minutes).
func (m *Mailer) waitDelay(tries int) time.Duration {
	base := m.unreadableRetry
	if base <= 0 {
		base = 2 * time.Second
	}
	d := base
	for range max(tries-1, 0) {
		if d *= 2; d >= 150*base {
			return 150 * base
		}
	}
	return d
}

// nextWait is when the first mailing waiting for a post is due for its
// next look; ok false when none waits.
func (m *Mailer) nextWait() (next time.Time, ok bool) {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	for _, w := range m.waits {
		if !ok || w.next.Before(next) {
			next, ok = w.next, true
		}
	}
	return next, ok
}

// waitDue reports whether mailing id may be tried now (it is not waiting
// for a post, or its backoff has passed).
func (m *Mailer) waitDue(id int64) bool {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	w, ok := m.waits[id]
	return !ok || !m.now().Before(w.next)
}

// waitMore records one more failed look at mailing id's posts and returns
// the delay before the next.
func (m *Mailer) waitMore(id int64) time.Duration {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	if m.waits == nil {
		m.waits = map[int64]postWait{}
	}
	w := m.waits[id]
	w.tries++
	d := m.waitDelay(w.tries)
	w.next = m.now().Add(d)
	m.waits[id] = w
	return d
}

// waitDone forgets mailing id's backoff.
func (m *Mailer) waitDone(id int64) {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	delete(m.waits, id)
}

// noteWait records in the database why mailing id waits and when it is
// looked at next, so that `herald status` and `herald send` (other
// processes) can say so.
func (m *Mailer) noteWait(ctx context.Context, id int64, u *errUnreadable, next time.Time) {
	m.dbmu.Lock()
	err := m.db.SetMailingWait(context.WithoutCancel(ctx), id, u.Error(), next)
	m.dbmu.Unlock()
	if err != nil {
		m.log.Error("mail: recording that a mailing waits for its post", "mailing", id, "err", err)
	}
}

// recordWaiting puts delivery d off because its mailing's post cannot be
// read now: it goes back to retry after a delay, without counting an
// attempt (it was not tried), and is never failed for that (after
// mail.retry_for the mailing is skipped instead, errSkip).
func (m *Mailer) recordWaiting(ctx context.Context, log *slog.Logger, rec *recorder, d store.Delivery, u *errUnreadable, t *tally) {
	m.waitMu.Lock()
	w, ok := m.waits[d.MailingID]
	m.waitMu.Unlock()
	next := w.next
	if !ok || !next.After(m.now()) { // one more look per backoff, not per delivery
		next = m.now().Add(m.waitMore(d.MailingID))
		m.noteWait(ctx, d.MailingID, u, next)
	}
	text := "waiting: " + u.Error()
	m.record(rec, store.Outcome{ID: d.ID, State: store.DeliveryRetry, Next: next, Text: text, NotTried: true}, t)
	t.retried.Add(1)
	m.noted(t, d, store.DeliveryRetry)
	log.Warn("not sent: the mailing's post cannot be read now; will try again", "post", u.post, "err", u.err, "next", next)
}
