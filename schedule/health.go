package schedule

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Health is the daemon's state as /healthz reports it.
type Health struct {
	Status         string    `json:"status"` // "ok", "failing", "stuck" (a scan runs longer than schedule.scan_grace), or "starting" before the first scan
	LastScan       time.Time `json:"last_scan,omitzero"`
	LastScanOK     bool      `json:"last_scan_ok"`
	LastError      string    `json:"last_error,omitempty"`
	NextRun        time.Time `json:"next_run,omitzero"`
	NextPostDue    time.Time `json:"next_post_due,omitzero"`
	PostsPublished int       `json:"posts_published"`
	DatabaseOK     bool      `json:"database_ok"`
	DatabaseError  string    `json:"database_error,omitempty"`
	// ScanRunningSince is when the scan in progress started (zero: none
	// runs); ScanRunning says so for people: "scan running for 3m".
	ScanRunningSince time.Time `json:"scan_running_since,omitzero"`
	ScanRunning      string    `json:"scan_running,omitempty"`
	// MailPausedSince is when the mail worker paused (zero: it sends);
	// MailPaused says so for people: "mail paused since …: reason, next
	// try at …". Past schedule.mail_grace the status is "mail_paused".
	MailPausedSince time.Time `json:"mail_paused_since,omitzero"`
	MailPaused      string    `json:"mail_paused,omitempty"`
}

// OK reports whether the daemon is healthy: the last scan succeeded, the
// database answers, no scan runs longer than schedule.scan_grace and the
// mail worker has not been paused longer than schedule.mail_grace.
func (h Health) OK() bool { return h.Status == "ok" }

// Health returns the daemon's health; it pings the database.
func (d *Daemon) Health(ctx context.Context) Health {
	now := d.clock.Now()
	d.mu.Lock()
	st := d.st
	running, stuck := d.scanningFrom, d.scanStuck(now)
	d.mu.Unlock()
	h := Health{
		LastScan:       st.lastScan,
		LastScanOK:     st.lastOK,
		LastError:      st.lastErr,
		NextRun:        st.nextRun,
		NextPostDue:    st.nextPostDue,
		PostsPublished: st.postsPublished,
		DatabaseOK:     true,
	}
	if h.NextRun.IsZero() {
		h.NextRun = d.NextRun(d.clock.Now())
	}
	if err := d.opts.Store.Ping(ctx); err != nil {
		h.DatabaseOK = false
		h.DatabaseError = err.Error()
	}
	if !running.IsZero() {
		h.ScanRunningSince, h.ScanRunning = running, scanRunningText(now, running)
	}
	mp, paused, overdue := d.mailPause(now)
	if paused {
		h.MailPausedSince, h.MailPaused = mp.Since, mailPausedText(now, mp, d.loc)
	}
	switch {
	case stuck:
		h.Status = "stuck"
	case overdue:
		h.Status = "mail_paused"
	case !st.scanned:
		h.Status = "starting"
	case st.lastOK && h.DatabaseOK:
		h.Status = "ok"
	default:
		h.Status = "failing"
	}
	return h
}

// HealthHandler serves Health as JSON: 200 when healthy, 503 when the last
// scan failed, the database does not answer, a scan runs longer than
// schedule.scan_grace, the mail worker has been paused longer than
// schedule.mail_grace, or no scan finished yet.
func (d *Daemon) HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		defer cancel()
		h := d.Health(ctx)
		body, err := json.MarshalIndent(h, "", "  ")
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if !h.OK() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		if r.Method == http.MethodGet {
			w.Write(append(body, '\n'))
		}
	})
}
