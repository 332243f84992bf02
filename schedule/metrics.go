package schedule

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// histogram is a Prometheus histogram of scan durations in seconds.
type histogram struct {
	bounds []float64
	counts []uint64 // per bound, not cumulative
	sum    float64
	count  uint64
}

func newHistogram() histogram {
	b := []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}
	return histogram{bounds: b, counts: make([]uint64, len(b))}
}

func (h *histogram) observe(v float64) {
	h.sum += v
	h.count++
	for i, b := range h.bounds {
		if v <= b {
			h.counts[i]++
			return
		}
	}
}

// MetricsHandler serves the daemon's metrics in the Prometheus text format
// 0.0.4, written by hand. Each extra function appends its own metric
// families (HELP and TYPE lines included), e.g. the mailer's counters.
func (d *Daemon) MetricsHandler(extra ...func(w io.Writer)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		bw := bufio.NewWriter(w)
		d.WriteMetrics(bw)
		for _, f := range extra {
			f(bw)
		}
		bw.Flush()
	})
}

// WriteMetrics writes the daemon's metric families to w.
func (d *Daemon) WriteMetrics(w io.Writer) {
	d.mu.Lock()
	scans, failures, announced := d.scans, d.failures, d.announced
	pings, pingFailures := d.hubPings, d.hubFailures
	st := d.st
	var running float64
	if !d.scanningFrom.IsZero() {
		running = d.clock.Now().Sub(d.scanningFrom).Seconds()
	}
	hist := histogram{bounds: d.durations.bounds, counts: append([]uint64(nil), d.durations.counts...),
		sum: d.durations.sum, count: d.durations.count}
	files := make([]string, 0, len(d.feedBytes))
	for name := range d.feedBytes {
		files = append(files, name)
	}
	sort.Strings(files)
	sizes := make([]int, len(files))
	for i, name := range files {
		sizes[i] = d.feedBytes[name]
	}
	d.mu.Unlock()

	family(w, "herald_scans_total", "counter", "Scans of the posts folder.")
	fmt.Fprintf(w, "herald_scans_total %d\n", scans)
	family(w, "herald_scan_failures_total", "counter", "Scans that failed (folder unreadable, database or feed write errors).")
	fmt.Fprintf(w, "herald_scan_failures_total %d\n", failures)

	family(w, "herald_scan_duration_seconds", "histogram", "Duration of scans.")
	var cum uint64
	for i, b := range hist.bounds {
		cum += hist.counts[i]
		fmt.Fprintf(w, "herald_scan_duration_seconds_bucket{le=%q} %d\n", formatFloat(b), cum)
	}
	fmt.Fprintf(w, "herald_scan_duration_seconds_bucket{le=\"+Inf\"} %d\n", hist.count)
	fmt.Fprintf(w, "herald_scan_duration_seconds_sum %s\n", formatFloat(hist.sum))
	fmt.Fprintf(w, "herald_scan_duration_seconds_count %d\n", hist.count)

	family(w, "herald_scan_running_seconds", "gauge", "How long the scan in progress has been running; 0 when none runs.")
	fmt.Fprintf(w, "herald_scan_running_seconds %s\n", formatFloat(running))
	mp, paused, _ := d.mailPause(d.clock.Now())
	var pausedFor float64
	if paused {
		pausedFor = d.clock.Now().Sub(mp.Since).Seconds()
	}
	family(w, "herald_mail_paused", "gauge", "1 while the mail worker is paused (server unreachable, ledger unwritable), else 0.")
	fmt.Fprintf(w, "herald_mail_paused %d\n", b2i(paused))
	family(w, "herald_mail_paused_seconds", "gauge", "How long the mail worker has been paused; 0 while it sends.")
	fmt.Fprintf(w, "herald_mail_paused_seconds %s\n", formatFloat(pausedFor))
	family(w, "herald_last_scan_success", "gauge", "1 when the last scan succeeded, else 0.")
	fmt.Fprintf(w, "herald_last_scan_success %d\n", b2i(st.lastOK))
	family(w, "herald_last_scan_timestamp_seconds", "gauge", "Unix time of the last scan.")
	fmt.Fprintf(w, "herald_last_scan_timestamp_seconds %s\n", unixSeconds(st))
	family(w, "herald_posts_published", "gauge", "Posts due (published, date passed) at the last successful scan.")
	fmt.Fprintf(w, "herald_posts_published %d\n", st.postsPublished)
	family(w, "herald_next_post_due_timestamp_seconds", "gauge", "Unix time of the next future-dated post, 0 when none.")
	next := int64(0)
	if !st.nextPostDue.IsZero() {
		next = st.nextPostDue.Unix()
	}
	fmt.Fprintf(w, "herald_next_post_due_timestamp_seconds %d\n", next)
	family(w, "herald_announcements_total", "counter", "Posts announced (newly due) by this process.")
	fmt.Fprintf(w, "herald_announcements_total %d\n", announced)

	family(w, "herald_feed_bytes", "gauge", "Size of each generated feed file.")
	for i, name := range files {
		fmt.Fprintf(w, "herald_feed_bytes{file=\"%s\"} %d\n", escapeLabel(name), sizes[i])
	}
	family(w, "herald_websub_pings_total", "counter", "Publish requests sent to the WebSub hub.")
	fmt.Fprintf(w, "herald_websub_pings_total %d\n", pings)
	family(w, "herald_websub_failures_total", "counter", "Publish requests the WebSub hub did not accept.")
	fmt.Fprintf(w, "herald_websub_failures_total %d\n", pingFailures)
}

func family(w io.Writer, name, typ, help string) {
	fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func unixSeconds(st status) string {
	if st.lastScan.IsZero() {
		return "0"
	}
	return formatFloat(float64(st.lastScan.UnixNano()) / 1e9)
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

// escapeLabel escapes a label value for the text format.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}
