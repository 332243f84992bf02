package schedule

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"time"
)

// Run scans at once, then runs the loop until ctx is cancelled. Then it lets
// the scan in flight finish (bounded by Options.ShutdownGrace), waits for the
// WebSub pings within the same bound, sends STOPPING=1 and returns nil. A
// failed scan is logged and reported by Health; it does not stop Run. Run
// may be called once.
func (d *Daemon) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("schedule: Run called twice")
	}
	var w *watcher
	if d.opts.PostsDir != "" {
		var err error
		if w, err = newWatcher(d.opts.PostsDir, d.log); err != nil {
			d.log.Warn("file watch unavailable; relying on the cron schedule", "err", err)
			w = nil
		} else {
			defer w.close()
		}
	}
	var events <-chan struct{}
	if w != nil {
		events = w.events
	}

	// The first scan, at once; the schedule starts when it is done.
	res, err := d.runScan(ctx)
	if w != nil {
		w.ensure()
	}
	now := d.clock.Now()
	cronNext := d.NextRun(now)
	d.setNextRun(cronNext)
	d.notify("READY=1\n" + statusLine(res, err))
	d.log.Info("daemon running", "cron", d.cron.text, "next_run", cronNext.Format(time.RFC3339))

	var digestNext time.Time
	if d.digest != nil {
		digestNext = d.digest.next(now.In(d.loc))
	}
	if d.watchdog > 0 {
		wdCtx, stop := context.WithCancel(ctx)
		defer stop()
		go d.watchdogLoop(wdCtx)
	}

	timer := d.clock.NewTimer(maxSleep)
	defer timer.Stop()
	var debounceAt, firstEvent time.Time
	for {
		now = d.clock.Now()
		deadline := cronNext
		for _, t := range []time.Time{d.nextPostDue(), debounceAt, digestNext} {
			if !t.IsZero() && t.Before(deadline) {
				deadline = t
			}
		}
		wait := min(deadline.Sub(now), maxSleep)
		timer.Reset(wait)
		d.mu.Lock()
		d.waitingUntil = now.Add(wait)
		d.mu.Unlock()

		woken := false
		select {
		case <-ctx.Done():
			d.shutdown()
			return nil
		case <-d.wake:
			woken = true
		case <-events:
			now = d.clock.Now()
			if debounceAt.IsZero() {
				firstEvent = now
			}
			debounceAt = now.Add(d.debounce)
			if limit := firstEvent.Add(maxDebounce); debounceAt.After(limit) {
				debounceAt = limit
			}
		case <-timer.C():
		}
		d.mu.Lock()
		d.waitingUntil = time.Time{}
		d.mu.Unlock()

		now = d.clock.Now()
		scan := woken
		if !now.Before(cronNext) {
			scan = true
			cronNext = d.NextRun(now)
			d.setNextRun(cronNext)
		}
		if due := d.nextPostDue(); !due.IsZero() && !now.Before(due) {
			scan = true
		}
		if !debounceAt.IsZero() && !now.Before(debounceAt) {
			scan = true
		}
		if scan {
			debounceAt = time.Time{} // the scan covers every event so far
			res, err := d.runScan(ctx)
			d.notify(statusLine(res, err))
			if w != nil {
				w.ensure()
			}
		}
		if !digestNext.IsZero() && !now.Before(digestNext) {
			d.runDigest(ctx, now)
			digestNext = d.digest.next(d.clock.Now().In(d.loc))
		}
	}
}

// shutdown is Run's exit: STOPPING=1, then the WebSub pings get the grace
// period.
func (d *Daemon) shutdown() {
	d.notify("STOPPING=1")
	ctx, cancel := context.WithTimeout(context.Background(), d.grace)
	defer cancel()
	if err := d.Flush(ctx); err != nil {
		d.log.Warn("WebSub pings cancelled at shutdown", "err", err)
	}
}

// Flush waits for the WebSub pings started by earlier scans. When ctx ends
// first it cancels them and returns ctx's error. `herald build` calls it
// before exiting.
func (d *Daemon) Flush(ctx context.Context) error {
	done := make(chan struct{})
	go func() { d.pings.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		d.bgCancel()
		<-done
		return fmt.Errorf("schedule: flush: %w", ctx.Err())
	}
}

// runScan runs one scan for the loop. The scan does not see ctx's
// cancellation at once: a shutdown lets it finish, cancelling it only after
// the grace period.
func (d *Daemon) runScan(ctx context.Context) (ScanResult, error) {
	scanCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(d.grace, cancel)
		context.AfterFunc(scanCtx, func() { t.Stop() })
	})
	defer stop()
	return d.Scan(scanCtx)
}

// runDigest calls the newsletter's Digest, logging its error.
func (d *Daemon) runDigest(ctx context.Context, now time.Time) {
	if d.opts.Newsletter == nil {
		return
	}
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(d.grace, cancel) })
	defer stop()
	func() {
		defer func() {
			if r := recover(); r != nil {
				d.log.Error("digest panicked", "panic", r, "stack", string(debug.Stack()))
			}
		}()
		if err := d.opts.Newsletter.Digest(dctx, now); err != nil {
			d.log.Error("digest failed", "err", err)
		}
	}()
}

// setNextRun records the next cron tick for Health.
func (d *Daemon) setNextRun(t time.Time) {
	d.mu.Lock()
	d.st.nextRun = t
	d.mu.Unlock()
}

// nextPostDue is the exact timer's deadline: the date of the next
// future-dated post of the last successful scan, zero for none.
func (d *Daemon) nextPostDue() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.st.nextPostDue
}
