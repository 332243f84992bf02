package schedule

import (
	"context"
	"strconv"
	"time"
)

// finishScan updates the status, metrics and meta after a scan.
func (d *Daemon) finishScan(ctx context.Context, res *ScanResult, err error) {
	now := d.clock.Now()
	d.mu.Lock()
	d.scanningFrom = time.Time{}
	d.scans++
	d.durations.observe(res.Duration.Seconds())
	d.st.scanned = true
	d.st.lastScan = now
	if err != nil {
		d.failures++
		d.st.lastOK = false
		d.st.lastErr = err.Error()
		if d.st.failingSince.IsZero() {
			d.st.failingSince = now
		}
	} else {
		d.st.lastOK = true
		d.st.lastErr = ""
		d.st.failingSince = time.Time{}
	}
	if res.snapshot {
		d.st.nextPostDue = res.NextPostDue
		d.st.postsPublished = res.Published
	} else {
		// Without a snapshot, the cron tick drives the next scan.
		d.st.nextPostDue = time.Time{}
	}
	d.announced += uint64(len(res.Announced))
	if res.Generated {
		clear(d.feedBytes)
		for _, f := range res.feeds {
			d.feedBytes[f.Name] = len(f.Data)
		}
	}
	st := d.st
	d.mu.Unlock()

	if err != nil {
		d.log.Error("scan failed", "err", err)
	} else {
		d.log.Debug("scan done", "posts", res.Posts, "published", res.Published, "recorded", res.Recorded,
			"announced", len(res.Announced), "generated", res.Generated, "took", res.Duration)
	}
	d.writeMeta(ctx, st, now)
}

// writeMeta persists the scan status for `herald status`: each key only
// when its value changed, last_scan_at also at least every metaHeartbeat.
func (d *Daemon) writeMeta(ctx context.Context, st status, now time.Time) {
	if ctx.Err() != nil {
		ctx = context.WithoutCancel(ctx)
	}
	vals := []struct{ k, v string }{
		{MetaLastScanOK, strconv.FormatBool(st.lastOK)},
		{MetaLastScanError, st.lastErr},
		{MetaPostsPublished, strconv.Itoa(st.postsPublished)},
	}
	changed := false
	for _, kv := range vals {
		if old, ok := d.metaSent[kv.k]; ok && old == kv.v {
			continue
		}
		changed = true
		if err := d.opts.Store.SetMeta(ctx, kv.k, kv.v); err != nil {
			d.log.Warn("saving scan status failed", "err", err)
			delete(d.metaSent, kv.k)
			return
		}
		d.metaSent[kv.k] = kv.v
	}
	if changed || d.metaAt.IsZero() || now.Sub(d.metaAt) >= metaHeartbeat || now.Before(d.metaAt) {
		if err := d.opts.Store.SetMeta(ctx, MetaLastScanAt, now.UTC().Format(time.RFC3339)); err != nil {
			d.log.Warn("saving scan status failed", "err", err)
			return
		}
		d.metaAt = now
	}
}
