package schedule

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func getHealth(t *testing.T, h http.Handler) (int, Health) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	var got Health
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("health body %q: %v", rec.Body.String(), err)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	return rec.Code, got
}

func TestHealth(t *testing.T) {
	e := newEnv(t, "UTC")
	e.writePost("2024-01-01-a.md", "A", "2024-01-01 10:00:00")
	e.writePost("2024-07-01-b.md", "B", "2024-07-01 10:00:00")
	d, _ := e.daemon()
	h := d.HealthHandler()
	ctx := context.Background()

	if code, got := getHealth(t, h); code != http.StatusServiceUnavailable || got.Status != "starting" {
		t.Errorf("before the first scan: %d %+v, want 503 starting", code, got)
	}
	if _, err := d.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	code, got := getHealth(t, h)
	if code != http.StatusOK || got.Status != "ok" || !got.LastScanOK || !got.DatabaseOK || got.PostsPublished != 1 ||
		!got.NextPostDue.Equal(time.Date(2024, 7, 1, 10, 0, 0, 0, time.UTC)) || !got.LastScan.Equal(t0) || got.NextRun.IsZero() {
		t.Errorf("after a good scan: %d %+v", code, got)
	}

	t.Run("posts folder missing", func(t *testing.T) {
		moved := e.posts + ".away"
		if err := os.Rename(e.posts, moved); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Scan(ctx); err == nil {
			t.Fatal("Scan of a missing folder: no error")
		}
		code, got := getHealth(t, h)
		if code != http.StatusServiceUnavailable || got.Status != "failing" || got.LastScanOK || got.LastError == "" {
			t.Errorf("after a failed scan: %d %+v", code, got)
		}
		if err := os.Rename(moved, e.posts); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Scan(ctx); err != nil {
			t.Fatal(err)
		}
		if code, _ := getHealth(t, h); code != http.StatusOK {
			t.Errorf("after recovery: %d", code)
		}
	})
	t.Run("one bad post is not a failure", func(t *testing.T) {
		bad := filepath.Join(e.posts, "2024-01-02-bad.md")
		if err := os.WriteFile(bad, []byte("---\ntitle: [unclosed\n---\nbody\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := d.Scan(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Problems) == 0 {
			t.Error("no problem reported for the bad post")
		}
		if code, _ := getHealth(t, h); code != http.StatusOK {
			t.Errorf("health %d after a bad post", code)
		}
		os.Remove(bad)
	})
	t.Run("database closed", func(t *testing.T) {
		e.store.DB.Close()
		code, got := getHealth(t, h)
		if code != http.StatusServiceUnavailable || got.DatabaseOK || got.DatabaseError == "" {
			t.Errorf("with the database closed: %d %+v", code, got)
		}
	})
}

func TestMetrics(t *testing.T) {
	e := newEnv(t, "UTC")
	e.writePost("2024-01-01-a.md", "A", "2024-01-01 10:00:00")
	d, _ := e.daemon()
	ctx := context.Background()
	if _, err := d.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	if _, err := d.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(e.posts)
	d.Scan(ctx)

	rec := httptest.NewRecorder()
	d.MetricsHandler(func(w io.Writer) {
		fmt.Fprint(w, "# HELP herald_mail_sent_total Sent.\n# TYPE herald_mail_sent_total counter\nherald_mail_sent_total 7\n")
	}).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	if ct := rec.Header().Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	for _, want := range []string{
		"# TYPE herald_scans_total counter\nherald_scans_total 3\n",
		"herald_scan_failures_total 1\n",
		"# TYPE herald_scan_duration_seconds histogram\n",
		`herald_scan_duration_seconds_bucket{le="+Inf"} 3` + "\n",
		"herald_scan_duration_seconds_count 3\n",
		"herald_posts_published 1\n",
		"herald_announcements_total 1\n",
		`herald_feed_bytes{file="feed.xml"} `,
		`herald_feed_bytes{file="atom.xml"} `,
		`herald_feed_bytes{file="feed.json"} `,
		"herald_last_scan_timestamp_seconds " + strconv.FormatInt(t0.Add(time.Second).Unix(), 10) + "\n",
		"herald_last_scan_success 0\n",
		"herald_mail_sent_total 7\n",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// Every sample line belongs to a family declared with HELP and TYPE.
	declared := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
			declared[strings.Fields(f)[0]] = true
			continue
		}
		if strings.HasPrefix(line, "#") {
			continue
		}
		name := strings.FieldsFunc(line, func(r rune) bool { return r == '{' || r == ' ' })[0]
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(name, "_bucket"), "_sum"), "_count")
		if !declared[name] && !declared[base] {
			t.Errorf("sample %q has no TYPE line", line)
		}
	}
}

// hub is a WebSub hub on httptest that fails the first fails requests.
type hub struct {
	mu    sync.Mutex
	fails int
	got   []url.Values
	codes []int
}

func (h *hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	r.ParseForm()
	h.mu.Lock()
	defer h.mu.Unlock()
	h.got = append(h.got, r.PostForm)
	if h.fails > 0 {
		h.fails--
		h.codes = append(h.codes, 503)
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	h.codes = append(h.codes, 204)
	w.WriteHeader(http.StatusNoContent)
}

func TestWebSub(t *testing.T) {
	e := newEnv(t, "UTC")
	hb := &hub{fails: 2}
	srv := httptest.NewServer(hb)
	defer srv.Close()
	e.feeds.Hub = srv.URL + "/hub"
	e.writePost("2024-01-01-a.md", "A", "2024-01-01 10:00:00")
	d, _ := e.daemon()
	ctx := context.Background()

	if _, err := d.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	flushCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := flushAdvancing(flushCtx, d, e.clock); err != nil {
		t.Fatal(err)
	}
	hb.mu.Lock()
	var okURLs []string
	for i, f := range hb.got {
		if f.Get("hub.mode") != "publish" {
			t.Errorf("request %d: hub.mode %q", i, f.Get("hub.mode"))
		}
		if hb.codes[i] == 204 {
			okURLs = append(okURLs, f.Get("hub.url"))
		}
	}
	n := len(hb.got)
	hb.mu.Unlock()
	want := []string{"https://blog.example.com/atom.xml", "https://blog.example.com/feed.json", "https://blog.example.com/feed.xml"}
	if !equal(okURLs, want) || n != 5 {
		t.Errorf("hub accepted %v after %d requests; want %v after 5 (two 503s first)", okURLs, n, want)
	}

	// An unchanged rescan pings nothing; a change pings again.
	d.Scan(ctx)
	e.writePost("2024-02-01-b.md", "B", "2024-02-01 10:00:00")
	d.Scan(ctx)
	flushAdvancing(flushCtx, d, e.clock)
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if len(hb.got) != n+3 {
		t.Errorf("%d requests after one change, want %d", len(hb.got), n+3)
	}
}

func TestWebSubGivesUp(t *testing.T) {
	e := newEnv(t, "UTC")
	hb := &hub{fails: 100}
	srv := httptest.NewServer(hb)
	defer srv.Close()
	e.feeds.Hub = srv.URL
	e.writePost("2024-01-01-a.md", "A", "2024-01-01 10:00:00")
	d, _ := e.daemon()
	if _, err := d.Scan(context.Background()); err != nil {
		t.Fatalf("a failing hub failed the scan: %v", err)
	}
	flushAdvancing(context.Background(), d, e.clock)
	hb.mu.Lock()
	defer hb.mu.Unlock()
	if len(hb.got) != 3*hubTries {
		t.Errorf("%d requests, want %d (three feeds, %d tries each)", len(hb.got), 3*hubTries, hubTries)
	}
}

func TestSDNotify(t *testing.T) {
	for _, abstract := range []bool{false, true} {
		t.Run(map[bool]string{false: "path", true: "abstract"}[abstract], func(t *testing.T) {
			name := filepath.Join(t.TempDir(), "notify.sock")
			if abstract {
				name = fmt.Sprintf("@herald-test-%d-%d", os.Getpid(), time.Now().UnixNano())
			}
			conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: name, Net: "unixgram"})
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			t.Setenv("NOTIFY_SOCKET", name)
			if err := SDNotify("READY=1\nSTATUS=ok"); err != nil {
				t.Fatal(err)
			}
			buf := make([]byte, 256)
			conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			n, err := conn.Read(buf)
			if err != nil {
				t.Fatal(err)
			}
			if got := string(buf[:n]); got != "READY=1\nSTATUS=ok" {
				t.Errorf("received %q", got)
			}
		})
	}
	t.Run("unset", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "")
		if err := SDNotify("READY=1"); err != nil {
			t.Errorf("without NOTIFY_SOCKET: %v", err)
		}
	})
	t.Run("no listener", func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "none.sock"))
		if err := SDNotify("READY=1"); err == nil || !strings.HasPrefix(err.Error(), "schedule: sd_notify: ") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestWatchdogInterval(t *testing.T) {
	for _, tc := range []struct {
		usec, pid string
		want      time.Duration
	}{
		{"", "", 0},
		{"30000000", "", 30 * time.Second},
		{"30000000", "42", 30 * time.Second},
		{"30000000", "43", 0},
		{"x", "", 0},
		{"-5", "", 0},
	} {
		if got := watchdogInterval(tc.usec, tc.pid, 42); got != tc.want {
			t.Errorf("watchdogInterval(%q, %q) = %v, want %v", tc.usec, tc.pid, got, tc.want)
		}
	}
}

func TestWatchdogPings(t *testing.T) {
	e := newEnv(t, "UTC")
	d, scans := e.daemon()
	d.watchdog = 20 * time.Second
	var mu sync.Mutex
	pings := 0
	d.opts.Notify = func(s string) {
		if s == "WATCHDOG=1" {
			mu.Lock()
			pings++
			mu.Unlock()
		}
	}
	e.run(d)
	waitScan(t, scans)
	count := func() int {
		deadline := time.Now().Add(5 * time.Second)
		for {
			mu.Lock()
			n := pings
			mu.Unlock()
			if n > 0 || time.Now().After(deadline) {
				return n
			}
			time.Sleep(time.Millisecond) // waiting for the goroutine, not a schedule
		}
	}
	if n := count(); n == 0 {
		t.Fatal("no watchdog ping")
	}
	// Failing for longer than failingTooLong stops the pings.
	if !d.watchdogHealthy(e.clock.Now()) {
		t.Error("healthy daemon reported unhealthy")
	}
	d.mu.Lock()
	d.st.failingSince = e.clock.Now().Add(-failingTooLong - time.Second)
	d.mu.Unlock()
	if d.watchdogHealthy(e.clock.Now()) {
		t.Error("failing for too long, still pinging")
	}
}

func TestStatus(t *testing.T) {
	e := newEnv(t, "Europe/Berlin")
	e.writePost("2024-01-01-a.md", "Alpha", "2024-01-01 10:00:00")
	e.writePost("2024-06-01-later.md", "Later", "2024-06-01 17:20:00") // 15:20 UTC: t0 + 3h20m
	e.writePost("2024-03-01-draft.md", "Draft", "2024-03-01 10:00:00", "published: false")
	d, _ := e.daemon()
	if _, err := d.Scan(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.writePost("2024-05-01-missed.md", "Missed", "2024-05-01 10:00:00") // due, not scanned yet

	r, err := Status(context.Background(), StatusOptions{
		Site: e.site, Schedule: Config{Cron: "@every 1m"}, Loader: e.loader, Store: e.store.DB, Clock: newFakeClock(t0),
	})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := r.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Upcoming posts (1):\n  2024-06-01 17:20 CEST  (in 3h20m)  Later  2024-06-01-later.md\n",
		"Due but not yet published (1; is the daemon running?):\n  2024-05-01 10:00 CEST  Missed",
		"Next scan: 2024-06-01 14:01 CEST (in 1m)",
		"Last scan: 2024-06-01 14:00 CEST (0s ago), ok\n",
		"Posts: 2 published, 1 upcoming, 1 drafts, 1 announced\n",
		"Recent announcements:\n",
		"Alpha  2024-01-01-a.md  [not mailed (first run)]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
}

func TestUntil(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{45 * time.Second, "in 45s"},
		{12*time.Minute + 30*time.Second, "in 12m30s"},
		{3*time.Hour + 20*time.Minute, "in 3h20m"},
		{5 * time.Hour, "in 5h"},
		{3*24*time.Hour + 4*time.Hour, "in 3d4h"},
		{-5 * time.Minute, "5m ago"},
	} {
		if got := Until(t0, t0.Add(tc.d)); got != tc.want {
			t.Errorf("Until(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

// TestWatcher uses the real clock (bounded waits): a write, an editor's
// atomic save and a new subfolder each trigger one rescan within 2 s.
func TestWatcher(t *testing.T) {
	e := newEnv(t, "UTC")
	e.watch = true
	e.writePost("2024-01-01-a.md", "A", "2024-01-01 10:00:00")
	d, scans := e.daemonWithClock(SystemClock())
	d.debounce = 200 * time.Millisecond // the default (500 ms) is slower to test, not different
	e.run(d)
	if s := waitScan(t, scans); s.err != nil {
		t.Fatal(s.err)
	}
	// expectOneScan waits for a scan within 2 s whose posts include title,
	// then checks that no second scan follows within the debounce window.
	expectOneScan := func(t *testing.T, what string, posts int) {
		t.Helper()
		start := time.Now()
		select {
		case s := <-scans:
			if s.err != nil {
				t.Fatal(s.err)
			}
			// When the rescan started (its own duration does not count:
			// on a loaded machine a scan alone can take a while).
			if took := time.Since(start) - s.res.Duration; took > 2*time.Second {
				t.Errorf("%s: rescan started after %v, want within 2s", what, took)
			}
			if s.res.Posts != posts {
				t.Errorf("%s: scan saw %d posts, want %d", what, s.res.Posts, posts)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s: no rescan within 10s", what)
		}
		select {
		case s := <-scans:
			t.Errorf("%s: a second rescan (%d posts)", what, s.res.Posts)
		case <-time.After(d.debounce + 300*time.Millisecond):
		}
	}

	t.Run("write", func(t *testing.T) {
		e.writePost("2024-02-01-b.md", "B", "2024-02-01 10:00:00")
		expectOneScan(t, "new file", 2)
	})
	t.Run("atomic save", func(t *testing.T) {
		// As Vim does: a write test file, a swap file, then write a temp
		// file and rename it over the post.
		tmp := filepath.Join(e.posts, ".2024-02-01-b.md.tmp")
		os.WriteFile(filepath.Join(e.posts, "4913"), nil, 0o644)
		os.Remove(filepath.Join(e.posts, "4913"))
		os.WriteFile(filepath.Join(e.posts, ".2024-02-01-b.md.swp"), []byte("x"), 0o644)
		src := strings.Replace(mustRead(t, filepath.Join(e.posts, "2024-02-01-b.md")), `"B"`, `"B saved"`, 1)
		if err := os.WriteFile(tmp, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, filepath.Join(e.posts, "2024-02-01-b.md")); err != nil {
			t.Fatal(err)
		}
		expectOneScan(t, "atomic save", 2)
		if got := e.titles(); !equal(got, []string{"B saved", "A"}) {
			t.Errorf("feed %v", got)
		}
	})
	t.Run("ignored files", func(t *testing.T) {
		os.WriteFile(filepath.Join(e.posts, "notes.md~"), []byte("x"), 0o644)
		os.WriteFile(filepath.Join(e.posts, ".#lock"), []byte("x"), 0o644)
		select {
		case s := <-scans:
			t.Errorf("rescan for an ignored file (%d posts)", s.res.Posts)
		case <-time.After(d.debounce + 300*time.Millisecond):
		}
	})
	t.Run("new subfolder", func(t *testing.T) {
		sub := filepath.Join(e.posts, "2024")
		if err := os.Mkdir(sub, 0o755); err != nil {
			t.Fatal(err)
		}
		expectOneScan(t, "mkdir", 2)
		e.writePost("2024/2024-03-01-c.md", "C", "2024-03-01 10:00:00")
		expectOneScan(t, "file in new subfolder", 3)
	})
	t.Run("delete", func(t *testing.T) {
		os.Remove(filepath.Join(e.posts, "2024-01-01-a.md"))
		expectOneScan(t, "delete", 2)
	})
}

func mustRead(t *testing.T, file string) string {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWatcherMissingFolder: a posts folder missing at start is watched once
// it appears (ensure runs after every scan), and again after it is removed
// and recreated.
func TestWatcherMissingFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "posts")
	logs := &syncBuffer{}
	w, err := newWatcher(dir, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	if w.watching {
		t.Fatal("watching a missing folder")
	}
	if !strings.Contains(logs.String(), "cannot watch the posts folder") {
		t.Errorf("missing folder not logged: %s", logs)
	}
	event := func(what string) {
		t.Helper()
		select {
		case <-w.events:
		case <-time.After(5 * time.Second):
			t.Fatalf("%s: no event", what)
		}
	}
	for round := range 2 {
		if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
			t.Fatal(err)
		}
		w.ensure()
		event(fmt.Sprintf("round %d: folder appeared", round)) // files may have appeared unwatched
		os.WriteFile(filepath.Join(dir, "sub", "2024-01-01-a.md"), []byte("x"), 0o644)
		event(fmt.Sprintf("round %d: write in a subfolder", round))
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			w.mu.Lock()
			watching := w.watching
			w.mu.Unlock()
			if !watching {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("round %d: removal of the folder not noticed", round)
			}
			time.Sleep(time.Millisecond) // waiting for the watcher goroutine
		}
		for len(w.events) > 0 {
			<-w.events
		}
	}
}

func TestIgnored(t *testing.T) {
	for name, want := range map[string]bool{
		"2024-01-01-a.md": false, "notes": false, "4913": true, ".2024-01-01-a.md.swp": true,
		"a.md.swp": true, "a.md~": true, ".#a.md": true, "#a.md#": true, ".git": true,
	} {
		if got := ignored(name); got != want {
			t.Errorf("ignored(%q) = %v, want %v", name, got, want)
		}
	}
}

// flushAdvancing is d.Flush while the fake clock moves on whenever a timer
// waits on it: the WebSub retries back off on the daemon's clock.
func flushAdvancing(ctx context.Context, d *Daemon, clock *fakeClock) error {
	done := make(chan error, 1)
	go func() { done <- d.Flush(ctx) }()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err
		case <-tick.C:
			if clock.Timers() > 0 {
				clock.Advance(time.Minute)
			}
		}
	}
}
