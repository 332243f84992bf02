package schedule

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// get asks d's feed handler for /feed.xml, with If-Modified-Since ims
// when not zero.
func getFeed(t *testing.T, d *Daemon, ims time.Time) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest("GET", "/feed.xml", nil)
	if !ims.IsZero() {
		req.Header.Set("If-Modified-Since", ims.UTC().Format(http.TimeFormat))
	}
	rec := httptest.NewRecorder()
	d.opts.Handler.ServeHTTP(rec, req)
	return rec
}

// TestLastModifiedIsWhenTheFeedChanged: the feeds' Last-Modified is the
// time their bytes last changed, not the newest post's date: a back-dated
// post (or a typo fixed) moves it, so a client sending only
// If-Modified-Since gets the new feed, and a restart does not move it.
func TestLastModifiedIsWhenTheFeedChanged(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, "UTC")
	e.writePost("2024-05-01-a.md", "A", "2024-05-01 10:00:00")
	d, _ := e.daemon()
	if _, err := d.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	first := getFeed(t, d, time.Time{})
	lm, err := http.ParseTime(first.Header().Get("Last-Modified"))
	if err != nil || !lm.Equal(t0) {
		t.Fatalf("Last-Modified %q (%v), want the first scan's time %v", first.Header().Get("Last-Modified"), err, t0)
	}

	// Nothing changed: the same time, and 304 for a client that has it.
	e.clock.Advance(time.Hour)
	d.Wake()
	if _, err := d.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if rec := getFeed(t, d, lm); rec.Code != http.StatusNotModified {
		t.Errorf("unchanged feed: %d, want 304", rec.Code)
	}

	// A restart (a new daemon on the same database) keeps it.
	e.clock.Advance(time.Hour)
	d2, _ := e.daemon()
	if _, err := d2.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	if got := getFeed(t, d2, time.Time{}).Header().Get("Last-Modified"); got != first.Header().Get("Last-Modified") {
		t.Errorf("after a restart Last-Modified = %q, want %q", got, first.Header().Get("Last-Modified"))
	}

	// A back-dated post: older than the newest, but the bytes changed.
	e.clock.Advance(time.Hour)
	changedAt := e.clock.Now()
	e.writePost("2024-04-01-old.md", "Back-dated", "2024-04-01 10:00:00")
	if _, err := d2.Scan(ctx); err != nil {
		t.Fatal(err)
	}
	rec := getFeed(t, d2, lm)
	if rec.Code != http.StatusOK {
		t.Fatalf("after a back-dated post, If-Modified-Since the old time: %d, want 200", rec.Code)
	}
	if got, _ := http.ParseTime(rec.Header().Get("Last-Modified")); !got.Equal(changedAt.Truncate(time.Second)) {
		t.Errorf("Last-Modified %v, want the change's time %v", got, changedAt)
	}
}
