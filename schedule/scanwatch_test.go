package schedule

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"herald/feed"
	"herald/schedule/store"
)

// A scan that hangs is shown by /healthz (503 after schedule.scan_grace),
// /metrics, `herald status` and the watchdog; once it ends, all is well.
func TestHungScanIsReported(t *testing.T) {
	e := newEnv(t, "UTC")
	e.writePost("2024-05-01-a.md", "A", "2024-05-01 10:00:00")
	e.store.hold = make(chan struct{})
	d, scans := e.daemon()
	d.scanGrace = 2 * time.Minute
	go d.Scan(context.Background())

	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, ok := d.ScanRunning(); ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the scan did not start")
		}
		time.Sleep(time.Millisecond) // waiting for the goroutine, not a schedule
	}
	if h := d.Health(context.Background()); h.Status == "stuck" || !strings.HasPrefix(h.ScanRunning, "scan running for ") {
		t.Errorf("at once: status %q, scan_running %q", h.Status, h.ScanRunning)
	}

	e.clock.Advance(3 * time.Minute)
	rec := httptest.NewRecorder()
	d.HealthHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), `"scan_running": "scan running for 3m"`) ||
		!strings.Contains(rec.Body.String(), `"status": "stuck"`) {
		t.Errorf("/healthz after 3 min: %d\n%s", rec.Code, rec.Body)
	}
	rec = httptest.NewRecorder()
	d.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if !strings.Contains(rec.Body.String(), "\nherald_scan_running_seconds 180\n") {
		t.Errorf("/metrics lacks the running scan:\n%s", rec.Body)
	}
	if d.watchdogHealthy(e.clock.Now()) {
		t.Error("the watchdog is still fed during a stuck scan")
	}

	// `herald status`, in another process, reads what the daemon wrote.
	status := func() string {
		r, err := Status(context.Background(), StatusOptions{Site: e.site, Schedule: Config{Cron: e.cron}, Loader: e.loader, Store: e.store.DB, Clock: e.clock})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		r.WriteText(&b)
		return b.String()
	}
	for !strings.Contains(status(), "Scan running for 3m (since 2024-06-01 12:00 UTC)") {
		if time.Now().After(deadline) {
			t.Fatalf("status does not show the running scan:\n%s", status())
		}
		time.Sleep(time.Millisecond) // the meta is written by a goroutine
	}

	close(e.store.hold)
	if s := waitScan(t, scans); s.err != nil {
		t.Fatal(s.err)
	}
	if h := d.Health(context.Background()); h.Status != "ok" || h.ScanRunning != "" {
		t.Errorf("after the scan: status %q, scan_running %q", h.Status, h.ScanRunning)
	}
	if s := status(); strings.Contains(s, "Scan running") {
		t.Errorf("status still shows a running scan:\n%s", s)
	}
}

// A running-scan record that the daemon could not clear (a failed write, a
// kill) is not shown once a later scan has finished.
func TestStatusIgnoresStaleScanRecord(t *testing.T) {
	e := newEnv(t, "UTC")
	e.writePost("2024-05-01-a.md", "A", "2024-05-01 10:00:00")
	ctx := context.Background()
	since := e.clock.Now().Add(-time.Hour)
	if err := e.store.SetMeta(ctx, MetaScanRunningSince, since.UTC().Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	status := func() string {
		r, err := Status(ctx, StatusOptions{Site: e.site, Schedule: Config{Cron: e.cron}, Loader: e.loader, Store: e.store.DB, Clock: e.clock})
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		r.WriteText(&b)
		return b.String()
	}
	if s := status(); !strings.Contains(s, "Scan running for 1h") {
		t.Fatalf("no scan finished since the record: want it shown, got\n%s", s)
	}
	if err := e.store.SetMeta(ctx, MetaLastScanAt, since.Add(time.Minute).UTC().Format(time.RFC3339)); err != nil {
		t.Fatal(err)
	}
	if s := status(); strings.Contains(s, "Scan running") {
		t.Errorf("a scan finished after the record, yet status shows it running:\n%s", s)
	}
}

// A post slower to render than posts.render_timeout does not hold back the
// others: the scan publishes them, and a later scan takes the slow post in
// once its rendering (which went on) is done.
func TestSlowPostPublishedLater(t *testing.T) {
	e := newEnv(t, "UTC")
	e.writePost("2024-05-01-a.md", "Quick", "2024-05-01 10:00:00")
	var slow strings.Builder
	slow.WriteString("---\ntitle: Slow\ndate: 2024-05-02 10:00:00\n---\n")
	for range 600 { // about a second of goldmark: lists nested 64 deep
		for i := range 64 {
			slow.WriteString(strings.Repeat("  ", i) + "- x\n")
		}
		slow.WriteString("\nend\n\n")
	}
	file := filepath.Join(e.posts, "2024-05-02-slow.md")
	if err := os.WriteFile(file, []byte(slow.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	os.Chtimes(file, old, old)
	e.loader.SetLimits(&feed.PostsConfig{RenderTimeout: feed.Duration{Duration: 100 * time.Millisecond}})
	d, _ := e.daemon()
	// This test scans until the slow post is in, as many times as that
	// takes (hundreds under -race): nobody reads the scan hook's channel,
	// whose buffer would fill and block the scan.
	d.afterScan = nil
	ctx := context.Background()
	feedXML := func() string {
		data, err := os.ReadFile(filepath.Join(e.public, "feed.xml"))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	res, err := d.Scan(ctx)
	if err != nil || !errors.Is(res.RenderError, feed.ErrRenderTimeout) {
		t.Fatalf("first scan: %v, render error %v; want the slow post's timeout", err, res.RenderError)
	}
	if x := feedXML(); !strings.Contains(x, "<title>Quick</title>") || strings.Contains(x, "<title>Slow</title>") {
		t.Fatalf("after the first scan the feed must hold Quick only:\n%.1500s", x)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(feedXML(), "<title>Slow</title>") {
		if time.Now().After(deadline) {
			t.Fatal("the slow post never reached the feeds")
		}
		time.Sleep(50 * time.Millisecond) // the rendering goes on in the background
		if _, err := d.Scan(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A database deleted under the running daemon fails the next scan (and so
// /healthz and the watchdog) with store.ErrGone, instead of the daemon
// announcing into a file nobody else sees.
func TestScanFailsWhenDatabaseDeleted(t *testing.T) {
	e := newEnv(t, "UTC")
	e.writePost("2024-05-01-a.md", "A", "2024-05-01 10:00:00")
	d, _ := e.daemon()
	if _, err := d.Scan(context.Background()); err != nil {
		t.Fatalf("first scan: %v", err)
	}
	if err := os.Remove(e.dbPath); err != nil {
		t.Fatal(err)
	}
	_, err := d.Scan(context.Background())
	if !errors.Is(err, store.ErrGone) {
		t.Fatalf("scan after the database was deleted = %v, want store.ErrGone", err)
	}
	if h := d.Health(context.Background()); h.Status == "ok" {
		t.Errorf("health after the database was deleted: %q, want not ok", h.Status)
	}
}
