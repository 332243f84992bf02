package mailer

import "sync/atomic"

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
