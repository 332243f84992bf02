package schedule

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A paused mail worker is shown by /healthz (503 after
// schedule.mail_grace), /metrics and `herald status`.
func TestMailPauseIsReported(t *testing.T) {
	e := newEnv(t, "UTC")
	e.writePost("2024-05-01-a.md", "A", "2024-05-01 10:00:00")
	d, scans := e.daemon()
	go d.Scan(context.Background())
	if s := waitScan(t, scans); s.err != nil {
		t.Fatal(s.err)
	}
	var pause *MailPause
	d.opts.MailPaused = func() (MailPause, bool) {
		if pause == nil {
			return MailPause{}, false
		}
		return *pause, true
	}
	d.opts.Schedule.MailGrace.Duration = 5 * time.Minute
	if h := d.Health(context.Background()); h.Status != "ok" || h.MailPaused != "" {
		t.Fatalf("sending: status %q, mail_paused %q", h.Status, h.MailPaused)
	}
	now := e.clock.Now()
	pause = &MailPause{Since: now, Reason: "dial tcp 127.0.0.1:25: connection refused", Next: now.Add(2 * time.Minute)}
	if h := d.Health(context.Background()); h.Status != "ok" ||
		h.MailPaused != "mail paused since 2024-06-01 12:00:00 UTC (0s): dial tcp 127.0.0.1:25: connection refused, next try at 2024-06-01 12:02:00 UTC" {
		t.Errorf("paused within the grace: status %q, mail_paused %q", h.Status, h.MailPaused)
	}
	e.clock.Advance(6 * time.Minute)
	rec := httptest.NewRecorder()
	d.HealthHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"status": "mail_paused"`) ||
		!strings.Contains(rec.Body.String(), "mail paused since 2024-06-01 12:00:00 UTC (6m)") {
		t.Errorf("/healthz after 6 min: %d\n%s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	d.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "\nherald_mail_paused 1\n") || !strings.Contains(rec.Body.String(), "\nherald_mail_paused_seconds 360\n") {
		t.Errorf("/metrics lacks the pause:\n%s", rec.Body)
	}

	// `herald status`, in another process, reads what the mailer wrote.
	b, _ := json.Marshal(pause)
	if err := e.store.SetMeta(context.Background(), MetaMailPaused, string(b)); err != nil {
		t.Fatal(err)
	}
	r, err := Status(context.Background(), StatusOptions{Site: e.site, Schedule: Config{Cron: e.cron}, Loader: e.loader, Store: e.store.DB, Clock: e.clock})
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	r.WriteText(&out)
	if !strings.Contains(out.String(), "Mail paused since 2024-06-01 12:00:00 UTC (6m): dial tcp 127.0.0.1:25: connection refused, next try at 2024-06-01 12:02:00 UTC\n") {
		t.Errorf("status does not show the pause:\n%s", out.String())
	}

	pause = nil
	if h := d.Health(context.Background()); h.Status != "ok" || h.MailPaused != "" {
		t.Errorf("resumed: status %q, mail_paused %q", h.Status, h.MailPaused)
	}
}
