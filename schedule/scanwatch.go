package schedule

import (
	"context"
	"fmt"
	"time"
)

// DefaultScanGrace is the default schedule.scan_grace.
const DefaultScanGrace = 5 * time.Minute

// MetaScanRunningSince is the meta key, for `herald status` in another
// process, holding when the scan in progress started (RFC 3339, UTC) once
// it has run for longScan; "" when no scan has run that long.
const MetaScanRunningSince = "scan_running_since"

// longScan is how long a scan runs before it is written to the database
// for `herald status`: shorter scans cost no write.
const longScan = 10 * time.Second

// ScanRunning returns when the scan in progress started; ok is false when
// no scan runs.
func (d *Daemon) ScanRunning() (since time.Time, ok bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.scanningFrom, !d.scanningFrom.IsZero()
}

// scanStuck reports whether the scan in progress at now has run longer
// than schedule.scan_grace; d.mu is held.
func (d *Daemon) scanStuck(now time.Time) bool {
	return !d.scanningFrom.IsZero() && now.Sub(d.scanningFrom) > d.scanGrace
}

// watchScan records the scan that started at from in the database once it
// has run for longScan. The returned function, called when the scan ends,
// stops the watch and clears the record if it was written.
func (d *Daemon) watchScan(ctx context.Context, from time.Time) (stop func()) {
	ctx = context.WithoutCancel(ctx)
	done := make(chan struct{})
	wrote := make(chan bool, 1)
	t := d.clock.NewTimer(longScan)
	go func() {
		defer t.Stop()
		select {
		case <-done:
			wrote <- false
		case <-t.C():
			err := d.opts.Store.SetMeta(ctx, MetaScanRunningSince, from.UTC().Format(time.RFC3339))
			if err != nil {
				d.log.Warn("saving scan status failed", "err", err)
			}
			d.log.Warn("scan still running", "since", from.Format(time.RFC3339))
			wrote <- err == nil
		}
	}()
	return func() {
		close(done)
		if <-wrote {
			if err := d.opts.Store.SetMeta(ctx, MetaScanRunningSince, ""); err != nil {
				d.log.Warn("saving scan status failed", "err", err)
			}
		}
	}
}

// scanRunningText is "scan running for 3m".
func scanRunningText(now, since time.Time) string {
	return fmt.Sprintf("scan running for %s", roundDuration(now.Sub(since)))
}
