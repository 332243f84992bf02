package schedule

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// notify sends an sd_notify state when Options.Notify is set.
func (d *Daemon) notify(s string) {
	if d.opts.Notify != nil {
		d.opts.Notify(s)
	}
}

// statusLine is the STATUS= line after a scan.
func statusLine(res ScanResult, err error) string {
	if err != nil {
		return "STATUS=scan failed: " + oneLine(err.Error())
	}
	s := fmt.Sprintf("STATUS=%d posts published", res.Published)
	if !res.NextPostDue.IsZero() {
		s += "; next post due " + res.NextPostDue.Format(time.RFC3339)
	}
	return s
}

// oneLine keeps the first line of s (sd_notify states are newline-separated).
func oneLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// watchdogLoop sends WATCHDOG=1 every half watchdog interval while the
// daemon is healthy: no scan running for longer than schedule.scan_grace and scans not
// failing for longer than failingTooLong.
func (d *Daemon) watchdogLoop(ctx context.Context) {
	every := d.watchdog / 2
	t := d.clock.NewTimer(every)
	defer t.Stop()
	for {
		if d.watchdogHealthy(d.clock.Now()) {
			d.notify("WATCHDOG=1")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C():
			t.Reset(every)
		}
	}
}

// watchdogHealthy reports whether a watchdog ping is due at now.
func (d *Daemon) watchdogHealthy(now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.scanStuck(now) {
		return false
	}
	if !d.st.failingSince.IsZero() && now.Sub(d.st.failingSince) > failingTooLong {
		return false
	}
	return true
}
